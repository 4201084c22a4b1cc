"""`hubbleclip embed`: a dataset's image (and text) vectors, in shards across processes, then merged.

Runs as it is in one process, or under ``accelerate launch`` on N processes and M machines
(``accelerate launch --multi_gpu --num_processes N "$(which hubbleclip)" embed ...``).
"""

from __future__ import annotations

import argparse

from hubbleclip.models.specs import SPEC_HELP


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "embed",
        help="embed a dataset or WebDataset shards into feature shards, merged into one array",
        description="Each process embeds its share of the shards (shard k goes to process k mod N) "
        "and writes each one atomically; a rerun skips finished shards; the main process then merges "
        "them in id order into OUT/merged (TOWER.npy float32 [N, D], TOWER_ids.npy, manifest.json).",
    )
    parser.add_argument("--model", help=f"model spec: {SPEC_HELP}")
    parser.add_argument("--data", help="a saved dataset, or WebDataset shards (DIR/{00000..00009}.tar)")
    parser.add_argument("--out", required=True, help="job directory (shards/, then merged/)")
    parser.add_argument("--split", default="train", help="split of a saved dataset (default train)")
    parser.add_argument(
        "--towers", default="image", help="comma-separated: image, text or image,text (default image)"
    )
    parser.add_argument(
        "--text_column",
        default="auto",
        help="column of a dataset's texts (default auto: caption_llm where it exists, else caption)",
    )
    parser.add_argument("--batch_size", type=int, default=64, help="inputs per forward pass (default 64)")
    parser.add_argument(
        "--shard_size", type=int, default=4096, help="dataset rows per feature shard (default 4096)"
    )
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads per process (0 = default)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace another job in --out (its shards); the same job always resumes",
    )
    parser.add_argument(
        "--merge_only",
        action="store_true",
        help="only merge the shards already in --out (copied together from several machines)",
    )
    parser.set_defaults(func=run_embed)


def run_embed(args: argparse.Namespace) -> int:
    from hubbleclip.errors import UserError
    from hubbleclip.indexes.embedding import embed_dataset, merge_shards

    if args.merge_only:
        print(f"merged into {merge_shards(args.out)}")
        return 0
    missing = [f"--{name}" for name in ("model", "data") if not getattr(args, name)]
    if missing:
        raise UserError(f"{' and '.join(missing)} required (or --merge_only)")
    if args.batch_size < 1 or args.shard_size < 1:
        raise UserError("--batch_size and --shard_size must be at least 1")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    report = embed_dataset(
        args.model,
        args.data,
        args.out,
        split=args.split,
        towers=[t.strip() for t in args.towers.split(",") if t.strip()],
        text_column=args.text_column,
        batch_size=args.batch_size,
        shard_size=args.shard_size,
        overwrite=args.overwrite,
    )
    print(
        f"embedded {report.inputs} inputs in {report.computed} shards ({report.skipped} already there) "
        f"in {report.seconds:.1f} s ({report.per_second:.1f}/s)"
        + (f"; merged into {report.merged}" if report.merged else "")
    )
    return 0
