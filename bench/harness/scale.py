"""The cost curve (issue 26.7): each stage at each size, its time, peak RSS and growth exponent.

Every stage runs in a fresh process (multiprocessing ``spawn``), so its peak RSS
(``ru_maxrss``) is its own and not an earlier stage's; the imports' share is reported beside it
(``import_rss_mb``).  The stages read and write one work directory per size::

    WORK/<n>/synthetic/   the generator's output (bench.harness.synthetic)
    WORK/<n>/index/       the object search index built from those arrays
    WORK/<n>/pairs/       all-pairs top-k of the image vectors (automatic backend)
    WORK/<n>/pairs_uniform/  the same over uniform random vectors: the worst case, a second row

The slope of a stage is the least-squares slope of log(seconds) on log(size): 1 is linear
growth, 0 constant (search latency should stay near 0), 2 quadratic.
"""

from __future__ import annotations

import math
import multiprocessing
import queue as queue_module
import resource
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from hubbleclip.io import atomic_write_json

STAGES = (
    "synthetic",
    "embedding",
    "index",
    "search",
    "similar",
    "all_pairs",
    "all_pairs_uniform",
    "evaluation",
    "serve",
)
# the rows whose "seconds" is a latency of one query, not a stage's total
LATENCY_STAGES = ("search", "similar", "serve")
TEXT_QUERIES = (
    "spiral galaxy",
    "faint planetary nebula",
    "bright globular cluster in Hercules",
    "open clusters in Cassiopeia",
    "barred spiral galaxies in Virgo",
    "large elliptical galaxy",
    "emission nebula star formation",
    "galaxy pair interacting",
)


@dataclass
class ScaleConfig:
    sizes: tuple[int, ...] = (10_000, 100_000)
    work: str = "runs/bench-scale"
    seed: int = 0
    real_index: str = ""  # a retrieval index whose embeddings are jittered (else the mixture)
    model: str = "lit-mini"
    embed_cap: int = 2000  # object texts embedded; larger sizes are projected from the throughput
    queries: int = 300
    k: int = 100
    recall_queries: int = 1000
    eval_queries: int = 10_000  # queries a direction; larger sizes are projected (cost per query is flat)
    eval_chunk: int = 0  # queries per block of the evaluation (0: the evaluation chooses)
    stages: tuple[str, ...] = STAGES


@dataclass
class StageRun:
    """One stage at one size."""

    stage: str
    size: int
    seconds: float  # the stage's time; for search, the p50 latency of one query
    peak_rss_mb: float  # the stage's process at its peak, imports included
    import_rss_mb: float  # that process's peak before the stage began (interpreter and imports)
    extra: dict = field(default_factory=dict)  # p99, recall, throughput, projected, ...


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _child(name: str, kwargs: dict, queue) -> None:
    try:
        fn = globals()[f"stage_{name}"]
        before = _peak_rss_mb()
        extra = fn(**kwargs)
        queue.put(("ok", {"extra": extra, "peak_rss_mb": _peak_rss_mb(), "import_rss_mb": before}))
    except BaseException:  # any failure goes to the parent, traceback and all
        queue.put(("error", traceback.format_exc()))


