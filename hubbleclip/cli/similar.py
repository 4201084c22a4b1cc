"""`hubbleclip similar` (query an index) and `hubbleclip similarity index|pairs|train|evaluate`."""

from __future__ import annotations

import argparse
import json
import re

DEFAULT_INDEX = "runs/similarity/index"


def register(sub: argparse._SubParsersAction) -> None:
    from hubbleclip.cli import add_access_argument
    from hubbleclip.config import add_config_arguments
    from hubbleclip.similarity.config import (
        NeighboursSection,
        SimCLRConfig,
        SimilarityEvalConfig,
        SimilarityIndexConfig,
    )

    similar = sub.add_parser(
        "similar",
        help="the most similar images to an image (id, name or file)",
        description="Print the nearest images of a similarity index and write a contact "
        "sheet (query, neighbours, quick-select cluster representatives).",
    )
    similar.add_argument(
        "query",
        metavar="IMAGE_OR_ID",
        help="image file, or an id / object name in the index (any spelling `hubbleclip search` reads)",
    )
    similar.add_argument(
        "--index", default=DEFAULT_INDEX, help=f"similarity index directory (default {DEFAULT_INDEX})"
    )
    similar.add_argument(
        "--select",
        nargs="+",
        default=[],
        metavar="ID",
        help="more selected images (ids or names): rank by their combination with the query",
    )
    similar.add_argument("-k", type=int, default=20, help="neighbours to print (default 20)")
    similar.add_argument(
        "--method",
        choices=["mean", "max"],
        default="mean",
        help="combine a selection by the mean vector or the best match (default mean)",
    )
    similar.add_argument(
        "--clusters", type=int, default=5, help="k-means clusters over the top --pool (0 = none)"
    )
    similar.add_argument(
        "--members", type=int, default=15, help="nearest members listed per cluster (default 15)"
    )
    similar.add_argument("--pool", type=int, default=1000, help="neighbours clustered (default 1000)")
    similar.add_argument("--restrict", action="store_true", help="only neighbours of a compatible class")
    similar.add_argument(
        "--compat",
        default=None,
        metavar="YAML",
        help="compatibility table {class: [compatible classes]} (default: built-in families)",
    )
    similar.add_argument(
        "--backend",
        choices=["exact", "faiss"],
        default="exact",
        help="neighbour search (default exact: one query is one pass over the vectors)",
    )
    similar.add_argument(
        "--sheet",
        default=None,
        metavar="PNG",
        help="contact sheet path (default runs/similar/QUERY.png; '' = none)",
    )
    similar.add_argument("--json", action="store_true", help="print JSON")
    add_access_argument(similar)
    similar.set_defaults(func=run_similar)

    group = sub.add_parser(
        "similarity", help="build similarity indexes, all-pairs neighbours, SimCLR encoders"
    )
    gsub = group.add_subparsers(dest="similarity_command", metavar="ACTION", required=True)
    index = gsub.add_parser("index", help="embed every image of a dataset into a similarity index")
    index.add_argument("--overwrite", action="store_true", help="replace an existing index")
    add_config_arguments(index, SimilarityIndexConfig)
    index.set_defaults(func=run_index)

    pairs = gsub.add_parser("pairs", help="top-k neighbours of every image, streamed to .npy files")
    pairs.add_argument("--index", default=DEFAULT_INDEX, help="similarity index directory")
    pairs.add_argument("-k", type=int, default=1000, help="neighbours per image (default 1000)")
    pairs.add_argument("--out", default=None, help="output directory (default INDEX/pairs-K)")
    pairs.add_argument(
        "--backend",
        choices=["auto", "exact", "faiss"],
        default="auto",
        help="auto (default: exact up to --exact_max images, else faiss IVF), exact, or faiss",
    )
    pairs.add_argument(
        "--faiss_factory",
        default="",
        help="faiss factory for --backend faiss, e.g. IVF4000,Flat or HNSW32 (default: the auto choice)",
    )
    nb = NeighboursSection()
    pairs.add_argument(
        "--memory_gb",
        type=float,
        default=nb.memory_gb,
        help=f"index memory budget (default {nb.memory_gb:g})",
    )
    pairs.add_argument(
        "--exact_max",
        type=int,
        default=nb.exact_max,
        help=f"auto: exact up to this many (default {nb.exact_max})",
    )
    pairs.add_argument(
        "--recall_queries",
        type=int,
        default=nb.recall_queries,
        help=f"sampled rows for recall@k against exact (default {nb.recall_queries})",
    )
    pairs.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_access_argument(pairs)
    pairs.set_defaults(func=run_pairs)

    for name, cls, func in (
        ("train", SimCLRConfig, run_train),
        ("evaluate", SimilarityEvalConfig, run_evaluate),
    ):
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        job = gsub.add_parser(name, help=doc, description=doc)
        add_config_arguments(job, cls)
        job.set_defaults(func=func)


