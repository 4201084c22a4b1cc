"""Every metric of the package, with bootstrap intervals (numpy and scipy only, no models): ranking
and retrieval (``ranking``; PAPERCLIP's pair-level definitions in ``pairs``; scores served in blocks
by ``scores``), graded relevance MAP/NDCG (``graded``), classification, image
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
from hubbleclip.metrics.pairs import pair_ranks, paper_in_batch_hits
from hubbleclip.metrics.ranking import (
    TIE_TOLERANCE,
    InBatchHits,
    accuracy_curve,
    chance_hit_rate,
    chance_mean_rank,
    cutoff_reason,
    first_relevant_ranks,
    fraction_cutoff,
    hits_at_fraction,
    in_batch_hits,
    own_partner_ranks,
    relevance_from_keys,
    relevant_ranks,
)
from hubbleclip.metrics.render import comparison_table, markdown_table, print_table
from hubbleclip.metrics.scores import EmbeddingScores, MatrixScores, Scores, as_scores, row_blocks
from hubbleclip.metrics.similarity import galaxidnet_similarity, label_metrics, loose_accuracy

__all__ = [
    "RELEVANT_GRADE",
    "TIE_TOLERANCE",
    "BootstrapConfig",
    "Comparison",
    "EmbeddingScores",
    "Estimate",
    "InBatchHits",
    "MatrixScores",
    "Scores",
    "accuracy_curve",
    "as_scores",
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
    "cutoff_reason",
    "first_relevant_ranks",
    "fraction_cutoff",
    "galaxidnet_similarity",
    "hits_at_fraction",
    "in_batch_hits",
    "label_metrics",
    "loose_accuracy",
    "markdown_table",
    "ndcg_at_k",
    "own_partner_ranks",
    "pair_ranks",
    "paper_in_batch_hits",
    "print_table",
    "query_metrics",
    "relevance_from_keys",
    "relevant_ranks",
    "resample_indices",
    "row_blocks",
    "true_class_ranks",
]
