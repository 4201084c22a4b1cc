"""The access guarantee on a larger world: every answer an anonymous caller, or program A's token,
gets from a mixed index, against the answer from an index built only from the rows it may see.

    python -m bench.bench_access_differential --dataset data/skyset --model lit-mini --queries 3000

Adds private rows to a saved skyset (near-copies of a seeded ``--image_fraction`` of its image
rows and renamed copies of ``--fraction`` of its catalog rows, in programs A and B, not yet
released), builds the mixed indexes and the two callers' own, then sends ``--queries`` seeded web
requests per caller aimed at the private rows (bench/harness/differential.py) and ``--queries /
20`` CLI commands, and prints the answers compared and the differences per route (goal: 0).  The
small version runs in make test (tests/test_access_differential.py).
"""

import argparse
import datetime as dt
import json
import tempfile
from pathlib import Path

import datasets
from fastapi.testclient import TestClient

from bench.harness.differential import (
    MemoEncoder,
    Tally,
    Targets,
    add_private_rows,
    build_indexes,
    build_view,
    cli_asks,
    web_asks,
    write_uploads,
)
from hubbleclip.access.policy import ANONYMOUS, AccessPolicy, parse_access
from hubbleclip.access.tokens import add_token
from hubbleclip.data.schema import COLUMNS, FEATURES
from hubbleclip.models.embed import ClipEncoder
from hubbleclip.web.app import create_app
from hubbleclip.web.config import ServeConfig
from hubbleclip.web.engine import load_engine

TODAY = dt.date(2030, 1, 1)  # before both release dates, whatever the real clock says
RELEASE = {"A": dt.date(2030, 6, 1), "B": dt.date(2031, 1, 1)}


def mixed_dataset(dataset: str, out: Path, fraction: float, image_fraction: float, seed: int) -> str:
    dd = datasets.load_from_disk(dataset)
    splits = {}
    for n, (split, ds) in enumerate(dd.items()):
        rows = ds.cast_column("image", datasets.Image(decode=False)).to_list()
        rows += add_private_rows(rows, fraction, image_fraction, RELEASE, seed + n)
        splits[split] = datasets.Dataset.from_dict(
            {c: [r[c] for r in rows] for c in COLUMNS}, features=FEATURES
        )
    datasets.DatasetDict(splits).save_to_disk(str(out))
    return str(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="data/skyset", help="saved public skyset (default: data/skyset)")
    parser.add_argument("--model", default="lit-mini", help="model spec of the indexes (default: lit-mini)")
    parser.add_argument("--queries", type=int, default=3000, help="web requests per caller")
    parser.add_argument(
        "--fraction", type=float, default=0.05, help="fraction of catalog rows given a private copy"
    )
    parser.add_argument(
        "--image_fraction", type=float, default=0.3, help="fraction of image rows given a private copy"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default=None, help="folder for the worlds (default: a temporary one)")
    args = parser.parse_args()
    if not Path(args.dataset).is_dir():
        raise SystemExit(f"--dataset {args.dataset}: no saved dataset there (hubbleclip data build)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.work or tmp)
        encoder = MemoEncoder(ClipEncoder(args.model))
        mixed = mixed_dataset(
            args.dataset, root / "mixed-dataset", args.fraction, args.image_fraction, args.seed
        )
        dirs = {
            "mixed": build_indexes(mixed, root / "mixed", args.model, encoder),
            "public": build_view(mixed, ANONYMOUS, TODAY, root / "public", args.model, encoder),
            "A": build_view(mixed, parse_access("A"), TODAY, root / "A", args.model, encoder),
        }
        tokens_file = root / "tokens.json"
        token = add_token(tokens_file, "program-A", "A")

        def client(name: str) -> TestClient:
            cfg = ServeConfig(
                index=dirs[name]["index"], similarity=dirs[name]["similarity"], tokens=str(tokens_file)
            )
            engine = load_engine(cfg, policy=AccessPolicy(lambda: TODAY))
            return TestClient(create_app(engine), raise_server_exceptions=False)

        report = {}
        with client("mixed") as m, client("public") as public, client("A") as a:
            targets = Targets.from_engine(m.app.state.engine)
            uploads = str(write_uploads(targets, root / "uploads"))
            for d in dirs.values():
                d["uploads"] = uploads
            own = [i for i in targets.private_images if i.startswith("private:A:")]
            for caller, view, headers, mine in (
                ("anonymous", public, {}, []),
                ("A", a, {"Authorization": f"Bearer {token}"}, own),
            ):
                tally = Tally().web(web_asks(targets, args.queries, args.seed, own=mine), m, view, headers)
                access = "public" if caller == "anonymous" else caller
                cli = cli_asks(targets, max(1, args.queries // 20), args.seed, access=access)
                tally.cli(cli, dirs["mixed"], dirs["public" if caller == "anonymous" else "A"])
                print(tally.table(f"caller {caller}"))
                report[caller] = tally.to_dict()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
