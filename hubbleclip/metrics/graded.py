"""Ranking metrics over graded judgments (grades 1-5): MAP@k (grades >= 4 relevant) and NDCG@k.

A ranked list is given as the grades of its items (unjudged items have grade 1, "not
relevant").  The ideal list and the number of relevant items come from *all* judged objects of
the query, not only from the retrieved ones, so a system is charged for what it never retrieves.
"""

from __future__ import annotations

import numpy as np

RELEVANT_GRADE = 4  # MAP counts grades >= 4 as relevant


def average_precision_at_k(
    ranked_grades, n_relevant: int, k: int = 10, threshold: int = RELEVANT_GRADE
) -> float:
    """AP@k = Σ_{i≤k} P@i·rel_i / min(R, k); 0 when the query has no relevant object."""
    if n_relevant <= 0:
        return 0.0
    rel = (np.asarray(ranked_grades[:k]) >= threshold).astype(float)
    precision = np.cumsum(rel) / np.arange(1, len(rel) + 1)
    return float((precision * rel).sum() / min(n_relevant, k))


def gains(grades) -> np.ndarray:
    """Exponential gain 2^(g−1) − 1: grade 1 counts 0, grade 5 counts 15."""
    return np.exp2(np.asarray(grades, float) - 1.0) - 1.0


def dcg_at_k(grades, k: int = 10) -> float:
    g = gains(np.asarray(grades)[:k])
    return float((g / np.log2(np.arange(2, len(g) + 2))).sum())


def ndcg_at_k(ranked_grades, all_grades, k: int = 10) -> float:
    """DCG@k of the ranking over DCG@k of the best possible ranking of every judged object."""
    ideal = dcg_at_k(np.sort(np.asarray(all_grades))[::-1], k)
    return dcg_at_k(ranked_grades, k) / ideal if ideal > 0 else 0.0


def query_metrics(ranked_grades, all_grades, k: int = 10) -> dict[str, float]:
    all_grades = np.asarray(all_grades)
    return {
        f"map@{k}": average_precision_at_k(ranked_grades, int((all_grades >= RELEVANT_GRADE).sum()), k),
        f"ndcg@{k}": ndcg_at_k(ranked_grades, all_grades, k),
    }


def random_baseline(
    candidate_grades, all_grades, k: int = 10, shuffles: int = 50, seed: int = 0
) -> dict[str, float]:
    """Mean metrics of ``shuffles`` random orderings of the candidate set."""
    rng = np.random.default_rng(seed)
    runs = [
        query_metrics(rng.permutation(np.asarray(candidate_grades)), all_grades, k) for _ in range(shuffles)
    ]
    return {key: float(np.mean([r[key] for r in runs])) for key in runs[0]}
