"""`hubbleclip tokens add|list|remove`: the access tokens of `hubbleclip serve --tokens FILE`."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    tokens = sub.add_parser(
        "tokens",
        help="access tokens for proprietary rows (hubbleclip serve --tokens FILE)",
        description="Manage a file of hashed bearer tokens. Each token sees public rows plus the "
        "rows of the programs it names (or all rows).",
    )
    tsub = tokens.add_subparsers(dest="tokens_command", metavar="ACTION", required=True)
    add = tsub.add_parser("add", help="add a token and print it once (only its hash is stored)")
    add.add_argument("file", help="token file (created when missing, mode 0600)")
    add.add_argument("--name", required=True, help="who holds the token, e.g. pi-smith")
    add.add_argument(
        "--programs", required=True, help="all, or comma-separated program/proposal ids, e.g. 11360,12498"
    )
    add.set_defaults(func=run_add)
    show = tsub.add_parser("list", help="names and scopes of the tokens (never the tokens)")
    show.add_argument("file")
    show.set_defaults(func=run_list)
    remove = tsub.add_parser("remove", help="revoke a token by name")
    remove.add_argument("file")
    remove.add_argument("--name", required=True)
    remove.set_defaults(func=run_remove)


def run_add(args: argparse.Namespace) -> int:
    import sys

    from hubbleclip.access.tokens import add_token

    token = add_token(args.file, args.name, args.programs)
    print(f"added token {args.name!r} for programs {args.programs} to {args.file}", file=sys.stderr)
    print("store it now: it is not shown again (send it as 'Authorization: Bearer TOKEN')", file=sys.stderr)
    print(token)
    return 0


def run_list(args: argparse.Namespace) -> int:
    from hubbleclip.access.tokens import TokenStore

    for entry in TokenStore.load(args.file).entries:
        scope = "all" if entry.viewer.everything else ",".join(sorted(entry.viewer.programs))
        print(f"{entry.name}\t{scope}\t{entry.created}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from hubbleclip.access.tokens import remove_token

    remove_token(args.file, args.name)
    # a running `hubbleclip serve --tokens FILE` re-reads the file within --token_check_s (1 s)
    print(f"removed token {args.name!r} from {args.file} (a running server drops it within a second or two)")
    return 0
