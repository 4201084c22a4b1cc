"""`hubbleclip captions generate` and `hubbleclip captions check`."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    from hubbleclip.captions.config import CaptionsConfig
    from hubbleclip.config import add_config_arguments

    captions = sub.add_parser("captions", help="LLM captions (outlines guided generation)")
    csub = captions.add_subparsers(dest="captions_command", metavar="ACTION", required=True)

    gen = csub.add_parser(
        "generate",
        help="add/update a caption_llm column (or caption a CSV/JSONL of id,text)",
        description="Condense each text into 'objects; science use cases' with an LLM whose "
        "output is constrained to a JSON schema. Results are cached, so reruns "
        "and interrupted runs resume without paying twice.",
    )
    add_config_arguments(gen, CaptionsConfig)
    gen.set_defaults(func=run_generate)

    ship = csub.add_parser(
        "ship",
        help="regenerate the shipped captions of every imaged text (hubbleclip/resources/captions)",
        description="Caption every distinct text of the dataset's imaged rows through its caption cache, "
        "then write the shipped resource keyed as the cache is. Resumable: --chunk N captions the "
        "next N texts and stops; repeat until it writes the resource.",
    )
    add_config_arguments(ship, CaptionsConfig)
    ship.add_argument(
        "--chunk", type=int, default=None, help="caption at most N more texts in this call (0: none)"
    )
    ship.add_argument(
        "--resource_dir", default=None, help="write here instead of hubbleclip/resources/captions"
    )
    ship.add_argument(
        "--partial", action="store_true", help="write the resource from what is cached even if texts remain"
    )
    ship.set_defaults(func=run_ship)

    check = csub.add_parser("check", help="caption quality report")
    check.add_argument(
        "--dataset", required=True, help="dataset dir or .csv/.jsonl written by `captions generate`"
    )
    check.add_argument("--column", default="caption_llm", help="caption column to check")
    check.add_argument(
        "--cache",
        default=None,
        help="cache JSONL for generation statistics (default: the one `generate` used by default)",
    )
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(func=run_check)


def run_generate(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from hubbleclip.captions.config import CaptionsConfig
    from hubbleclip.captions.pipeline import generate_captions
    from hubbleclip.config import config_from_args

    report = generate_captions(config_from_args(args, CaptionsConfig))
    run = report["run"]
    print(
        f"wrote {report['out']}: {report['llm_captions']} LLM captions for {report['selected']} of "
        f"{report['distinct_texts']} distinct texts ({run['cached']} from the cache, {run['generated']} new, "
        f"{report['failed']} failed and kept the template caption); {run['captions_per_second']} captions/s; "
        f"cache {report['cache']}"
    )
    return 0


def run_ship(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from hubbleclip.captions.config import CaptionsConfig
    from hubbleclip.captions.shipped import ship_captions
    from hubbleclip.config import config_from_args

    report = ship_captions(
        config_from_args(args, CaptionsConfig), args.chunk, args.resource_dir, partial=args.partial
    )
    run = report["run"]
    done = report["imaged_texts"] - report["remaining"]
    print(
        f"{report['model']} {report['prompt_version']}: {done}/{report['imaged_texts']} imaged texts "
        f"captioned ({report['captioned_now']} now, {run['captions_per_second']} captions/s, "
        f"{report['seconds']} s)"
    )
    if "resource" in report:
        print(f"wrote {report['resource']}: {report['ok']} captions, {report['failed']} failed")
    if report["remaining"]:
        print(f"{report['remaining']} to go: run the same command again")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from hubbleclip.captions.pipeline import check_captions

    report = check_captions(args.dataset, args.column, args.cache)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    from hubbleclip.metrics.render import print_table

    columns = [("llm", report["llm"])] + (
        [("template", report["template_baseline"])] if "template_baseline" in report else []
    )
    rows = [[key, *("" if m[key] is None else str(m[key]) for _, m in columns)] for key in report["llm"]]
    print_table(
        ["metric", *(name for name, _ in columns)],
        rows,
        title=f"captions in {report['path']} ({report['column']})",
    )
    if "generation" in report:
        print("generation: " + ", ".join(f"{k} {v}" for k, v in report["generation"].items()))
    return 0
