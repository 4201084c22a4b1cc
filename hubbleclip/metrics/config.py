"""Settings of every bootstrap interval in the package (torch-free, so configs load without models).

YAML configs spell them under ``bootstrap:`` with these three fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class BootstrapConfig:
    samples: int = field(default=1000, metadata={"help": "bootstrap resamples"})
    confidence: float = field(default=0.95, metadata={"help": "interval coverage"})
    seed: int = field(
        default=0,
        metadata={"help": "seed of resampling (evaluation also seeds batching and the random baseline)"},
    )
