"""Score the search on the query kinds astronomers type: the ranker alone against the resolver first.

    python eval/query_kinds.py --index runs/index --out runs/kinds

The queries come from :mod:`hubbleclip.search.query_kinds` (generated from the index's own
corpus).  Both systems answer every query in the same run with the same index and ranker:
``ranker_only`` is ``Searcher(understand=False)`` (BM25 + CLIP candidates ranked by the learned
ranker), ``resolver_first`` is ``hubbleclip search`` (the resolver stage, then the ranker).

Per query: **top-1** (the first hit has grade 5) and **MAP@k** (grades >= 4 relevant, against
all judged objects, as in the rerank job).  Per split and kind: means with percentile bootstrap
intervals over queries, and the paired difference resolver_first − ranker_only on the same
resamples (:func:`hubbleclip.metrics.compare.compare_systems`).  Also checked: every generated
query that is exactly a name or a designation has that object first (``exact_name_first``), and
the :data:`EXAMPLES` table.  ``RUN_DIR/results.json`` is a
:class:`~hubbleclip.search.kinds_results.KindsResults` (schema there).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from hubbleclip.io import atomic_write_json
from hubbleclip.metrics.compare import Comparison, compare_systems
from hubbleclip.metrics.graded import RELEVANT_GRADE, average_precision_at_k
from hubbleclip.metrics.render import markdown_table
from hubbleclip.runs import setup_run_dir
from hubbleclip.search.config import KindsConfig
from hubbleclip.search.kinds_results import RANKER_ONLY, RESOLVER_FIRST, SYSTEMS, KindsResults
from hubbleclip.search.queries import save_queries
from hubbleclip.search.query_kinds import KINDS, generate_kind_queries
from hubbleclip.search.searcher import Searcher
from hubbleclip.search.text import FAMILIES

log = logging.getLogger(__name__)
TOP1_TARGET = 0.95
# issue 18's kinds and issue 27's: names.dat names, genitive star names, ra=/dec= positions
TARGET_KINDS = ("designation", "typo", "coordinates", "common_name", "genitive", "key_value")
# the queries of issues 18 and 27, and the README's: (query, expected object ids, rule)
# rule "first": the first hit is one of them; "top5": all of them in the top 5;
# ("magnitude", types, constellation): the top 5 are the brightest such objects, in order
EXAMPLES = (
    ("andromda galaxy", ("NGC0224",), "first"),
    ("wirlpool galaxy", ("NGC5194",), "first"),
    ("messier 42", ("NGC1976",), "first"),
    ("triangulum galaxy", ("NGC0598",), "first"),
    ("10.684 41.269", ("NGC0224",), "first"),
    ("13 29 52.7 +47 11 43", ("NGC5194",), "first"),
    ("objects near M31", ("NGC0224", "NGC0221", "NGC0205"), "top5"),
    ("brightest galaxies", (), ("magnitude", FAMILIES["galaxy"], None)),
    ("galaxies near M81", ("NGC3034", "NGC3077"), "top5"),
    ("brightest globular clusters in Sagittarius", (), ("magnitude", ("globular cluster",), "Sagittarius")),
    ('type:"planetary nebula" con:Lyr mag<10', ("NGC6720",), "first"),
    ("l=121.17 b=-21.57", ("NGC0224",), "first"),
    ("UGC 454", ("NGC0224",), "first"),
    # issue 27: a names.dat name keyed by M 45 (OpenNGC files Mel 22), a genitive, ra= dec=
    ("seven sisters", ("Mel022",), "first"),
    ("epsilon Orionis", ("NGC1990", "star:Alnilam"), "first"),
    ("ra=13:29:52.7 dec=+47:11:43", ("NGC5194",), "first"),
)


def expected_ids(searcher, expect: tuple[str, ...], rule) -> tuple[str, ...]:
    if not isinstance(rule, tuple):
        return expect
    _, types, const = rule
    c = searcher.index.corpus
    rows = [
        i
        for i in range(len(c))
        if c.type[i] in types and (const is None or c.constellation[i] == const) and np.isfinite(c.mag[i])
    ]
    rows.sort(key=lambda i: (float(c.mag[i]), i))
    return tuple(c.object_id[i] for i in rows[:5])


def passed(top: list[str], expect: tuple[str, ...], rule) -> bool:
    if rule == "first":
        return bool(top) and top[0] in expect
    if rule == "top5":
        return set(expect) <= set(top[:5])
    return tuple(top[:5]) == expect


def _ranked_ids(searcher, text: str, understand: bool, k: int) -> tuple[np.ndarray, float]:
    searcher.understand = understand
    t0 = time.perf_counter()
    rows = searcher.rank_text(text).rows[:k]
    return rows, (time.perf_counter() - t0) * 1000.0


def _compare(rows: list[dict], cfg: KindsConfig) -> Comparison:
    columns = {
        s: {m: np.array([r["metrics"][s][m] for r in rows], float) for m in ("top1", f"map@{cfg.k}")}
        for s in SYSTEMS
    }
    return compare_systems(columns, bootstrap=cfg.bootstrap, reference=RANKER_ONLY)


def run_kinds(cfg: KindsConfig, searcher=None) -> KindsResults:
    run_dir = setup_run_dir(cfg.out, cfg)
    timings = {}
    t0 = time.time()
    searcher = searcher or Searcher.open(cfg.index, device=cfg.device)
    timings["load"] = time.time() - t0
    t0 = time.time()
    corpus = searcher.index.corpus
    queries = generate_kind_queries(corpus, searcher.resolver, cfg.per_kind, cfg.seed)
    save_queries(queries, run_dir / "queries.json", cfg.seed, "hubbleclip.search.query_kinds")
    timings["generate"] = time.time() - t0
    log.info("%d generated queries of %d kinds", len(queries), len(KINDS))

    t0 = time.time()
    per_query, violations, exact_checked = [], [], 0
    for q in queries:
        grades = np.ones(len(corpus), np.int8)
        for object_id, grade in q.judgments.items():
            grades[searcher.index.row_of[object_id]] = grade
        n_relevant = int((grades >= RELEVANT_GRADE).sum())
        kind, _, variant = q.kind.partition(":")
        record = {
            "id": q.id,
            "split": q.split,
            "kind": kind,
            "variant": variant,
            "query": q.text,
            "n_relevant": n_relevant,
            "metrics": {},
            "top": {},
        }
        for system in SYSTEMS:
            rows, ms = _ranked_ids(searcher, q.text, system == RESOLVER_FIRST, cfg.k)
            record["metrics"][system] = {
                "top1": float(len(rows) > 0 and grades[rows[0]] == 5),
                f"map@{cfg.k}": average_precision_at_k(grades[rows], n_relevant, cfg.k),
                "ms": round(ms, 3),
            }
            record["top"][system] = [corpus.object_id[i] for i in rows]
        exact = searcher.resolver.exact(q.text)
        if exact is not None:
            exact_checked += 1
            first = record["top"][RESOLVER_FIRST][:1]
            if not first or searcher.index.row_of[first[0]] not in exact.rows:
                violations.append({"id": q.id, "query": q.text, "first": first})
        per_query.append(record)
    timings["queries"] = time.time() - t0

    examples = []
    for text, expect, rule in EXAMPLES:
        expect = expected_ids(searcher, expect, rule)
        top = {
            system: [corpus.object_id[i] for i in _ranked_ids(searcher, text, system == RESOLVER_FIRST, 5)[0]]
            for system in SYSTEMS
        }
        examples.append(
            {
                "query": text,
                "expect": list(expect),
                "rule": rule if isinstance(rule, str) else "magnitude",
                "top": top,
                "passed": {system: passed(ids, expect, rule) for system, ids in top.items()},
            }
        )
    searcher.understand = True

    metrics, counts = {}, {}
    for split in ("train", "test"):
        metrics[split], counts[split] = {}, {}
        for kind in (*KINDS, "all"):
            rows = [r for r in per_query if r["split"] == split and kind in (r["kind"], "all")]
            counts[split][kind] = len(rows)
            metrics[split][kind] = _compare(rows, cfg) if rows else None
    test = metrics["test"]
    targets = {
        f"{kind}_heldout_top1_ge_{TOP1_TARGET}": bool(
            test[kind] and test[kind].estimates[RESOLVER_FIRST]["top1"].value >= TOP1_TARGET
        )
        for kind in TARGET_KINDS
    }
    targets["exact_name_first"] = not violations
    targets["examples_pass"] = all(e["passed"][RESOLVER_FIRST] for e in examples)
    results = KindsResults(
        index=str(searcher.index.path.resolve()),
        model_spec=searcher.index.model_spec,
        ranking=searcher.ranker_name,
        k=cfg.k,
        kinds=[*KINDS, "all"],
        counts=counts,
        metrics=metrics,
        exact_name_first={"queries": exact_checked, "violations": violations},
        examples=examples,
        per_query=per_query,
        targets=targets,
        timings_s={key: round(v, 2) for key, v in timings.items()},
    )
    atomic_write_json(run_dir / "results.json", results.to_dict())
    return results


def format_summary(results: KindsResults, split: str = "test") -> str:
    k = results.k
    metrics = ("top1", f"map@{k}")
    rows = [
        [kind, str(results.counts[split][kind])]
        + [c.estimates[s][m].format() for m in metrics for s in SYSTEMS]
        + [c.differences[RESOLVER_FIRST][m].format() for m in metrics]
        for kind in results.kinds
        if (c := results.metrics[split][kind])
    ]
    header = [
        "kind",
        "n",
        *(f"{m} {s}" for m in metrics for s in SYSTEMS),
        *(f"{m} difference" for m in metrics),
    ]
    e = results.exact_name_first
    lines = [
        f"{split} split: top-1 and MAP@{k} with bootstrap intervals; {RANKER_ONLY}: the learned ranker "
        f"alone, {RESOLVER_FIRST}: the resolver stage first; difference: {RESOLVER_FIRST} − {RANKER_ONLY}",
        "",
        markdown_table(header, rows),
        "",
        f"exact name first: {e['queries'] - len(e['violations'])}/{e['queries']} queries",
    ]
    for row in results.examples:
        top = row["top"]
        lines.append(
            f"  {'ok ' if row['passed'][RESOLVER_FIRST] else 'BAD'} {row['query']!r}: "
            f"{RESOLVER_FIRST} {top[RESOLVER_FIRST][:5]}, {RANKER_ONLY} {top[RANKER_ONLY][:3]}"
        )
    lines.append(f"targets: {results.targets}")
    return "\n".join(lines)
