"""hubbleclip: CLIP-style models that connect astronomical images with language.

Each area owns one module here with a ``register(subparsers)`` function that adds its
subcommands and sets ``func`` on each parser.  Modules import heavy libraries (torch, datasets)
inside their handlers so that ``hubbleclip --help`` stays fast.

Errors: input the user can fix (:class:`~hubbleclip.errors.UserError`, which config and
validation errors are, a missing or existing file) is printed as one line with a hint to rerun
with ``-v``; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from hubbleclip import __version__
from hubbleclip.errors import UserError, disk_full

# area modules, in the order their commands appear in --help
COMMAND_MODULES = [
    "hubbleclip.cli.data",  # data build / data info
    "hubbleclip.cli.captions",  # captions generate / check
    "hubbleclip.cli.train",  # train (same as training/train.py)
    "hubbleclip.cli.interpolate",  # interpolate (WiSE-FT)
    "hubbleclip.cli.evaluate",  # evaluate / classify / compare
    "hubbleclip.cli.study",  # study (PAPERCLIP's ablation grid)
    "hubbleclip.cli.judge",  # judge (LLM-judged relevance)
    "hubbleclip.cli.search",  # index build / search
    "hubbleclip.cli.similar",  # similar / similarity index
    "hubbleclip.cli.embed",  # embed (shards across processes, then merged)
    "hubbleclip.cli.serve",  # serve
    "hubbleclip.cli.tokens",  # tokens add / list / remove
    "hubbleclip.cli.demo",  # demo
]

USER_ERRORS = (UserError, FileNotFoundError, FileExistsError)


def add_access_argument(parser: argparse.ArgumentParser) -> None:
    """``--access``: which proprietary rows a command that prints rows may show."""
    parser.add_argument(
        "--access",
        default="public",
        metavar="SCOPE",
        help="rows to include: public (default: only rows whose release date has passed), all, "
        "or comma-separated program ids",
    )


def access_viewer(args: argparse.Namespace):
    from hubbleclip.access.policy import parse_access

    return parse_access(args.access)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hubbleclip", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"hubbleclip {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def setup_logging(verbose: bool = False) -> None:
    from rich.console import Console
    from rich.logging import RichHandler

    # logs go to stderr so that --json output on stdout stays parseable
    handler = RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=False)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(message)s", handlers=[handler], force=True
    )
    # openai (and its httpx2) log request options and URLs: keep them quiet
    for noisy in (
        "httpx",
        "urllib3",
        "PIL",
        "matplotlib",
        "datasets",
        "filelock",
        "fsspec",
        "bm25s",
        "openai",
        "httpx2",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    setup_logging(args.verbose)
    try:
        result = args.func(args)
    except USER_ERRORS as exc:
        if args.verbose:
            raise
        print(f"hubbleclip {args.command}: error: {exc} (rerun with -v for the traceback)", file=sys.stderr)
        return 2
    except OSError as exc:
        if not disk_full(exc):
            raise
        print(
            f"hubbleclip {args.command}: error: could not write {exc.filename or 'the output'}: "
            f"{exc.strerror or exc} (disk full or file size limit); outputs are written atomically, so "
            "any previous output is unchanged",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