def run_train(args: argparse.Namespace) -> int:
    from hubbleclip.config import config_from_args
    from hubbleclip.similarity.config import SimCLRConfig
    from hubbleclip.similarity.train import train_simclr

    cfg = config_from_args(args, SimCLRConfig)
    result = train_simclr(cfg)
    print(
        f"trained {result['steps']} steps: loss {result['first_loss']:.4f} -> {result['last_loss']:.4f}; "
        f"encoder in {result['export']} (use it as simclr:{cfg.out})"
    )
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from hubbleclip.config import config_from_args
    from hubbleclip.similarity.config import SimilarityEvalConfig
    from hubbleclip.similarity.evaluate import evaluate_similarity, results_table

    cfg = config_from_args(args, SimilarityEvalConfig)
    print(results_table(evaluate_similarity(cfg)), end="")
    print(f"results in {cfg.out}/results.json")
    return 0


def run_index(args: argparse.Namespace) -> int:
    from hubbleclip.config import config_from_args
    from hubbleclip.similarity.config import SimilarityIndexConfig
    from hubbleclip.similarity.index import build_similarity_index

    cfg = config_from_args(args, SimilarityIndexConfig)
    index = build_similarity_index(cfg, overwrite=args.overwrite)
    model = index.travel.model
    print(
        f"wrote {index.path}: {len(index.items)} images with previews, "
        f"{index.embeddings.shape[1]}-d {cfg.dtype} ({cfg.encoder}, "
        f"{'copied into the index' if model.packed else 'named'}, weights digest {model.digest[:12]})"
    )
    print(index.neighbour_build().describe())
    return 0


def run_pairs(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np

    from hubbleclip.access.policy import AccessPolicy
    from hubbleclip.cli import access_viewer
    from hubbleclip.similarity.backend import NeighbourBuild
    from hubbleclip.similarity.index import load_index
    from hubbleclip.similarity.neighbours import all_pairs_topk

    index = load_index(args.index)
    out = Path(args.out or Path(args.index) / f"pairs-{args.k}")
    visible = AccessPolicy().visible(index.access, access_viewer(args))
    subset = None if visible.all() else np.flatnonzero(visible)  # lines and neighbours: visible rows only
    all_pairs_topk(
        index.vectors() if subset is None else index.vectors()[subset],
        args.k,
        out,
        backend=args.backend,
        faiss_factory=args.faiss_factory,
        memory_gb=args.memory_gb,
        exact_max=args.exact_max,
        recall_queries=args.recall_queries,
        overwrite=args.overwrite,
        row_ids=subset,
    )
    meta = json.loads((out / "meta.json").read_text())
    print(
        f"wrote {out}: top-{meta['k']} of {meta['n']} images in {meta['seconds']} s "
        "(indices.npy, scores.npy; open with numpy.load(..., mmap_mode='r'))"
    )
    print(NeighbourBuild.from_dict(meta).describe())
    return 0


def _label(item: dict) -> str:
    names = [n for n in item.get("names", []) if n][:2]
    return f"{item['id']} ({', '.join(names)}; {item['type']})" if names else f"{item['id']} ({item['type']})"


def run_similar(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hubbleclip.access.policy import AccessPolicy
    from hubbleclip.cli import UserError, access_viewer
    from hubbleclip.search.names import NameResolver
    from hubbleclip.similarity.contact_sheet import similar_sheet
    from hubbleclip.similarity.index import load_index
    from hubbleclip.similarity.search import find_similar

    index = load_index(args.index).read_names(NameResolver.from_aliases)  # names as `search` reads them
    visible = AccessPolicy().visible(index.access, access_viewer(args))
    try:
        result = find_similar(
            index,
            args.query,
            select=args.select,
            k=args.k,
            method=args.method,
            n_clusters=args.clusters,
            n_members=args.members,
            pool=args.pool,
            restrict=args.restrict,
            table=args.compat,
            backend=args.backend,
            visible=visible,
        )
    except KeyError as exc:
        raise UserError(exc.args[0]) from None
    items = index.items
    report = result.to_dict(index)
    sheet = args.sheet
    if sheet is None:
        sheet = f"runs/similar/{re.sub(r'[^A-Za-z0-9_.-]+', '_', Path(args.query).stem or args.query)}.png"
    if sheet:
        report["sheet"] = str(similar_sheet(index, result, sheet))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(
        f"query {args.query}"
        + (f" + {', '.join(report['selected'][1:])}" if len(report["selected"]) > 1 else "")
        + f" — index {args.index} ({index.meta.get('encoder')}, {int(visible.sum())} images)"
    )
    for rank, (i, score) in enumerate(result.neighbours, 1):
        print(f"{rank:3d}  {score:.4f}  {_label(items[i])}")
    for n, c in enumerate(result.clusters, 1):
        print(
            f"cluster {n} ({c.size} images): representative {_label(items[c.representative])}; "
            f"nearest: {', '.join(items[m]['id'] for m in c.members[:5])}"
            f"{' ...' if len(c.members) > 5 else ''}"
        )
    if sheet:
        print(f"contact sheet: {report['sheet']}")
    return 0