def run_stage(name: str, size: int, **kwargs) -> StageRun:
    """``stage_<name>(**kwargs)`` in a fresh process; its dict must hold ``seconds``."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_child, args=(name, kwargs, queue))
    process.start()
    while True:  # a child killed outright (out of memory, a crash in native code) posts nothing
        try:
            status, payload = queue.get(timeout=5)
            break
        except queue_module.Empty:
            if not process.is_alive():
                status, payload = "error", f"the process died with exit code {process.exitcode}"
                break
    process.join()
    if status != "ok":
        raise RuntimeError(f"stage {name} at {size}: {payload}")
    extra = payload["extra"]
    return StageRun(
        name,
        size,
        float(extra.pop("seconds")),
        round(payload["peak_rss_mb"], 1),
        round(payload["import_rss_mb"], 1),
        extra,
    )


# -- the stages (each runs in its own process) --------------------------------------------------


def stage_synthetic(out: str, n: int, seed: int, real_index: str) -> dict:
    from .synthetic import build_synthetic

    t0 = time.perf_counter()
    build_synthetic(out, n, seed=seed, real_index=real_index or None, overwrite=True)
    return {"seconds": time.perf_counter() - t0}


def stage_embedding(synthetic: str, n: int, model: str, cap: int) -> dict:
    """Embed the first ``cap`` object texts; beyond that the time is projected from the throughput."""
    import pyarrow.parquet as pq

    from hubbleclip.models.embed import ClipEncoder

    table = pq.read_table(Path(synthetic) / "catalogue.parquet", columns=["names", "caption"])
    m = min(cap, n)
    texts = [f"{names[0]}: {caption}" for names, caption in zip(*table.slice(0, m).to_pydict().values())]
    encoder = ClipEncoder(model)
    encoder.embed_texts(texts[:64])  # warm-up: the first batch pays for lazy initialisation
    t0 = time.perf_counter()
    encoder.embed_texts(texts)
    measured = time.perf_counter() - t0
    rate = m / measured
    return {"seconds": n / rate, "projected": n > m, "embedded": m, "texts_per_s": round(rate, 1)}


def stage_index(synthetic: str, out: str, model: str) -> dict:
    t0 = time.perf_counter()
    steps = build_index_from_arrays(synthetic, out, model)
    return {"seconds": time.perf_counter() - t0, "steps_s": {k: round(v, 2) for k, v in steps.items()}}


def stage_search(index: str, queries: int, seed: int) -> dict:
    """p50/p99 latency of a mix of query kinds: free text, exact names, cones, fields, images."""
    from hubbleclip.search.searcher import Searcher

    t0 = time.perf_counter()
    searcher = Searcher.open(index)
    opened = time.perf_counter() - t0
    mix = query_mix(searcher.index, queries, seed)
    for kind, q in mix[:20]:  # warm-up: caches, lazy imports, the image tower's first call
        _ask(searcher, kind, q)
    latencies: dict[str, list[float]] = {}
    for kind, q in mix:
        t = time.perf_counter()
        _ask(searcher, kind, q)
        latencies.setdefault(kind, []).append(time.perf_counter() - t)
    every = np.concatenate([np.asarray(v) for v in latencies.values()])
    return {
        "seconds": float(np.percentile(every, 50)),
        "p99_s": float(np.percentile(every, 99)),
        "open_s": round(opened, 2),
        "by_kind_p50_ms": {
            k: round(float(np.percentile(v, 50)) * 1000, 2) for k, v in sorted(latencies.items())
        },
    }


def stage_similar(vectors: str, queries: int, seed: int) -> dict:
    """p50/p99 of one similar-images query (the query image alone) and of a refinement (the query
    plus two selected images), exact, over the memory-mapped image vectors."""
    from hubbleclip.similarity.refine import rank_similar

    emb = np.load(vectors, mmap_mode="r")
    rng = np.random.default_rng(seed)
    asks = [[int(i) for i in rng.integers(len(emb), size=1 + (j % 2) * 2)] for j in range(queries)]
    for examples in asks[:4]:  # warm-up: torch's first product, the memory map's first pages
        rank_similar(emb, examples, 24)
    latencies: dict[str, list[float]] = {"similar": [], "refine": []}
    for examples in asks:
        t = time.perf_counter()
        rank_similar(emb, examples, 24)
        latencies["refine" if len(examples) > 1 else "similar"].append(time.perf_counter() - t)
    every = np.concatenate([np.asarray(v) for v in latencies.values()])
    return {
        "seconds": float(np.percentile(every, 50)),
        "p99_s": float(np.percentile(every, 99)),
        "by_kind_p50_ms": {k: round(float(np.percentile(v, 50)) * 1000, 2) for k, v in latencies.items()},
    }


def stage_serve(index: str, queries: int, seed: int) -> dict:
    """``hubbleclip serve`` over the index: start-up time (until ``/api/info`` answers), the
    server's resident memory then and at its peak, and p50/p99 of ``/api/search`` over HTTP, one
    client at a time (the mix of free text, names, cones and fields of the search stage)."""
    import socket
    import subprocess
    import sys
    import urllib.parse
    import urllib.request

    from hubbleclip.search.searcher import Searcher

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mix = [q for kind, q in query_mix(Searcher.open(index).index, queries, seed) if kind != "image"]
    base = f"http://127.0.0.1:{port}"
    cli = "import sys; from hubbleclip.cli import main; sys.exit(main())"
    command = [sys.executable, "-c", cli, "serve", "--index", index, "--port", str(port)]
    t0 = time.perf_counter()
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"hubbleclip serve exited with {server.returncode} before answering")
            try:
                with urllib.request.urlopen(f"{base}/api/info", timeout=5):
                    break
            except OSError:
                time.sleep(0.2)
        started = time.perf_counter() - t0
        rss_started = _process_rss_mb(server.pid)
        get = lambda q: urllib.request.urlopen(  # noqa: E731 - one request, read to the end
            f"{base}/api/search?" + urllib.parse.urlencode({"q": q, "k": 24}), timeout=60
        ).read()
        for q in mix[:10]:
            get(q)
        latencies = []
        for q in mix:
            t = time.perf_counter()
            get(q)
            latencies.append(time.perf_counter() - t)
        peak = _process_rss_mb(server.pid, "VmHWM")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "seconds": float(np.percentile(latencies, 50)),
        "p99_s": float(np.percentile(latencies, 99)),
        "startup_s": round(started, 2),
        "server_rss_mb_started": rss_started,
        "server_rss_mb_peak": peak,
    }


def _process_rss_mb(pid: int, field_name: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"/proc/{pid}/status has no {field_name}")


def stage_all_pairs(vectors: str, out: str, k: int, recall_queries: int, seed: int) -> dict:
    emb = np.load(vectors, mmap_mode="r")
    t0 = time.perf_counter()
    meta = all_pairs_auto(emb, k, out, recall_queries, seed)
    return {
        "seconds": time.perf_counter() - t0,  # the recall measurement included
        "backend": meta["factory"] or meta["backend"],
        "recall": meta["recall_at_k"],
        "recall_queries": meta["recall_queries"],
        "nprobe": meta.get("nprobe"),
    }


def stage_evaluation(synthetic: str, chunk: int, queries: int = 10_000) -> dict:
    """Image->text and text->image ranks of the paired vectors against all N candidates, in
    blocks; beyond ``queries`` queries a direction the time is projected (every query costs the
    same: one block row against all N candidates)."""
    images = np.load(Path(synthetic) / "emb_image.npy", mmap_mode="r")
    texts = np.load(Path(synthetic) / "emb_text.npy", mmap_mode="r")
    n = len(images)
    t0 = time.perf_counter()
    ranks = evaluate_pairs(images, texts, chunk, queries)
    measured = time.perf_counter() - t0
    m = len(ranks["image_to_text"])
    return {
        "seconds": measured * n / m,
        "projected": m < n,
        "queries": m,
        **{f"{direction}_R@1": float((r == 1).mean()) for direction, r in ranks.items()},
    }


# -- the library calls the stages make, one function each --------------------------------------


def synthetic_corpus(synthetic: str | Path):
    """The generator's catalogue as a search :class:`~hubbleclip.search.corpus.Corpus` (every
    object public, with one picture id whose image vector stands for the picture)."""
    import pyarrow.parquet as pq

    from hubbleclip.search.corpus import Corpus

    cols = pq.read_table(Path(synthetic) / "catalogue.parquet").to_pydict()
    n = len(cols["object_id"])
    none = [[] for _ in range(n)]
    return Corpus(
        object_id=cols["object_id"],
        names=cols["names"],
        type=cols["type"],
        source=["synthetic"] * n,
        split=["test"] * n,
        ra_deg=np.asarray(cols["ra_deg"], float),
        dec_deg=np.asarray(cols["dec_deg"], float),
        mag=np.asarray(cols["mag"], float),
        size_arcmin=np.asarray(cols["size_arcmin"], float),
        constellation=cols["constellation"],
        text=cols["text"],
        caption=cols["caption"],
        identifiers=none,
        # one picture per object: its image vector stands for it (no pixels: thumbnails are absent)
        image_rows=[[("synthetic", i)] for i in range(n)],
        image_ids=[[f"{oid}-img"] for oid in cols["object_id"]],
        release_date=[None] * n,
        program_id=[None] * n,
    )


def build_index_from_arrays(synthetic: str | Path, out: str | Path, model: str) -> dict:
    """The object search index of the generator's catalogue and vectors (no model is run: the
    vectors stand for the embeddings); returns the manifest's seconds per build step."""
    from types import SimpleNamespace

    from hubbleclip.io import read_json
    from hubbleclip.search.index import MANIFEST, write_index

    synthetic = Path(synthetic)
    corpus = synthetic_corpus(synthetic)
    write_index(
        out,
        corpus,
        np.load(synthetic / "emb_text.npy", mmap_mode="r"),
        np.load(synthetic / "emb_image.npy", mmap_mode="r"),
        SimpleNamespace(spec=model),  # the query encoder: named, loaded once for its digest
        previews=lambda tmp: synthetic_previews(tmp, corpus),
        overwrite=True,
    )
    return read_json(Path(out) / MANIFEST).get("build_seconds", {})


