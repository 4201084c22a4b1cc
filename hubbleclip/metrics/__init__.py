"""Every metric of the package, with bootstrap intervals (numpy and scipy only, no models): ranking
and retrieval (``ranking``), graded relevance MAP/NDCG (``graded``), classification, image
similarity (``similarity``) and agreement between two binary raters (``agreement``).

The evaluation kernel: ``BootstrapConfig`` (settings), ``compare_systems`` (every system on the same
resamples, paired differences, a typed ``Comparison`` of ``Estimate``s) and ``render``
(``markdown_table``, ``comparison_table``, ``print_table``)."""

from hubbleclip.metrics.agreement import binary_agreement
from hubbleclip.metrics.bootstrap import (
    Estimate,
    bootstrap,
    bootstrap_difference,
    resample_indices,
)
from hubbleclip.metrics.classification import classification_columns, confusion_matrix, true_class_ranks
from hubbleclip.metrics.compare import Comparison, compare_systems
from hubbleclip.metrics.config import BootstrapConfig
from hubbleclip.metrics.graded import RELEVANT_GRADE, average_precision_at_k, ndcg_at_k, query_metrics
from hubbleclip.metrics.ranking import (
    accuracy_curve,
    chance_hit_rate,
    chance_mean_rank,
    first_relevant_ranks,
    fraction_cutoff,
    hits_at_fraction,
    in_batch_hits,
    relevance_from_keys,
)
from hubbleclip.metrics.render import comparison_table, markdown_table, print_table
from hubbleclip.metrics.similarity import galaxidnet_similarity, label_metrics, loose_accuracy

__all__ = [
    "RELEVANT_GRADE",
    "BootstrapConfig",
    "Comparison",
    "Estimate",
    "accuracy_curve",
    "average_precision_at_k",
    "binary_agreement",
    "bootstrap",
    "bootstrap_difference",
    "chance_hit_rate",
    "chance_mean_rank",
    "classification_columns",
    "compare_systems",
    "comparison_table",
    "confusion_matrix",
    "first_relevant_ranks",
    "fraction_cutoff",
    "galaxidnet_similarity",
    "hits_at_fraction",
    "in_batch_hits",
    "label_metrics",
    "loose_accuracy",
    "markdown_table",
    "ndcg_at_k",
    "print_table",
    "query_metrics",
    "relevance_from_keys",
    "resample_indices",
    "true_class_ranks",
]
