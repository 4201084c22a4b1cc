"""The access guarantee, differentially: an anonymous or program-scoped answer over the mixed index
equals, ids, order and scores (1e-6 relative), the answer over an index built only from the rows
that caller may see, on every route and CLI command that returns rows.

Hundreds of seeded requests aimed at the private rows (bench/harness/differential.py draws them:
names in several spellings, typos, cones, "near X", brightness and field queries, private-only
words, similar images, uploads of the private images) go to both sides of two pairs of worlds from
tests/access_world.py: anonymous against the public rows, and program A's token against the public
rows plus program A's.  bench/bench_access_differential.py runs more of them on a larger world.
"""

from __future__ import annotations

import pytest
from access_world import Clock

from bench.harness.differential import Tally, Targets, build_view, cli_asks, web_asks, write_uploads
from hubbleclip.access.policy import parse_access

WEB_ASKS = 520  # per caller
CLI_ASKS = 24


@pytest.fixture(scope="module")
def sides(access_world, tiny, tmp_path_factory):
    """Test clients of the mixed world and of the worlds of the anonymous caller and of program A."""
    from fastapi.testclient import TestClient

    from hubbleclip.access.policy import AccessPolicy
    from hubbleclip.web.app import create_app
    from hubbleclip.web.config import ServeConfig
    from hubbleclip.web.engine import load_engine

    world = access_world
    root = tmp_path_factory.mktemp("differential")
    dirs = {
        "mixed": {"index": world.index["mixed"], "similarity": world.similarity["mixed"]},
        "public": {"index": world.index["public"], "similarity": world.similarity["public"]},
        "A": build_view(
            world.mixed, parse_access("A"), Clock().today, root / "A", tiny["tiny-lit"], world.encoder
        ),
    }

    def client(name: str):
        cfg = ServeConfig(
            index=dirs[name]["index"], similarity=dirs[name]["similarity"], tokens=world.tokens_file
        )
        return TestClient(
            create_app(load_engine(cfg, policy=AccessPolicy(Clock()))), raise_server_exceptions=False
        )

    with client("mixed") as mixed, client("public") as public, client("A") as a:
        targets = Targets.from_engine(mixed.app.state.engine)
        uploads = str(write_uploads(targets, root / "uploads"))
        for d in dirs.values():
            d["uploads"] = uploads
        yield {"mixed": mixed, "public": public, "A": a, "dirs": dirs, "targets": targets, "world": world}


def test_the_targets_are_the_private_rows(sides):
    """The generators aim where the leaks would be: every private image is uploaded, and the
    private-only names and words are the world's secret ones."""
    targets, world = sides["targets"], sides["world"]
    assert set(targets.private_images) == set(world.private_images())
    assert "ZRB 1" in targets.private_names and "zorblax" in targets.words
    assert "stellarium:m31" in targets.near_images


@pytest.mark.parametrize("caller", ["anonymous", "A"])
def test_web_answers_equal_the_callers_own_world(caller, sides):
    world, targets = sides["world"], sides["targets"]
    if caller == "anonymous":
        view, headers, own = sides["public"], {}, []
    else:
        view, headers, own = (
            sides["A"],
            {"Authorization": f"Bearer {world.tokens['A']}"},
            world.private_ids("A"),
        )
    asks = web_asks(targets, WEB_ASKS, seed=0, own=[i for i in own if i in targets.private_images])
    assert len(asks) >= 500
    tally = Tally().web(asks, sides["mixed"], view, headers)
    routes = {
        "GET /api/search",
        "POST /api/similar",
        "POST /api/clusters",
        "GET /api/images",
        "POST /api/search/image",
    }
    assert set(tally.compared) == routes
    assert not tally.differ, tally.table(f"web, {caller}")


@pytest.mark.parametrize("caller", ["public", "A"])
def test_cli_answers_equal_the_callers_own_world(caller, sides):
    targets, dirs = sides["targets"], sides["dirs"]
    asks = cli_asks(targets, CLI_ASKS, seed=0, access=caller)
    tally = Tally().cli(asks, dirs["mixed"], dirs["public" if caller == "public" else "A"])
    assert set(tally.compared) == {"cli search", "cli similar"}
    assert not tally.differ, tally.table(f"CLI, --access {caller}")