def synthetic_previews(dest: Path, corpus) -> int:
    """One shared 8x8 grey JPEG as every object's preview, so the server answers as for real
    pictures (thumbnails included) while the index stays a few hundred bytes per object."""
    import io

    from PIL import Image

    from hubbleclip.indexes.previews import write_previews

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (90, 90, 90)).save(buffer, format="JPEG")
    records = [
        {"id": ids[0], "object_id": oid, "names": names, "type": kind, "source": "synthetic", "credit": ""}
        for ids, oid, names, kind in zip(corpus.image_ids, corpus.object_id, corpus.names, corpus.type)
    ]
    return write_previews(dest, records, (buffer.getvalue() for _ in records))


def all_pairs_auto(emb: np.ndarray, k: int, out: str | Path, recall_queries: int, seed: int) -> dict:
    """All-pairs top-``k`` with the automatic backend; its meta.json (backend, factory, recall@k
    against exact search on ``recall_queries`` sampled rows)."""
    from hubbleclip.similarity.neighbours import all_pairs_topk, load_all_pairs

    all_pairs_topk(emb, k, out, backend="auto", recall_queries=recall_queries, seed=seed, overwrite=True)
    return load_all_pairs(out)[2]


def evaluate_pairs(images: np.ndarray, texts: np.ndarray, chunk: int, queries: int = 0) -> dict:
    """The ranks the evaluation computes for N paired images and texts (image i goes with text i):
    each of the first ``queries`` images (0 = all) among all texts, and each text among all images,
    through the evaluation's block passes (``row_blocks`` of ``EmbeddingScores``, ``relevant_ranks``;
    ``chunk`` queries a block, 0 = the evaluation's default), so no [N, N] matrix is ever held."""
    import scipy.sparse as sp

    from hubbleclip.metrics import EmbeddingScores, relevant_ranks, row_blocks

    n = len(images)
    m = min(queries or n, n)
    out = {}
    for direction, q, candidates in (("image_to_text", images, texts), ("text_to_image", texts, images)):
        ranks = np.empty(m, np.int64)
        for rows, block in row_blocks(EmbeddingScores(np.asarray(q[:m]), candidates), chunk):
            own = np.arange(rows.start, rows.stop)
            relevant = sp.csr_matrix((np.ones(len(own), bool), (own - rows.start, own)), shape=(len(own), n))
            ranks[rows] = relevant_ranks(block, relevant, rows.start)
        out[direction] = ranks
    return out


