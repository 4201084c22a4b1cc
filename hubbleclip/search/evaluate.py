"""Train the reranker and compare it with the baselines (the job behind ``eval/rerank.py``).

Queries:
* text queries from the graded query file; ``split: train`` ones train the ranker, ``test`` ones
  are held out;
* image queries: each imaged Stellarium object, and ``image_queries_first`` FIRST radio galaxies
  per split, queried with a rotated (k·90°), possibly flipped, 80-95 % crop of its own image;
  graded with the relevance rule of :mod:`hubbleclip.search.relevance`.  Objects in the
  skyset's test split are held out, train/val ones train the ranker.

Systems, each scored with MAP@k (grades >= 4 relevant) and NDCG@k against all judged objects:
``random`` (mean of ``shuffles`` random orderings of the candidate set), ``bm25`` (BM25 names +
BM25 text over the whole corpus; text queries only), ``clip`` (best of CLIP query-object text and
query-object image similarity over the whole corpus) and ``learned`` (the LGBMRanker over the
candidate set, gathered as a search does: ``--ann approximate`` evaluates faiss IVF candidates).

``RUN_DIR/results.json`` (read by the demo and the paper figures)::

    {"format": "hubbleclip-rerank-results", "version": 2,
     "index": str, "model_spec": str, "dataset_fingerprint": str, "queries_file": str,
     "k": 10, "relevant_grade": 4, "systems": ["random", "bm25", "clip", "learned"],
     "groups": ["name", "descriptive", "text", "image"],       # text = name + descriptive
     "counts": {split: {group: n_queries}},                     # split: "train" | "test"
     "metrics": {split: {group: {system: {"map@10": float, "ndcg@10": float} | null}}},
     "intervals": {split: {group: {system: {"map@10": EST, "ndcg@10": EST} | null}}},
     "differences": {split: {group: {"learned-<system>": {"map@10": EST, "ndcg@10": EST}}}},
     "bootstrap": {"samples": int, "confidence": float, "seed": int},
     "per_query": [{"id", "split", "group", "kind", "query", "n_relevant",
                    "metrics": {system: {"map@10", "ndcg@10"} | null},
                    "top_learned": [object_id, ...]}],           # first k of the learned ranking
     "ranker": {"path": str, "n_estimators": int, "cv_ndcg@10": {...}, ...},
     "targets": {"learned_beats_bm25_heldout_text": bool, "learned_beats_clip_heldout_image": bool},
     "timings_s": {...}}

``EST`` is ``{"value", "low", "high", "n"}`` (``Estimate.to_dict``; files written before ``n``
was stored lack it): the mean over the group's ``n`` queries with a percentile bootstrap interval
over queries; ``differences`` are paired (learned minus the other system on the
same resampled queries).  A target is true when the paired interval of learned − BM25 (held-out
text) or learned − CLIP (held-out image) lies above 0 for both MAP and NDCG.  ``null`` marks a
system that does not apply (BM25 for image queries).
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hubbleclip.data.load import load_dataset_dict
from hubbleclip.io import atomic_write_json
from hubbleclip.metrics.bootstrap import Estimate, resample_indices
from hubbleclip.metrics.compare import compare_systems
from hubbleclip.metrics.graded import RELEVANT_GRADE, query_metrics, random_baseline
from hubbleclip.metrics.render import markdown_table
from hubbleclip.runs import MetricsLog, setup_run_dir
from hubbleclip.search.config import CandidateConfig, RerankConfig
from hubbleclip.search.features import Query
from hubbleclip.search.queries import default_queries_path, load_queries
from hubbleclip.search.ranker import train_ranker
from hubbleclip.search.relevance import image_query_grades
from hubbleclip.search.searcher import RANKER_DIR, Searcher

log = logging.getLogger(__name__)
SYSTEMS = ("random", "bm25", "clip", "learned")
GROUPS = ("name", "descriptive", "text", "image")


@dataclass
class EvalQuery:
    id: str
    split: str  # train | test
    group: str  # name | descriptive | image
    kind: str  # text-query kind, or the image's source
    text: str  # the query text, or the image's dataset row id
    grades: np.ndarray  # grade (1-5) of every corpus object
    query: Query


def augmented(image, seed: int):
    """A rotated (k·90°), maybe mirrored, 80-95 % crop of ``image``: a new view of the same object."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    image = image.convert("RGB")
    k = int(rng.integers(4))
    if k:
        image = image.transpose(
            (Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270)[k - 1]
        )
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    w, h = image.size
    frac = rng.uniform(0.8, 0.95)
    cw, ch = max(1, int(w * frac)), max(1, int(h * frac))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return image.crop((x0, y0, x0 + cw, y0 + ch))


def _seed(text: str, seed: int) -> int:
    return zlib.crc32(text.encode()) ^ seed


