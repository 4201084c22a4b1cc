"""The ``results.json`` that ``hubbleclip evaluate/compare`` write (the demo and paper figures read it).

Layout (``schema_version`` 1); every number with an interval is ``{"value", "low", "high", "n"}``:
the statistic on the full sample of n units and its percentile bootstrap interval
(``settings.bootstrap``; files written before ``n`` was stored lack it)::

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
          chance: {"acc@k%", "R@k", "type_R@k", "mean_rank", "in_batch_top10": expected value
                   under a uniformly random ranking},
          metrics: {"acc@1%", "acc@5%", "acc@10%", "acc@20%", "acc@50%", "R@1", "R@5", "R@10",
                    "type_R@1", "type_R@5", "type_R@10",
                    "median_rank", "mean_rank", "in_batch_top10": {value, low, high, n}},
          not_applicable: {METRIC: reason}     # e.g. "acc@1%": "cut-off 0 of 67"; not in metrics
          curve: {percent: [...], accuracy: [...]},
          paper: {candidates, n_queries, n_candidates (both N pairs), chance, metrics,
                  not_applicable, curve}}}}}
      deltas: {NAME: {DIRECTION: {SUBSET: {METRIC: {value, low, high}}}}}   # paired bootstrap
      paper_deltas: the same for the paper blocks
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
at k% is PAPERCLIP's: the correct partner ranks within the top ⌊k/100·N⌋ of the N candidates;
where that cut-off is 0 the metric is listed in ``not_applicable`` instead of ``metrics``.
``in_batch_top10`` (ours): top-10 inside random full batches of 100 images, identical captions
merged (absent below 100 images).  Ranks are 1-based with ties counted against the query.

``paper`` holds PAPERCLIP's own quantities (``hubbleclip.metrics.pairs``): N image-caption
pairs, the own partner only (a caption shared by several pairs is that many tied candidates),
``R@k``, ``acc@k%`` and ranks over the full set, the image→text ``curve`` being the paper's
retrieved-fraction curve, and (text→image only) ``in_batch_top10``: top-10 of fixed batches of
100 pairs in the split's order, the last partial batch dropped (chance 0.1).  Files written before
``not_applicable``, ``paper`` and ``paper_deltas`` existed lack them.  The ``random`` model ranks by uniform
noise (the chance baseline).

Readers take the typed :class:`EvalResults` (``load_results`` or ``EvalResults.from_dict``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

from hubbleclip.errors import UserError
from hubbleclip.evaluation.config import RetrievalConfig, ZeroShotConfig
from hubbleclip.metrics import BootstrapConfig, Estimate

SCHEMA_VERSION = 1
RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"


def plain(value: Any) -> Any:
    """JSON-ready form of a results dataclass: nested dicts, fields that are None left out."""
    if isinstance(value, Estimate):
        return value.to_dict()
    if is_dataclass(value):
        pairs = ((f.name, getattr(value, f.name)) for f in fields(value))
        return {k: plain(v) for k, v in pairs if v is not None}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def estimates(d: dict) -> dict[str, Estimate]:
    """``{metric: Estimate}`` of ``{metric: {value, low, high[, n]}}``."""
    return {k: Estimate.from_dict(v) for k, v in d.items()}


@dataclass(frozen=True)
class Curve:
    percent: list[float]
    accuracy: list[float]


def _metric_order(name: str) -> tuple[int, float]:
    """acc@k% first by k, then the rest in the order they were written."""
    return (0, float(name[4:-1])) if name.startswith("acc@") else (1, 0.0)


@dataclass(frozen=True)
class RetrievalBlock:
    """One model, one direction, one subset: our metrics, or (as ``paper``) PAPERCLIP's."""

    candidates: str  # "pooled" | "same_source"
    n_queries: int
    n_candidates: int
    chance: dict[str, float]
    metrics: dict[str, Estimate]
    curve: Curve | None = None  # absent in cross-validation summaries
    not_applicable: dict[str, str] | None = None  # metric -> why it is not defined here
    paper: RetrievalBlock | None = None  # PAPERCLIP's pair-level metrics (files before it lack it)

    @property
    def same_source(self) -> bool:
        return self.candidates == "same_source"

    @property
    def metric_names(self) -> list[str]:
        """Every metric of the block, defined or not, in table order."""
        names = [*self.metrics, *(m for m in self.not_applicable or {} if m not in self.metrics)]
        return sorted(names, key=_metric_order)

    def format(self, metric: str, digits: int = 3) -> str:
        """``value [low, high]``, or ``n/a (cut-off 0 of 67)`` where the metric is not defined."""
        if metric in self.metrics:
            return self.metrics[metric].format(digits)
        reason = (self.not_applicable or {}).get(metric)
        return f"n/a ({reason})" if reason else "n/a"

    @classmethod
    def from_dict(cls, d: dict) -> RetrievalBlock:
        curve, paper = d.get("curve"), d.get("paper")
        return cls(
            d.get("candidates", "pooled"),
            d["n_queries"],
            d["n_candidates"],
            d["chance"],
            estimates(d["metrics"]),
            Curve(curve["percent"], curve["accuracy"]) if curve else None,
            d.get("not_applicable"),
            RetrievalBlock.from_dict({"candidates": d.get("candidates", "pooled"), **paper})
            if paper
            else None,
        )


Deltas = dict[str, dict[str, dict[str, Estimate]]]  # direction -> subset -> metric


