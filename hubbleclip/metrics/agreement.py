"""Agreement between two binary raters (an LLM judge and the catalog-derived relevance)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def binary_agreement(a: Sequence[bool], b: Sequence[bool]) -> dict[str, Any]:
    """Raw agreement, Cohen's κ (None when both raters are constant) and each rater's yes rate,
    plus how often ``a`` says yes where ``b`` says yes / no."""
    from sklearn.metrics import cohen_kappa_score

    a, b = np.asarray(a, bool), np.asarray(b, bool)
    kappa = float(cohen_kappa_score(a, b)) if len(set(a) | set(b)) > 1 else math.nan
    return {
        "pairs": len(a),
        "agreement": round(float((a == b).mean()), 4),
        "cohen_kappa": None if math.isnan(kappa) else round(kappa, 4),
        "judge_yes_rate": round(float(a.mean()), 4),
        "catalog_yes_rate": round(float(b.mean()), 4),
        "judge_yes_when_catalog_yes": round(float(a[b].mean()), 4) if b.any() else None,
        "judge_yes_when_catalog_no": round(float(a[~b].mean()), 4) if (~b).any() else None,
    }