def text_eval_queries(searcher, queries) -> list[EvalQuery]:
    index, out = searcher.index, []
    for q in queries:
        grades = np.ones(len(index), np.int8)
        for object_id, grade in q.judgments.items():
            if object_id in index.row_of:
                grades[index.row_of[object_id]] = grade
        out.append(
            EvalQuery(q.id, q.split, q.group, q.kind, q.text, grades, searcher.text(q.text, baselines=True))
        )
    return out


def image_eval_queries(searcher, cfg: RerankConfig) -> list[EvalQuery]:
    index, corpus = searcher.index, searcher.index.corpus
    dsd = load_dataset_dict(index.dataset_path)
    xyz = np.asarray(index.xyz, float)
    chosen: list[int] = []
    rng = np.random.default_rng(cfg.seed)
    for split_group in (("train", "val"), ("test",)):
        objs = [
            i
            for i, rows in enumerate(corpus.image_rows)
            if rows and corpus.split[i] in split_group and np.isfinite(corpus.ra_deg[i])
        ]
        chosen += [i for i in objs if corpus.source[i] in ("stellarium", "openngc")]
        first = [i for i in objs if corpus.source[i] == "first"]
        chosen += sorted(rng.choice(first, min(cfg.image_queries_first, len(first)), replace=False).tolist())
    out = []
    for i in chosen:
        split, row = corpus.image_rows[i][0]
        image_id = corpus.image_ids[i][0]
        image = augmented(dsd[split][row]["image"], _seed(image_id, cfg.seed))
        grades = image_query_grades(corpus.type, corpus.mag, xyz, i)
        out.append(
            EvalQuery(
                f"image-{image_id}",
                "test" if corpus.split[i] == "test" else "train",
                "image",
                corpus.source[i],
                image_id,
                grades,
                searcher.image(image, baselines=True),
            )
        )
    return out


def system_rankings(q: EvalQuery, ranker, k: int) -> dict[str, np.ndarray | None]:
    """First k object indices of each system (random is handled separately)."""
    out = {
        "bm25": None if q.query.bm25 is None else np.argsort(-q.query.bm25, kind="stable")[:k],
        "clip": np.argsort(-np.nan_to_num(q.query.clip, nan=-np.inf), kind="stable")[:k],
    }
    scores = ranker.score(q.query.features)
    out["learned"] = q.query.candidates[np.argsort(-scores, kind="stable")][:k]
    return out


def score_query(q: EvalQuery, ranker, cfg: RerankConfig) -> tuple[dict, list[int]]:
    metrics = {
        "random": random_baseline(
            q.grades[q.query.candidates], q.grades, cfg.k, cfg.shuffles, _seed(q.id, cfg.seed)
        )
    }
    rankings = system_rankings(q, ranker, cfg.k)
    for name, ranking in rankings.items():
        metrics[name] = None if ranking is None else query_metrics(q.grades[ranking], q.grades, cfg.k)
    return metrics, rankings["learned"].tolist()


def _columns(rows: list[dict], system: str, k: int) -> dict[str, np.ndarray]:
    return {m: np.array([r["metrics"][system][m] for r in rows]) for m in (f"map@{k}", f"ndcg@{k}")}


def _aggregate(rows: list[dict], cfg: RerankConfig) -> tuple[dict, dict, dict]:
    """Means, bootstrap intervals and paired learned − other differences of one group's queries."""
    columns = {s: _columns(rows, s, cfg.k) for s in SYSTEMS if all(r["metrics"][s] is not None for r in rows)}
    # one comparison per baseline, as its reference, so each difference reads learned − baseline;
    # the shared resamples keep every interval paired
    idx = resample_indices(len(rows), cfg.bootstrap.samples, cfg.bootstrap.seed)
    comparisons = {
        s: compare_systems(
            {s: cols, "learned": columns["learned"]}, bootstrap=cfg.bootstrap, reference=s, indices=idx
        )
        for s, cols in columns.items()
        if s != "learned"
    }
    estimates = {s: e for c in comparisons.values() for s, e in c.estimates.items()}
    intervals = {
        s: {m: e.to_dict() for m, e in estimates[s].items()} if s in columns else None for s in SYSTEMS
    }
    means = {s: {m: e.value for m, e in estimates[s].items()} if s in columns else None for s in SYSTEMS}
    differences = {
        f"learned-{s}": {m: e.to_dict() for m, e in c.differences["learned"].items()}
        for s, c in comparisons.items()
    }
    return means, intervals, differences


