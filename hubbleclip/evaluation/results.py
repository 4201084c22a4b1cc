"""The ``results.json`` that ``hubbleclip evaluate/compare`` write (the demo and paper figures read it).

Layout (``schema_version`` 1); every number with an interval is ``{"value", "low", "high"}``:
the statistic on the full sample and its percentile bootstrap interval (``settings.bootstrap``)::

    schema_version: 1
    created: ISO-8601 UTC time
    dataset: {path, split, fingerprint, text_column, n_images, n_texts,
              images_per_source: {source: n}, texts_per_source: {source: n}}
    settings: {retrieval: {...}, zero_shot: {...}, bootstrap: {samples, confidence, seed}}
    reference: NAME                      # the first model; deltas are MODEL - reference
    models: {NAME: {spec, path, fingerprint, embed_dim, logit_scale}}   # "random": {spec: "random"}
    retrieval:                           # present when the retrieval task ran
      models: {NAME: {DIRECTION: {SUBSET: {
          candidates: "pooled" | "same_source", n_queries, n_candidates,
          chance: {"acc@k%", "R@k", "type_R@k", "mean_rank": expected value under a uniformly
                   random ranking},
          metrics: {"acc@1%", "acc@5%", "acc@10%", "acc@20%", "acc@50%", "R@1", "R@5", "R@10",
                    "type_R@1", "type_R@5", "type_R@10",
                    "median_rank", "mean_rank", "in_batch_top10": {value, low, high}},
          curve: {percent: [...], accuracy: [...]}}}}}
      deltas: {NAME: {DIRECTION: {SUBSET: {METRIC: {value, low, high}}}}}   # paired bootstrap
    zero_shot:                           # present when the zero-shot task ran
      SET: {source, class_list, n_templates,
            models: {NAME: {n_images, n_unlabelled, classes, n_classes_present,
                            chance: {top1, top5, balanced_accuracy},
                            metrics: {top1, top5, balanced_accuracy, "recall/<class>": {value, low, high}},
                            confusion: {labels: [...], matrix: [[true x predicted counts]]}}},
            deltas: {NAME: {METRIC: {value, low, high}}}}

DIRECTION is ``image_to_text`` or ``text_to_image``; SUBSET is ``all`` (pooled: every query
against the whole split) or a source name (same-source: that source's queries against that
source's candidates only).  ``R@k`` counts the own caption (or one of the same object);
``type_R@k`` any caption of an object of the same type (the class-level question).  Accuracy
at k% is PAPERCLIP's: the correct partner ranks within the top ⌊k/100·N⌋ of the N candidates.
Ranks are 1-based with ties counted against the query.  The ``random`` model ranks by uniform
noise (the chance baseline).
"""

from __future__ import annotations

import json
from pathlib import Path

from hubbleclip.errors import UserError
from hubbleclip.evaluation.report import render_markdown
from hubbleclip.io import atomic_write_json, atomic_write_text

SCHEMA_VERSION = 1
RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"


def load_results(path: str | Path) -> dict:
    """Read a ``results.json`` (or the directory holding one), checking its schema version."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_JSON
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (write one with `hubbleclip compare`)")
    results = json.loads(path.read_text(encoding="utf-8"))
    if results.get("schema_version") != SCHEMA_VERSION:
        raise UserError(
            f"{path}: schema_version {results.get('schema_version')!r}, expected {SCHEMA_VERSION}"
        )
    return results


def write_results(results: dict, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``results.json`` and the markdown tables ``results.md`` atomically into ``out_dir``."""
    out_dir = Path(out_dir)
    return (
        atomic_write_json(out_dir / RESULTS_JSON, results),
        atomic_write_text(out_dir / RESULTS_MD, render_markdown(results)),
    )
