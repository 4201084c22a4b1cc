"""`hubbleclip data build`, `hubbleclip data export` and `hubbleclip data info`."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    from hubbleclip.cli import add_access_argument
    from hubbleclip.config import add_config_arguments
    from hubbleclip.data.config import ExportConfig, SkysetConfig

    data = sub.add_parser("data", help="build and inspect datasets")
    dsub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    build = dsub.add_parser(
        "build",
        help="build a dataset (default: the offline skyset)",
        description="Build the offline skyset from packaged data, an archive dataset "
        "(hst, simbad, galaxy10) for users who are online, or your own images "
        "(folder: --set images=DIR --set captions=FILE.csv).",
    )
    build.add_argument(
        "--source",
        default="skyset",
        choices=["skyset", "hst", "simbad", "galaxy10", "folder"],
        help="what to build (default: skyset)",
    )
    build.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    build.add_argument(
        "--archive_config",
        default=None,
        help="YAML config for a non-skyset source (its output defaults to data/SOURCE)",
    )
    build.add_argument(
        "--set",
        dest="archive_overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a non-skyset source's config field, e.g. images=DIR (repeatable)",
    )
    add_config_arguments(build, SkysetConfig)
    build.set_defaults(func=run_build)

    export = dsub.add_parser(
        "export",
        help="write a dataset as WebDataset shards or as open_clip_train's CSV",
        description="Export a saved dataset (skyset, folder + CSV, archives) split by split: "
        "--format webdataset writes OUT/SPLIT/{00000..}.tar (image, txt caption, json of the other "
        "fields) with sizes.json; each shard is written atomically, and rerunning an interrupted "
        "export writes only the missing shards. --format csv writes OUT/SPLIT.csv + OUT/SPLIT/images/.",
    )
    export.add_argument("--overwrite", action="store_true", help="replace an existing export")
    add_config_arguments(export, ExportConfig)
    export.set_defaults(func=run_export)

    info = dsub.add_parser("info", help="counts per split/source/class and example records")
    info.add_argument("path", help="a dataset directory written by `hubbleclip data build`")
    info.add_argument("--json", action="store_true", help="print JSON instead of tables")
    add_access_argument(info)
    info.set_defaults(func=run_info)


def run_build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hubbleclip.cli import UserError
    from hubbleclip.config import config_from_args
    from hubbleclip.data.build import build_skyset
    from hubbleclip.data.config import SkysetConfig

    if args.source != "skyset":
        from hubbleclip import archives

        skyset_flags = sorted(
            k[len("cfg__") :]
            for k, v in vars(args).items()
            if k.startswith("cfg__") and k != "cfg__out" and v is not None
        )
        if skyset_flags or args.config:
            raise UserError(
                f"--{(skyset_flags or ['config'])[0]} is a skyset option; for --source {args.source} "
                "use --set KEY=VALUE or --archive_config FILE"
            )
        out = Path(args.cfg__out or f"data/{args.source}")  # never the skyset's default
        report = archives.build(args.source, out, args.archive_config, args.archive_overrides, args.overwrite)
    else:
        cfg = config_from_args(args, SkysetConfig)
        out = Path(cfg.out)
        report = build_skyset(cfg, overwrite=args.overwrite)
    skipped = report.get("skipped_count", len(report.get("skipped_images", [])))
    print(
        f"wrote {out}: {report['rows']} rows, {report['images']} images, {report['objects']} objects; "
        f"splits {report['splits']}; skipped: {skipped}"
        + (f"; {report['timings_s']['total']} s" if "total" in report.get("timings_s", {}) else "")
    )
    for name, hint in report.get("missing_sources", {}).items():
        print(f"  missing {name}: {hint}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from hubbleclip.config import config_from_args
    from hubbleclip.data.config import ExportConfig
    from hubbleclip.data.export import export_dataset

    cfg = config_from_args(args, ExportConfig)
    for split, done in export_dataset(cfg, overwrite=args.overwrite).items():
        print(f"{split}: {json.dumps(done)}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from rich.console import Console

    from hubbleclip.cli import access_viewer
    from hubbleclip.data.info import summarize
    from hubbleclip.metrics.render import print_table

    summary = summarize(args.path, viewer=access_viewer(args))
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    splits = [
        [
            split,
            str(s["rows"]),
            str(s["objects"]),
            str(s["images"]),
            ", ".join(f"{k} {v}" for k, v in s["by_source"].items()),
        ]
        for split, s in summary["splits"].items()
    ]
    print_table(["split", "rows", "objects", "images", "by source"], splits, title=f"{summary['path']}")
    by_type = summary["splits"].get("train", next(iter(summary["splits"].values())))["by_type"]
    print_table(
        ["type", "rows"], [[t, str(n)] for t, n in list(by_type.items())[:25]], title="classes (train)"
    )
    console = Console()
    for ex in summary["examples"]:
        console.print(
            f"[bold]{ex['id']}[/bold] {', '.join(ex['names'][:3])} — {ex['type']}\n"
            f"  caption: {ex['caption']}\n  text: {ex['text']}…\n  credit: {ex['credit']}"
        )
    if summary.get("missing_sources"):
        for name, hint in summary["missing_sources"].items():
            console.print(f"[yellow]missing {name}[/yellow]: {hint}")
    console.print(f"skipped images: {summary.get('skipped_images', 0)} (see build_report.json)")
    return 0