def training_rows(queries: list[EvalQuery]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.concatenate([q.query.features for q in queries])
    grades = np.concatenate([q.grades[q.query.candidates] for q in queries])
    qid = np.concatenate([np.full(len(q.query.candidates), n) for n, q in enumerate(queries)])
    return X, grades, qid


def run_rerank(cfg: RerankConfig, encoder=None) -> dict:
    run_dir = setup_run_dir(cfg.out, cfg)
    metrics_log = MetricsLog(run_dir / "metrics.jsonl")
    timings = {}
    t0 = time.time()
    candidates = CandidateConfig(dense=cfg.candidates, bm25=cfg.candidates, ann=cfg.ann)
    searcher = Searcher.open(cfg.index, device=cfg.device, encoder=encoder, candidates=candidates)
    searcher.ranker = None
    queries_file = cfg.queries or str(default_queries_path())
    text_queries = load_queries(queries_file)
    timings["load"] = time.time() - t0
    t0 = time.time()
    evals = text_eval_queries(searcher, text_queries)
    timings["text_queries"] = time.time() - t0
    t0 = time.time()
    evals += image_eval_queries(searcher, cfg)
    timings["image_queries"] = time.time() - t0
    train = [q for q in evals if q.split == "train"]
    log.info("%d queries (%d for training)", len(evals), len(train))
    t0 = time.time()
    ranker = train_ranker(*training_rows(train), cfg.ranker)
    timings["train_ranker"] = time.time() - t0
    ranker.save(run_dir / RANKER_DIR)
    if cfg.install:
        ranker.save(Path(cfg.index) / RANKER_DIR)
    metrics_log.log(event="ranker", **{k: v for k, v in ranker.meta.items() if k != "created"})

    per_query = []
    for q in evals:
        metrics, top = score_query(q, ranker, cfg)
        per_query.append(
            {
                "id": q.id,
                "split": q.split,
                "group": q.group,
                "kind": q.kind,
                "query": q.text,
                "n_relevant": int((q.grades >= RELEVANT_GRADE).sum()),
                "metrics": metrics,
                "top_learned": [searcher.index.corpus.object_id[i] for i in top],
            }
        )
    results_metrics, intervals, differences, counts = {}, {}, {}, {}
    for split in ("train", "test"):
        results_metrics[split], intervals[split], differences[split], counts[split] = {}, {}, {}, {}
        for group in GROUPS:
            rows = [
                r
                for r in per_query
                if r["split"] == split
                and (r["group"] == group or (group == "text" and r["group"] != "image"))
            ]
            counts[split][group] = len(rows)
            results_metrics[split][group], intervals[split][group], differences[split][group] = (
                _aggregate(rows, cfg) if rows else (None, None, None)
            )
            if rows:
                metrics_log.log(
                    event="metrics",
                    split=split,
                    group=group,
                    **{
                        f"{s}_{m}": v
                        for s, ms in results_metrics[split][group].items()
                        if ms
                        for m, v in ms.items()
                    },
                )
    k = cfg.k

    def beats(group: str, other: str) -> bool:
        diff = (differences["test"].get(group) or {}).get(f"learned-{other}")
        return bool(diff) and all(diff[m]["low"] > 0 for m in (f"map@{k}", f"ndcg@{k}"))

    results = {
        "format": "hubbleclip-rerank-results",
        "version": 2,
        "index": str(Path(cfg.index).resolve()),
        "model_spec": searcher.index.model_spec,
        "dataset_fingerprint": searcher.index.manifest["dataset_fingerprint"],
        "queries_file": queries_file,
        "k": k,
        "relevant_grade": RELEVANT_GRADE,
        "systems": list(SYSTEMS),
        "groups": list(GROUPS),
        "counts": counts,
        "metrics": results_metrics,
        "intervals": intervals,
        "differences": differences,
        "bootstrap": asdict(cfg.bootstrap),
        "per_query": per_query,
        "ranker": {"path": str((run_dir / RANKER_DIR).resolve()), **ranker.meta},
        "targets": {
            "learned_beats_bm25_heldout_text": beats("text", "bm25"),
            "learned_beats_clip_heldout_image": beats("image", "clip"),
        },
        "timings_s": {key: round(v, 2) for key, v in timings.items()},
    }
    atomic_write_json(run_dir / "results.json", results)
    return results


def format_summary(results: dict) -> str:
    """Held-out and training means per group and system, then the held-out intervals and differences."""
    k, systems = results["k"], results["systems"]
    metrics = (f"map@{k}", f"ndcg@{k}")
    means = [
        [split, group, str(results["counts"][split][group])]
        + [f"{m[s][metrics[0]]:.3f}/{m[s][metrics[1]]:.3f}" if m[s] else "n/a" for s in systems]
        for split in ("test", "train")
        for group in results["groups"]
        if (m := results["metrics"][split][group])
    ]
    intervals = [
        [group, name, *(Estimate.from_dict(est[m]).format() for m in metrics)]
        for group in results["groups"]
        if (entries := results["intervals"]["test"][group])
        for name, est in [*entries.items(), *results["differences"]["test"][group].items()]
        if est
    ]
    conf = round(100 * results["bootstrap"]["confidence"])
    return "\n\n".join(
        [
            f"MAP@{k}/NDCG@{k} per split and query group:",
            markdown_table(["split", "group", "n", *systems], means),
            f"held-out, {conf}% bootstrap intervals over queries:",
            markdown_table(["group", "system", f"MAP@{k}", f"NDCG@{k}"], intervals),
            f"targets (paired interval above 0): {results['targets']}",
        ]
    )
