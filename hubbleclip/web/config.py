"""Configuration of ``hubbleclip serve`` (typed, YAML + CLI overrides via hubbleclip.config)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Limits:
    max_upload_bytes: int = field(
        default=8 * 2**20, metadata={"help": "largest accepted upload, bytes (413 above)"}
    )
    max_pixels: int = field(
        default=40_000_000, metadata={"help": "largest accepted upload, width x height (413 above)"}
    )
    max_results: int = field(default=100, metadata={"help": "most results one search may ask for"})
    max_body_bytes: int = field(
        default=64 * 2**10, metadata={"help": "largest JSON request body, bytes (413 above)"}
    )
    max_decodes: int = field(
        default=2,
        metadata={
            "help": "uploads decoded and searched at once; each may hold a decoded image of up to "
            "max_pixels x 3 bytes and its copies (bounds the server's memory)"
        },
    )
    decode_queue: int = field(
        default=8, metadata={"help": "uploads that may wait for a decode slot (503 beyond)"}
    )
    decode_wait_s: float = field(
        default=10.0, metadata={"help": "longest wait for a decode slot, seconds (503 after)"}
    )
    thumb_size: int = field(default=256, metadata={"help": "longest side of thumbnails, pixels"})


@dataclass
class ServeConfig:
    index: str = field(default="", metadata={"help": "retrieval index directory (hubbleclip index build)"})
    similarity: str = field(
        default="",
        metadata={
            "help": "similarity index directory (hubbleclip similarity index); "
            "'' = the retrieval index's object image vectors"
        },
    )
    model: str = field(
        default="",
        metadata={"help": "the index's model from elsewhere ('' = the one in or named by the index)"},
    )
    host: str = field(default="127.0.0.1", metadata={"help": "address to bind (loopback by default)"})
    port: int = field(default=8000, metadata={"help": "TCP port"})
    device: str = field(default="cpu", metadata={"help": "torch device of the model"})
    tokens: str = field(
        default="",
        metadata={"help": "file of hashed bearer tokens (hubbleclip tokens add); '' = anonymous only"},
    )
    token_check_s: float = field(
        default=1.0,
        metadata={"help": "how often (at most) the token file is checked for changes, seconds"},
    )
    public_only: bool = field(
        default=False, metadata={"help": "serve public rows only and accept no tokens (true/false)"}
    )
    limits: Limits = field(default_factory=Limits)
