"""Datasets of astronomical images with text: sources, the offline "skyset" build, splits."""