def query_mix(index, n: int, seed: int) -> list[tuple[str, object]]:
    """``n`` queries: free text 40%, exact names 20%, cones 15%, fields 15%, images 10%."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    corpus = index.corpus
    image = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    out = []
    for _ in range(n):
        r, i = rng.random(), int(rng.integers(len(corpus)))
        if r < 0.4:
            out.append(("text", TEXT_QUERIES[int(rng.integers(len(TEXT_QUERIES)))]))
        elif r < 0.6:
            out.append(("name", corpus.names[i][0]))
        elif r < 0.75:
            out.append(("cone", f"ra={corpus.ra_deg[i]:.4f} dec={corpus.dec_deg[i]:.4f} r=0.5deg"))
        elif r < 0.9:
            out.append(("fields", f'type:galaxy con:"{corpus.constellation[i]}" mag<14'))
        else:
            out.append(("image", image))
    return out


def _ask(searcher, kind: str, query) -> None:
    if kind == "image":
        searcher.search(image=query, k=24)
    else:
        searcher.search(text=query, k=24)


# -- slopes, the run, the table and the JSON -----------------------------------------------------


def loglog_slope(sizes, seconds) -> float:
    """Least-squares slope of log(seconds) on log(size) (NaN with fewer than two sizes)."""
    x, y = np.log(np.asarray(sizes, float)), np.log(np.asarray(seconds, float))
    if len(x) < 2:
        return math.nan
    return float(np.polyfit(x, y, 1)[0])


def consecutive_slopes(sizes, seconds) -> list[float]:
    """The slope between each pair of consecutive sizes."""
    return [loglog_slope(sizes[i : i + 2], seconds[i : i + 2]) for i in range(len(sizes) - 1)]


@dataclass
class StageCurve:
    """One stage across the sizes: what ``--out`` writes per stage."""

    sizes: list[int]
    seconds: list[float]
    peak_rss_mb: list[float]
    import_rss_mb: list[float]
    extra: list[dict]

    @property
    def slope(self) -> float:
        return loglog_slope(self.sizes, self.seconds)

    @property
    def slopes(self) -> list[float]:
        return consecutive_slopes(self.sizes, self.seconds)

    def to_dict(self) -> dict:
        return {**asdict(self), "slope": _finite(self.slope), "slopes": [_finite(s) for s in self.slopes]}


def _finite(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 3)


def curves(runs: list[StageRun]) -> dict[str, StageCurve]:
    out: dict[str, StageCurve] = {}
    for r in sorted(runs, key=lambda r: (STAGES.index(r.stage), r.size)):
        c = out.setdefault(r.stage, StageCurve([], [], [], [], []))
        c.sizes.append(r.size)
        c.seconds.append(r.seconds)
        c.peak_rss_mb.append(r.peak_rss_mb)
        c.import_rss_mb.append(r.import_rss_mb)
        c.extra.append(r.extra)
    return out


def report(runs: list[StageRun], cfg: ScaleConfig) -> dict:
    """The JSON ``--out`` writes: per stage sizes, seconds, peak RSS, slope; the recall of the
    automatic neighbour backend (realistic vectors; uniform as the worst case)."""
    by_stage = curves(runs)
    recall = {
        name: [e.get("recall") for e in by_stage[name].extra]
        for name in ("all_pairs", "all_pairs_uniform")
        if name in by_stage
    }
    return {
        "config": asdict(cfg),
        "stages": {name: c.to_dict() for name, c in by_stage.items()},
        "recall": recall,
    }


def _seconds_cell(stage: str, run: StageRun) -> str:
    if stage in LATENCY_STAGES:
        cell = f"p50 {run.seconds * 1000:.1f} ms, p99 {run.extra['p99_s'] * 1000:.1f} ms"
        if "startup_s" in run.extra:  # the server's own numbers (the stage's RSS is the client's)
            cell += (
                f", start-up {run.extra['startup_s']:.1f} s, server RSS "
                f"{run.extra['server_rss_mb_started']:.0f} MB (peak {run.extra['server_rss_mb_peak']:.0f})"
            )
        return cell
    label = " (projected)" if run.extra.get("projected") else ""
    if "recall" in run.extra:
        label += f", recall@k {run.extra['recall']:.3f} ({run.extra.get('backend')})"
    return f"{run.seconds:.2f} s{label}"


def table_rows(runs: list[StageRun]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per stage, one column per size, then the slopes."""
    by_stage = curves(runs)
    sizes = sorted({r.size for r in runs})
    header = ["stage", *(f"{s:,}" for s in sizes), "slope per step", "slope"]
    rows = []
    for stage, c in by_stage.items():
        cells = dict.fromkeys(sizes, "")
        for r in (r for r in runs if r.stage == stage):
            cells[r.size] = f"{_seconds_cell(stage, r)}; {r.peak_rss_mb:.0f} MB"
        steps = ", ".join(f"{s:.2f}" for s in c.slopes)
        rows.append([stage, *cells.values(), steps, "" if math.isnan(c.slope) else f"{c.slope:.2f}"])
    return header, rows


