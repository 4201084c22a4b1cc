"""A running server follows its token file (issue 25, part 4): ``hubbleclip tokens remove`` takes
effect without a restart, a malformed file keeps the previous table with one WARNING, and the check
runs at most every ``check_every_s`` seconds.  Time is an injected clock: no test sleeps."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def rewrite(path: Path, text: str) -> None:
    """Overwrite in place (as an editor may) and move the mtime on, so the change is seen even
    within the filesystem's timestamp resolution."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


@pytest.fixture
def two_tokens(tmp_path):
    from hubbleclip.access.tokens import add_token

    path = tmp_path / "tokens.json"
    return path, {name: add_token(path, name, "A") for name in ("pi-one", "pi-two")}


def test_a_removed_token_stops_working_at_the_next_check(two_tokens):
    from hubbleclip.access.tokens import LiveTokenStore, remove_token

    path, tokens = two_tokens
    clock = Ticks()
    live = LiveTokenStore(path, check_every_s=1.0, clock=clock)
    assert live.viewer(tokens["pi-one"]).name == "pi-one" and len(live) == 2
    remove_token(path, "pi-one")
    clock.now += 0.5
    assert live.viewer(tokens["pi-one"]) is not None  # not checked yet: at most once a second
    clock.now += 0.5
    assert live.viewer(tokens["pi-one"]) is None and len(live) == 1
    assert live.viewer(tokens["pi-two"]).name == "pi-two"


def test_a_malformed_file_keeps_the_old_table_and_warns_once(two_tokens, caplog):
    from hubbleclip.access.tokens import LiveTokenStore, add_token

    path, tokens = two_tokens
    good = path.read_text()
    live = LiveTokenStore(path, check_every_s=0)
    caplog.set_level(logging.INFO, logger="hubbleclip.access.tokens")
    for broken in ('{"format": "hubbleclip-tokens", "version": 1, "tokens": [{"name": ', "\xff\xfe"):
        caplog.clear()
        rewrite(path, broken)
        for _ in range(3):  # checked on every lookup here; reported once per change
            assert live.viewer(tokens["pi-one"]).name == "pi-one"
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "\n" not in warnings[0].getMessage()
        assert str(path) in warnings[0].getMessage() and "keeping the 2 tokens" in warnings[0].getMessage()
        assert tokens["pi-one"] not in caplog.text
    rewrite(path, good)
    third = add_token(path, "pi-three", "B")  # a valid change is taken whole
    assert live.viewer(third).programs == {"B"} and len(live) == 3


def test_a_deleted_file_revokes_every_token(two_tokens, caplog):
    from hubbleclip.access.tokens import LiveTokenStore

    path, tokens = two_tokens
    live = LiveTokenStore(path, check_every_s=0)
    path.unlink()
    with caplog.at_level(logging.WARNING, logger="hubbleclip.access.tokens"):
        assert live.viewer(tokens["pi-one"]) is None and len(live) == 0
    assert "revoked" in caplog.text


def test_tokens_remove_reaches_a_running_server(access_world, tmp_path, capsys):
    from fastapi.testclient import TestClient

    from hubbleclip.cli import main
    from hubbleclip.web.app import create_app
    from hubbleclip.web.config import ServeConfig
    from hubbleclip.web.engine import load_engine

    tokens_file = tmp_path / "tokens.json"
    shutil.copy(access_world.tokens_file, tokens_file)  # the session's file stays as it is
    cfg = ServeConfig(index=access_world.index["mixed"], tokens=str(tokens_file), token_check_s=0)
    headers = {"Authorization": f"Bearer {access_world.tokens['A']}"}
    with TestClient(create_app(load_engine(cfg))) as client:
        assert client.get("/api/info", headers=headers).status_code == 200
        assert main(["tokens", "remove", str(tokens_file), "--name", "program-A"]) == 0
        assert client.get("/api/info", headers=headers).status_code == 401
        staff = {"Authorization": f"Bearer {access_world.tokens['all']}"}
        assert client.get("/api/info", headers=staff).status_code == 200
    assert "drops it within" in capsys.readouterr().out
