"""Ranking, retrieval and classification metrics with bootstrap intervals (numpy only, no models)."""

from hubbleclip.metrics.bootstrap import Estimate, bootstrap, bootstrap_difference, resample_indices
from hubbleclip.metrics.classification import classification_columns, confusion_matrix, true_class_ranks
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

__all__ = [
    "Estimate",
    "accuracy_curve",
    "bootstrap",
    "bootstrap_difference",
    "chance_hit_rate",
    "chance_mean_rank",
    "classification_columns",
    "confusion_matrix",
    "first_relevant_ranks",
    "fraction_cutoff",
    "hits_at_fraction",
    "in_batch_hits",
    "relevance_from_keys",
    "resample_indices",
    "true_class_ranks",
]