def run_scale(cfg: ScaleConfig, log: Callable[[str], None] = print) -> list[StageRun]:
    """Every stage at every size, smallest size first; each stage in a fresh process."""
    runs = []

    def pairs(vectors: str, out: Path) -> dict:
        return dict(vectors=vectors, out=str(out), k=cfg.k, recall_queries=cfg.recall_queries, seed=cfg.seed)

    for n in sorted(cfg.sizes):
        root = Path(cfg.work) / str(n)
        syn = str(root / "synthetic")
        plan = {
            "synthetic": dict(out=syn, n=n, seed=cfg.seed, real_index=cfg.real_index),
            "embedding": dict(synthetic=syn, n=n, model=cfg.model, cap=cfg.embed_cap),
            "index": dict(synthetic=syn, out=str(root / "index"), model=cfg.model),
            "search": dict(index=str(root / "index"), queries=cfg.queries, seed=cfg.seed),
            "similar": dict(vectors=f"{syn}/emb_image.npy", queries=cfg.queries, seed=cfg.seed),
            "serve": dict(index=str(root / "index"), queries=cfg.queries, seed=cfg.seed),
            "all_pairs": pairs(f"{syn}/emb_image.npy", root / "pairs"),
            "all_pairs_uniform": pairs(f"{syn}/uniform.npy", root / "pairs_uniform"),
            "evaluation": dict(synthetic=syn, chunk=cfg.eval_chunk, queries=cfg.eval_queries),
        }
        for stage in (s for s in STAGES if s in cfg.stages):
            fn = "all_pairs" if stage == "all_pairs_uniform" else stage
            run = run_stage(fn, n, **plan[stage])
            run.stage = stage
            runs.append(run)
            log(f"{n:>9,} {stage:18s} {_seconds_cell(stage, run)}; peak RSS {run.peak_rss_mb:.0f} MB")
    return runs


def write_report(path: str | Path, runs: list[StageRun], cfg: ScaleConfig) -> dict:
    out = report(runs, cfg)
    atomic_write_json(path, out)
    return out


def plot_curves(result: dict, out_stem: str | Path) -> list[Path]:
    """The log-log cost curves of a ``--out`` JSON: seconds against size per stage (search: its
    p50 latency), each labelled with its slope; writes OUT_STEM.png and .pdf."""
    from hubbleclip.figures.style import plt, save, setup

    setup()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, (name, stage) in enumerate(result["stages"].items()):
        slope = "" if stage["slope"] is None else f" (slope {stage['slope']:.2f})"
        label = ("search p50" if name in LATENCY_STAGES else name) + slope
        style = "o--" if name.endswith("uniform") else "o-"  # the worst case, not a main row
        ax.loglog(stage["sizes"], stage["seconds"], style, color=plt.cm.tab10(i), label=label)
    ax.set_xlabel("objects / images")
    ax.set_ylabel("seconds")
    ax.set_title("Cost curves (bench/bench_scale.py)")
    ax.legend(loc="upper left", fontsize=8)
    return save(fig, out_stem)
