"""LLM captions: condense long texts into PAPERCLIP-style "objects; science use cases" captions
with guided generation (outlines), cached and resumable."""

from hubbleclip.captions.schema import CaptionSummary, format_caption, parse_caption, parse_output

__all__ = ["CaptionSummary", "format_caption", "parse_caption", "parse_output"]
