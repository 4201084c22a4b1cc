"""``RUN_DIR/results.json`` of the query-kinds evaluation (:mod:`hubbleclip.search.kinds_eval`) as a
typed object, readable without loading the search (the report and figures read it).

Version 2::

    {"format": "hubbleclip-kinds-results", "version": 2, "index", "model_spec", "ranking", "k",
     "systems": ["ranker_only", "resolver_first"], "kinds": [...], "counts": {split: {kind: n}},
     "metrics": {split: {kind: COMPARISON | null}},
     "exact_name_first": {"queries": n, "violations": [{"id", "query", "first"}]},
     "examples": [{"query", "expect", "rule", "top": {system: [ids]}, "passed": {system: bool}}],
     "per_query": [{"id", "split", "kind", "variant", "query", "n_relevant",
                    "metrics": {system: {"top1", "map@10", "ms"}}, "top": {system: [ids]}}],
     "targets": {...}, "timings_s": {...}}

``COMPARISON`` is :meth:`hubbleclip.metrics.compare.Comparison.to_dict` of the metrics ``top1`` and
``map@10``, reference ``ranker_only``: the difference is resolver_first − ranker_only.  Kind
``all`` pools every kind.  Version 1 named the systems ``today`` (now ``ranker_only``) and ``new``
(now ``resolver_first``), kept each example's ranked ids under the system's name and the difference
under ``new_minus_today``; :meth:`KindsResults.from_dict` reads it as version 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubbleclip.errors import UserError
from hubbleclip.io import read_json
from hubbleclip.metrics.bootstrap import Estimate
from hubbleclip.metrics.compare import Comparison

FORMAT, VERSION = "hubbleclip-kinds-results", 2
# the learned ranker over BM25 + CLIP candidates (``Searcher(understand=False)``), and the search
# with its resolver stage (names, positions, "near X", brightness, fields) before the ranker
RANKER_ONLY, RESOLVER_FIRST = "ranker_only", "resolver_first"
SYSTEMS = (RANKER_ONLY, RESOLVER_FIRST)
_V1_NAMES = {"today": RANKER_ONLY, "new": RESOLVER_FIRST}


@dataclass
class KindsResults:
    index: str
    model_spec: str
    ranking: str  # the ranker's name (Searcher.ranker_name)
    k: int
    kinds: list[str]
    counts: dict[str, dict[str, int]]  # split -> kind -> queries
    metrics: dict[str, dict[str, Comparison | None]]  # split -> kind -> comparison
    exact_name_first: dict[str, Any]  # {"queries": n, "violations": [...]}
    examples: list[dict[str, Any]]
    per_query: list[dict[str, Any]]
    targets: dict[str, bool]
    timings_s: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "index": self.index,
            "model_spec": self.model_spec,
            "ranking": self.ranking,
            "k": self.k,
            "systems": list(SYSTEMS),
            "kinds": self.kinds,
            "counts": self.counts,
            "metrics": {
                split: {kind: None if c is None else c.to_dict() for kind, c in kinds.items()}
                for split, kinds in self.metrics.items()
            },
            "exact_name_first": self.exact_name_first,
            "examples": self.examples,
            "per_query": self.per_query,
            "targets": self.targets,
            "timings_s": self.timings_s,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> KindsResults:
        if d.get("format") != FORMAT or d.get("version") not in (1, VERSION):
            raise UserError(
                f"query-kinds results: expected format {FORMAT!r} version 1 or {VERSION}, "
                f"got {d.get('format')!r} version {d.get('version')!r}"
            )
        try:
            return cls._from_v1(d) if d["version"] == 1 else cls._from_v2(d)
        except KeyError as e:
            raise UserError(f"query-kinds results: missing field {e.args[0]!r}") from None

    @classmethod
    def _from_v2(cls, d: Mapping[str, Any]) -> KindsResults:
        return cls(
            index=d["index"],
            model_spec=d["model_spec"],
            ranking=d["ranking"],
            k=d["k"],
            kinds=d["kinds"],
            counts=d["counts"],
            metrics={
                split: {kind: None if c is None else Comparison.from_dict(c) for kind, c in kinds.items()}
                for split, kinds in d["metrics"].items()
            },
            exact_name_first=d["exact_name_first"],
            examples=d["examples"],
            per_query=d["per_query"],
            targets=d["targets"],
            timings_s=d["timings_s"],
        )

    @classmethod
    def _from_v1(cls, d: Mapping[str, Any]) -> KindsResults:
        def renamed(by_system: Mapping[str, Any]) -> dict[str, Any]:
            return {_V1_NAMES[s]: v for s, v in by_system.items()}

        def comparison(split: str, kind: str, m: Mapping[str, Any] | None) -> Comparison | None:
            if m is None:
                return None
            table = {
                s: {metric: Estimate.from_dict(e) for metric, e in m[s].items()} for s in ("today", "new")
            }
            difference = {metric: Estimate.from_dict(e) for metric, e in m["new_minus_today"].items()}
            return Comparison(
                RANKER_ONLY, d["counts"][split][kind], renamed(table), {RESOLVER_FIRST: difference}
            )

        examples = [
            {
                "query": e["query"],
                "expect": e["expect"],
                "rule": e["rule"],
                "top": {_V1_NAMES[s]: e[s] for s in ("today", "new")},
                "passed": renamed(e["passed"]),
            }
            for e in d["examples"]
        ]
        per_query = [
            {**q, "metrics": renamed(q["metrics"]), "top": renamed(q["top"])} for q in d["per_query"]
        ]
        return cls(
            index=d["index"],
            model_spec=d["model_spec"],
            ranking=d.get("ranking", ""),
            k=d["k"],
            kinds=d["kinds"],
            counts=d["counts"],
            metrics={
                split: {kind: comparison(split, kind, m) for kind, m in kinds.items()}
                for split, kinds in d["metrics"].items()
            },
            exact_name_first=d["exact_name_first"],
            examples=examples,
            per_query=per_query,
            targets=d["targets"],
            timings_s=d["timings_s"],
        )

    @classmethod
    def load(cls, path: str | Path) -> KindsResults:
        return cls.from_dict(read_json(Path(path)))