@dataclass(frozen=True)
class RetrievalResults:
    models: dict[str, dict[str, dict[str, RetrievalBlock]]]  # model -> direction -> subset
    deltas: dict[str, Deltas]  # model != reference (and not random) -> paired difference
    paper_deltas: dict[str, Deltas] | None = None  # the same for the paper's metrics

    @property
    def names(self) -> list[str]:
        return list(self.models)

    def subsets(self, direction: str) -> dict[str, RetrievalBlock]:
        """The first model's blocks of ``direction`` by subset (counts and chance are the same for all)."""
        return next(iter(self.models.values()))[direction]

    def delta(
        self, name: str, direction: str, subset: str, metric: str, paper: bool = False
    ) -> Estimate | None:
        return self.delta_table(name, direction, subset, paper).get(metric)

    def delta_table(self, name: str, direction: str, subset: str, paper: bool = False) -> dict[str, Estimate]:
        """Every paired difference of ``name`` on one direction/subset (ours, or the paper's)."""
        deltas = (self.paper_deltas or {}) if paper else self.deltas
        return deltas.get(name, {}).get(direction, {}).get(subset, {})

    @classmethod
    def from_dict(cls, d: dict) -> RetrievalResults:
        def deltas(table: dict) -> dict[str, Deltas]:
            return {
                name: {
                    direction: {s: estimates(m) for s, m in per.items()} for direction, per in per_dir.items()
                }
                for name, per_dir in table.items()
            }

        return cls(
            {
                name: {
                    direction: {s: RetrievalBlock.from_dict(b) for s, b in per_subset.items()}
                    for direction, per_subset in per_dir.items()
                }
                for name, per_dir in d["models"].items()
            },
            deltas(d["deltas"]),
            deltas(d["paper_deltas"]) if "paper_deltas" in d else None,
        )


@dataclass(frozen=True)
class Confusion:
    labels: list[str]
    matrix: list[list[int]]  # true x predicted counts


@dataclass(frozen=True)
class ZeroShotModel:
    n_images: int
    n_unlabelled: int
    classes: list[str]
    n_classes_present: int
    chance: dict[str, float]
    metrics: dict[str, Estimate]
    confusion: Confusion

    @classmethod
    def from_dict(cls, d: dict) -> ZeroShotModel:
        return cls(
            d["n_images"],
            d["n_unlabelled"],
            d["classes"],
            d["n_classes_present"],
            d["chance"],
            estimates(d["metrics"]),
            Confusion(d["confusion"]["labels"], d["confusion"]["matrix"]),
        )


@dataclass(frozen=True)
class ZeroShotSet:
    source: str
    class_list: str
    n_templates: int
    models: dict[str, ZeroShotModel]
    deltas: dict[str, dict[str, Estimate]]

    @classmethod
    def from_dict(cls, d: dict) -> ZeroShotSet:
        return cls(
            d["source"],
            d["class_list"],
            d["n_templates"],
            {n: ZeroShotModel.from_dict(m) for n, m in d["models"].items()},
            {n: estimates(m) for n, m in d["deltas"].items()},
        )


@dataclass(frozen=True)
class DatasetInfo:
    path: str
    split: str
    fingerprint: str
    text_column: str
    n_images: int
    n_texts: int
    images_per_source: dict[str, int]
    texts_per_source: dict[str, int]


@dataclass(frozen=True)
class ModelInfo:
    spec: str
    path: str | None = None  # None for the random baseline
    fingerprint: str | None = None
    embed_dim: int | None = None
    logit_scale: float | None = None


@dataclass(frozen=True)
class Settings:
    retrieval: RetrievalConfig
    zero_shot: ZeroShotConfig
    bootstrap: BootstrapConfig

    @classmethod
    def from_dict(cls, d: dict) -> Settings:
        return cls(
            RetrievalConfig(**d["retrieval"]),
            ZeroShotConfig(**d["zero_shot"]),
            BootstrapConfig(**d["bootstrap"]),
        )


@dataclass(frozen=True)
class EvalResults:
    """A ``results.json`` (layout above); ``schema_version`` is checked on reading, written on writing."""

    created: str
    dataset: DatasetInfo
    settings: Settings
    reference: str
    models: dict[str, ModelInfo]
    retrieval: RetrievalResults | None = None
    zero_shot: dict[str, ZeroShotSet] | None = None

    def to_dict(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, **plain(self)}

    @classmethod
    def from_dict(cls, d: dict, where: str = "results") -> EvalResults:
        if d.get("schema_version") != SCHEMA_VERSION:
            raise UserError(f"{where}: schema_version {d.get('schema_version')!r}, expected {SCHEMA_VERSION}")
        try:
            return cls(
                d["created"],
                DatasetInfo(**d["dataset"]),
                Settings.from_dict(d["settings"]),
                d["reference"],
                {n: ModelInfo(**m) for n, m in d["models"].items()},
                RetrievalResults.from_dict(d["retrieval"]) if "retrieval" in d else None,
                {s: ZeroShotSet.from_dict(z) for s, z in d["zero_shot"].items()}
                if "zero_shot" in d
                else None,
            )
        except (KeyError, TypeError) as e:
            raise UserError(f"{where}: not a results.json of schema {SCHEMA_VERSION} ({e})") from None


def load_results(path: str | Path) -> EvalResults:
    """Read a ``results.json`` (or the directory holding one), checking its schema version."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_JSON
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (write one with `hubbleclip compare`)")
    return EvalResults.from_dict(json.loads(path.read_text(encoding="utf-8")), where=str(path))
