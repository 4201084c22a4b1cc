"""Evaluation of CLIP-style models: retrieval both ways, zero-shot class ranking, model comparison.

``run_evaluation(EvalConfig)`` returns the dict documented in :mod:`hubbleclip.evaluation.results`;
``write_results`` stores it as ``results.json`` + ``results.md``; ``load_results`` reads it back typed
(``EvalResults``).
"""

from hubbleclip.evaluation.config import BootstrapConfig, EvalConfig, RetrievalConfig, ZeroShotConfig
from hubbleclip.lazy import lazy_attributes

__all__ = [
    "BootstrapConfig",
    "EvalConfig",
    "EvalResults",
    "RetrievalConfig",
    "ZeroShotConfig",
    "load_results",
    "run_evaluation",
    "write_results",
]
__getattr__ = lazy_attributes(
    __name__,
    {"EvalResults": "results", "load_results": "results", "write_results": "report", "run_evaluation": "job"},
)
