"""`hubbleclip embed`: a dataset's image (and text) vectors, in shards across processes, then merged.

Runs as it is in one process, or under ``accelerate launch`` on N processes and M machines
(``accelerate launch --multi_gpu --num_processes N "$(which hubbleclip)" embed ...``).
"""

from __future__ import annotations

import argparse

from hubbleclip.config import add_config_arguments
from hubbleclip.indexes.config import EmbedConfig


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "embed",
        help="embed a dataset or WebDataset shards into feature shards, merged into one array",
        description="Each process embeds its share of the shards (shard k goes to process k mod N) "
        "and writes each one atomically; a rerun skips finished shards; the main process then merges "
        "them in id order into OUT/merged (TOWER.npy float32 [N, D], TOWER_ids.npy, manifest.json).",
    )
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
    add_config_arguments(parser, EmbedConfig)
    parser.set_defaults(func=run_embed)


def run_embed(args: argparse.Namespace) -> int:
    from hubbleclip.config import config_from_args
    from hubbleclip.errors import UserError
    from hubbleclip.indexes.embedding import embed_dataset, merge_shards

    cfg = config_from_args(args, EmbedConfig)
    if not cfg.out:
        raise UserError("--out is required (the job directory)")
    if args.merge_only:
        print(f"merged into {merge_shards(cfg.out)}")
        return 0
    missing = [f"--{name}" for name in ("model", "data") if not getattr(cfg, name)]
    if missing:
        raise UserError(f"{' and '.join(missing)} required (or --merge_only)")
    if cfg.batch_size < 1 or cfg.shard_size < 1:
        raise UserError("--batch_size and --shard_size must be at least 1")
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    report = embed_dataset(
        cfg.model,
        cfg.data,
        cfg.out,
        split=cfg.split,
        towers=cfg.towers,
        text_column=cfg.text_column,
        batch_size=cfg.batch_size,
        shard_size=cfg.shard_size,
        overwrite=args.overwrite,
    )
    print(
        f"embedded {report.inputs} inputs in {report.computed} shards ({report.skipped} already there) "
        f"in {report.seconds:.1f} s ({report.per_second:.1f}/s)"
        + (f"; merged into {report.merged}" if report.merged else "")
    )
    return 0
