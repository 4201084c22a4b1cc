"""Quality report for captions: schema validity, list sizes, CLIP token budget, grounding."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from hubbleclip.captions.grounding import grounded_fraction
from hubbleclip.captions.schema import format_caption, parse_caption
from hubbleclip.captions.tokens import fits_clip


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def caption_quality(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Metrics over (source text, caption) pairs.

    ``schema_valid_rate``: the caption reads back into the schema unchanged (1-5 lowercase items
    per list, no instrument names, generic words or duplicates).  ``grounded_*``: share of caption
    keywords found in the source text (stemmed, or through an astronomy synonym).
    """
    pairs = list(pairs)
    valid, n_objects, n_uses, fits, words = 0, [], [], 0, []
    grounded, grounded_objects, grounded_uses = [], [], []
    for text, caption in pairs:
        fits += fits_clip(caption)
        words.append(len(caption.replace(";", " ").replace(",", " ").split()))
        g = grounded_fraction(caption, text)
        if g is not None:
            grounded.append(g)
        try:
            summary = parse_caption(caption)
        except ValueError:
            continue
        if format_caption(summary) != caption:
            continue  # something was dropped on reading: not valid as written
        valid += 1
        n_objects.append(len(summary.objects_and_phenomena))
        n_uses.append(len(summary.science_use_cases))
        for items, out in (
            (summary.objects_and_phenomena, grounded_objects),
            (summary.science_use_cases, grounded_uses),
        ):
            g = grounded_fraction(" ".join(items), text)
            if g is not None:
                out.append(g)
    n = len(pairs)
    return {
        "captions": n,
        "schema_valid_rate": round(valid / n, 4) if n else None,
        "mean_objects_and_phenomena": _mean(n_objects),
        "mean_science_use_cases": _mean(n_uses),
        "within_clip_77_tokens": round(fits / n, 4) if n else None,
        "mean_words": _mean(words),
        "grounded_keywords": _mean(grounded),
        "grounded_objects": _mean(grounded_objects),
        "grounded_use_cases": _mean(grounded_uses),
    }


def generation_stats(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """From cache records: how often the LLM's JSON passed on the first try, and after retries."""
    records = list(records)
    n = len(records)
    ok = [r for r in records if r["status"] == "ok"]
    return {
        "records": n,
        "valid_rate": round(len(ok) / n, 4) if n else None,
        "valid_first_try_rate": round(sum(r["attempts"] == 1 for r in ok) / n, 4) if n else None,
        "failed": n - len(ok),
        "mean_attempts": _mean([r["attempts"] for r in records]),
        "mean_seconds_per_caption": _mean([r["seconds"] for r in records if r.get("seconds") is not None]),
    }
