"""hubbleclip: CLIP-style models for astronomical images and text."""

__version__ = "0.1.0"
