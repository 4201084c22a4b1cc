"""Archive builders against the loopback fake services (tests/fake_services.py): retries,
pagination, skipped malformed records, resume without duplicate fetches, Galaxy10 HDF5."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from types import SimpleNamespace

import datasets
import h5py
import numpy as np
import pytest
from fake_services import FakeServices

from hubbleclip import archives
from hubbleclip.archives import client as client_module
from hubbleclip.archives.cache import ResponseCache
from hubbleclip.archives.client import ArchiveClient, ServiceUnavailable, retry_after_seconds
from hubbleclip.archives.config import HttpConfig, ServiceLimits
from hubbleclip.archives.hst import parse_phase2
from hubbleclip.archives.interrupt import run_async, stop_on_ctrl_c
from hubbleclip.config import ConfigError

FAST = ["tap.rate_per_s=500", "crossref.rate_per_s=500", "hips2fits.rate_per_s=500", "http.backoff_s=0.01"]


def simbad_overrides(fake: FakeServices, tmp_path, *extra: str) -> list[str]:
    u = fake.urls()
    return [
        f"tap_url={u['tap_url']}",
        f"crossref_url={u['crossref_url']}",
        f"hips2fits_url={u['hips2fits_url']}",
        f"http.cache_dir={tmp_path / 'cache'}",
        "page_size=4",
        "refs_batch=3",
        "doi_batch=5",
        *FAST,
        *extra,
    ]


def bright_wellformed(fake: FakeServices, limit: float = 6.5) -> list[dict]:
    return [
        o
        for o in fake.objects
        if o["ra"] is not None and any(o[b] is not None and o[b] < limit for b in ("B", "V", "R", "G"))
    ]


def load_rows(path) -> list[dict]:
    dd = datasets.load_from_disk(str(path))
    return [dict(r, split=s) for s in dd for r in dd[s]]


def test_client_retries_429_and_500_and_honours_retry_after(tmp_path, caplog):
    async def run(fake):
        http = HttpConfig(backoff_s=0.01, max_retries=3)
        cache = ResponseCache(tmp_path / "c.sqlite")
        async with ArchiveClient(cache, http, {"hips2fits": ServiceLimits(100, 2)}) as client:
            params = {"ra": "10", "dec": "20", "width": "50", "height": "40"}
            first = await client.fetch("hips2fits", fake.urls()["hips2fits_url"], params=params)
            again = await client.fetch("hips2fits", fake.urls()["hips2fits_url"], params=params)
        return first, again, client.report()["hips2fits"]

    caplog.set_level(logging.INFO, logger=client_module.__name__)
    with FakeServices(n_objects=1) as fake:
        fake.fail_next["/hips2fits"].extend([(429, {"Retry-After": "1"}), (500, {})])
        first, again, stats = asyncio.run(run(fake))
        assert first.ok and first.body == again.body and first.content_type == "image/jpeg"
        # the delay before each retry: Retry-After's 1 s, then the 0.01-0.02 s back-off (with jitter)
        delays = [r.args[-1] for r in caplog.records if "retry" in r.msg]
        assert delays[0] == 1.0 and 0.005 <= delays[1] <= 0.02 and len(delays) == 2
        assert stats == {"requests": 3, "cache_hits": 1, "retries": 2, "bytes": stats["bytes"]}
        assert fake.requests["/hips2fits"] == 3  # the cached answer was not fetched again


def test_client_gives_up_with_a_resumable_error(tmp_path):
    async def run(fake):
        cache = ResponseCache(tmp_path / "c.sqlite")
        async with ArchiveClient(
            cache, HttpConfig(backoff_s=0.01, max_retries=2), {"tap": ServiceLimits(100, 1)}
        ) as c:
            await c.fetch("tap", fake.urls()["tap_url"], data={"QUERY": "SELECT 1"})

    with FakeServices(n_objects=1) as fake:
        fake.fail_next["/simbad/sync"].extend([(503, {})] * 3)
        with pytest.raises(ServiceUnavailable, match=r"failed 3 times .*HTTP 503.*rerun the same command"):
            asyncio.run(run(fake))
        assert fake.requests["/simbad/sync"] == 3


def test_retry_after_header_forms(monkeypatch):
    assert retry_after_seconds("7") == 7.0
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    monkeypatch.setattr(client_module, "time", SimpleNamespace(time=now.timestamp))  # a fixed clock
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True)) == 30.0
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=30), usegmt=True)) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_simbad_build_pages_skips_malformed_and_keeps_six_papers(tmp_path):
    with FakeServices(n_objects=23, malformed=2) as fake:
        fake.fail_next["/crossref/works"].append((429, {"Retry-After": "0"}))
        fake.fail_next["/hips2fits"].append((500, {}))
        report = archives.build("simbad", tmp_path / "out", None, simbad_overrides(fake, tmp_path), False)
        expected = bright_wellformed(fake)
        n_bright = len(expected) + sum(
            o["ra"] is None and any(o[b] is not None and o[b] < 6.5 for b in "BVRG") for o in fake.objects
        )
        # keyset pagination: ceil(n/4) object pages (plus an empty one when n divides evenly)
        object_pages = sum("FROM basic" in k for k in fake.served)
        assert object_pages == n_bright // 4 + 1
        assert fake.duplicates() == {}
    rows = load_rows(tmp_path / "out")
    assert sorted(r["object_id"] for r in rows) == sorted(" ".join(o["main_id"].split()) for o in expected)
    assert report["rows"] == len(rows) and report["images"] == len(rows)
    malformed = [s for s in report["skipped"] if "malformed row" in s["reason"]]
    assert len(malformed) == n_bright - len(expected) >= 1
    assert report["http"]["crossref"]["retries"] == 1 and report["http"]["hips2fits"]["retries"] == 1
    on_disk = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert on_disk["skipped_count"] == len(report["skipped"])
    row = next(r for r in rows if r["object_id"] == " ".join(expected[0]["main_id"].split()))
    assert row["image"].size == (500, 500) and row["image"].mode == "L"
    assert (
        row["names"][0] == row["object_id"]
        and f"Fake Star {int(row['object_id'].split()[1]) - 100000}" in row["names"]
    )
    papers = row["text"].split("\n\n")[1:]
    assert 1 <= len(papers) <= 6
    assert any("Study" in p and "<jats" not in p and "&amp;" not in p for p in papers)
    assert row["caption"].endswith("; " + row["caption"].split("; ")[1]) and row["type"] in row["caption"]
    # SIMBAD, Crossref and the HiPS surveys are public services: no row has a proprietary period
    assert all(r["release_date"] is None and r["program_id"] is None for r in rows)


def test_interrupted_simbad_build_resumes_without_duplicate_fetches(tmp_path):
    with FakeServices(n_objects=20, malformed=0) as fake:
        overrides = simbad_overrides(fake, tmp_path, "http.max_retries=1")
        fake.outage_after["/hips2fits"] = 5
        with pytest.raises(ServiceUnavailable, match="rerun"):
            archives.build("simbad", tmp_path / "out", None, overrides, False)
        assert not (tmp_path / "out").exists()
        first_run = sum(n for k, n in fake.served.items() if k.startswith("/hips2fits"))
        assert first_run == 5
        del fake.outage_after["/hips2fits"]
        report = archives.build("simbad", tmp_path / "out", None, overrides, False)
        assert fake.duplicates() == {}  # nothing answered in the first run was asked again
        n = len(bright_wellformed(fake))
        assert sum(v for k, v in fake.served.items() if k.startswith("/hips2fits")) == n
        assert report["http"]["hips2fits"]["cache_hits"] == 5
        before = sum(fake.requests.values())
        again = archives.build("simbad", tmp_path / "out", None, overrides, True)
        assert sum(fake.requests.values()) == before  # a complete cache needs no network at all
        assert again["rows"] == report["rows"] == n


def test_existing_output_fails_before_any_request(tmp_path):
    (tmp_path / "out").mkdir()
    with FakeServices(n_objects=3) as fake:
        with pytest.raises(FileExistsError, match="--overwrite"):
            archives.build("simbad", tmp_path / "out", None, simbad_overrides(fake, tmp_path), False)
        assert sum(fake.requests.values()) == 0
    with pytest.raises(ConfigError, match="unknown field"):
        archives.build("simbad", tmp_path / "x", None, ["no_such_field=1"], False)
    with pytest.raises(ValueError, match="unknown archive source"):
        archives.build("ned", tmp_path / "x", None, [], False)


def test_hst_build_pages_mast_excludes_colour_and_splits_by_proposal(tmp_path):
    with FakeServices(n_proposals=5) as fake:
        u = fake.urls()
        ids = sorted(fake.proposals)
        (tmp_path / "ids.txt").write_text(
            "\n".join(map(str, ids[2:])) + "\n# and one without a Phase II file\n4\n"
        )
        overrides = [
            f"stsci_url={u['stsci_url']}",
            f"mast_url={u['mast_url']}",
            f"http.cache_dir={tmp_path / 'c'}",
            "page_size=2",
            "products_batch=2",
            "images_per_proposal=4",
            f"proposal_ids={ids[:2]}",
            f"proposal_id_file={tmp_path / 'ids.txt'}",
            "mast.rate_per_s=500",
            "stsci.rate_per_s=500",
        ]
        report = archives.build("hst", tmp_path / "out", None, overrides, False)
        # MAST paging: proposals with 3+ observations needed a second page of Mast.Caom.Filtered
        filtered = [k for k in fake.served if "Mast.Caom.Filtered" in k]
        assert any('\\"page\\": 2' in k for k in filtered)
        assert fake.duplicates() == {}
    rows = load_rows(tmp_path / "out")
    no_abstract = ids[-1]
    kept = {r["object_id"] for r in rows}
    assert kept == {f"hst:{p}" for p in ids if p != no_abstract}
    reasons = {s["record"]: s["reason"] for s in report["skipped"]}
    assert "abstract" in reasons[f"proposal {no_abstract}"] and "HTTP 404" in reasons["proposal 4"]
    assert report["colour_previews_excluded"] >= 1
    for pid in kept:
        mine = [r for r in rows if r["object_id"] == pid]
        assert len(mine) == 4 and len({r["split"] for r in mine}) == 1
        assert mine[0]["text"].startswith(fake.proposals[int(pid[4:])]["title"])
    im = np.asarray(rows[0]["image"])
    assert im.shape == (512, 512)
    assert (im[:40] == 255).all() and im[200:300].std() > 20  # 320x240 preview padded with white bands
    assert all("colour" not in r["id"] for r in rows)
    # access: the proposal is the program; its rows are released with its last chosen observation
    for pid in kept:
        mine = [r for r in rows if r["object_id"] == pid]
        assert {r["program_id"] for r in mine} == {pid[4:]}
        assert len({r["release_date"] for r in mine}) == 1
    private = {r["object_id"] for r in rows if r["release_date"] > date(2100, 1, 1)}
    assert private == {f"hst:{ids[1]}"}
    assert all(r["release_date"] < date(2010, 1, 1) for r in rows if r["object_id"] != f"hst:{ids[1]}")


def test_parse_phase2_strips_page_headers():
    text = (
        "Title\nA deep look at\n  fake galaxies \n"
        + "-" * 60
        + "\nType  Cycle\nSNAP  31\n"
        + "-" * 60
        + "\nInvestigators\n    PI: Dr. Jane Roe          Somewhere   Y\n"
        + "-" * 60
        + "\nAbstract\n\nFirst line\n"
        "    12345( 3) - 01-Jan-2024 10:00:00 - [  2]\nsecond line.\n" + "-" * 60 + "\n"
    )
    assert parse_phase2(text) == {
        "title": "A deep look at fake galaxies",
        "abstract": "First line second line.",
        "category": "SNAP",
        "cycle": "31",
        "pi": "Dr. Jane Roe",
    }
    with pytest.raises(ValueError, match="without abstract"):
        parse_phase2("Title\nOnly a title\n" + "-" * 60 + "\n")


def make_galaxy10(path, n=24, bad_label_at=3):
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        yy, xx = np.mgrid[:256, :256]
        blob = (200 * np.exp(-((xx - 128) ** 2 + (yy - 128) ** 2) / 800)).astype(np.uint8)
        f["images"] = np.stack([np.stack([blob, blob // 2, blob // 3], -1)] * n) + rng.integers(
            0, 20, (n, 256, 256, 3), dtype=np.uint8
        )
        labels = np.arange(n) % 10
        labels[bad_label_at] = 12
        f["ans"] = labels.astype(np.uint8)
        f["ra"], f["dec"] = rng.uniform(0, 360, n), rng.uniform(-20, 60, n)
        f["redshift"] = rng.uniform(0.01, 0.2, n)


def test_galaxy10_from_hdf5_through_the_cli(tmp_path):
    from hubbleclip.archives.galaxy10 import CLASSES
    from hubbleclip.cli import main

    make_galaxy10(tmp_path / "g10.h5")
    code = main(
        [
            "data",
            "build",
            "--source",
            "galaxy10",
            "--out",
            str(tmp_path / "out"),
            "--set",
            f"path={tmp_path / 'g10.h5'}",
            "--set",
            f"http.cache_dir={tmp_path / 'c'}",
            "--set",
            "chunk=5",
        ]
    )
    assert code == 0
    rows = load_rows(tmp_path / "out")
    assert len(rows) == 23 and "galaxy10:00003" not in {r["id"] for r in rows}
    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert report["skipped"][0]["record"] == "galaxy10 #3" and "label 12" in report["skipped"][0]["reason"]
    r = next(r for r in rows if r["id"] == "galaxy10:00005")
    assert r["type"] == CLASSES[5][0] == "barred spiral galaxy" and r["caption"].startswith(
        "barred spiral galaxy;"
    )
    with h5py.File(tmp_path / "g10.h5") as f:
        assert np.array_equal(np.asarray(r["image"]), f["images"][5])  # lossless
        assert r["ra_deg"] == pytest.approx(float(f["ra"][5]))
    assert {r["split"] for r in rows} == {"train", "val", "test"}


def test_galaxy10_bad_files_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape("nope.h5")):
        archives.build("galaxy10", tmp_path / "o", None, [f"path={tmp_path / 'nope.h5'}"], False)
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["images"] = np.zeros((2, 8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match=r"x\.h5 lacks dataset\(s\) \['ans'\]"):
        archives.build("galaxy10", tmp_path / "o", None, [f"path={tmp_path / 'x.h5'}"], False)


# how a terminal starts a command: Ctrl-C neither ignored nor blocked, whatever the test runner's state
INTERACTIVE = (
    "import signal, sys; signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT}); "
    "signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from hubbleclip.cli import main; sys.exit(main(sys.argv[1:]))"
)


class Child:
    """``hubbleclip data build --source simbad`` in a subprocess, its stderr read line by line."""

    def __init__(self, fake: FakeServices, tmp_path):
        argv = ["data", "build", "--source", "simbad", "--out", str(tmp_path / "out")]
        argv += [a for o in simbad_overrides(fake, tmp_path) for a in ("--set", o)]
        env = {**os.environ, "COLUMNS": "250"}  # log lines unwrapped
        self.proc = subprocess.Popen(
            [sys.executable, "-c", INTERACTIVE, *argv], stderr=subprocess.PIPE, text=True, env=env
        )
        self.lines: list[str] = []
        self.stopping = threading.Event()  # the build noticed the interrupt
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)
            if "stopping (interrupted)" in line:
                self.stopping.set()

    def err(self) -> str:
        return "".join(self.lines)

    def wait_for(self, event: threading.Event, what: str) -> None:
        """Until ``event``; fails at once if the child exits first (the cap only bounds a hang)."""
        for _ in range(1200):
            if event.wait(0.1):
                return
            assert self.proc.poll() is None, f"exit {self.proc.returncode} before {what}: {self.err()}"
        pytest.fail(f"no {what} in 120 s: {self.err()}")

    def exit_code(self) -> int:
        self.proc.wait(timeout=120)
        self._reader.join(timeout=10)
        return self.proc.returncode


def test_ctrl_c_keeps_what_was_fetched(tmp_path):
    """SIGINT mid-build (a user's Ctrl-C): exit 130, no output, the cut-outs on the wire when it
    came are cached, and the rerun asks nothing twice."""
    with FakeServices(n_objects=40, malformed=0) as fake:
        fake.hold_after["/hips2fits"] = 4  # the 5th cut-out and later wait: the signal lands mid-build
        child = Child(fake, tmp_path)
        child.wait_for(fake.holding, "a held cut-out request")
        child.proc.send_signal(signal.SIGINT)
        child.wait_for(child.stopping, "'stopping (interrupted)'")
        fake.release.set()  # the requests in flight are answered and must reach the cache
        assert child.exit_code() == 130, child.err()
        assert not (tmp_path / "out").exists()
        fetched = sum(n for k, n in fake.served.items() if k.startswith("/hips2fits"))
        assert 5 <= fetched < len(bright_wellformed(fake))
        report = archives.build("simbad", tmp_path / "out", None, simbad_overrides(fake, tmp_path), False)
        assert fake.duplicates() == {}
        assert report["http"]["hips2fits"]["cache_hits"] == fetched
        assert report["rows"] == len(bright_wellformed(fake))


def test_second_ctrl_c_stops_without_waiting_for_requests_in_flight(tmp_path):
    with FakeServices(n_objects=12, malformed=0) as fake:
        fake.hold_after["/hips2fits"] = 0  # no cut-out is ever answered while the build runs
        child = Child(fake, tmp_path)
        child.wait_for(fake.holding, "a held cut-out request")
        child.proc.send_signal(signal.SIGINT)
        child.wait_for(child.stopping, "'stopping (interrupted)'")
        child.proc.send_signal(signal.SIGINT)
        assert child.exit_code() == 130, child.err()
        assert "interrupted\n" in child.lines and not (tmp_path / "out").exists()


@pytest.fixture
def python_sigint():
    """Python's own SIGINT handler, as under a terminal: a job that a non-interactive shell starts in
    the background inherits SIGINT ignored, and Python then installs no handler."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("python_sigint")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_dropped_by_a_finaliser_still_stops_the_build():
    """Python prints and drops a KeyboardInterrupt raised inside ``__del__``; the build stops anyway."""

    class Finaliser:
        def __del__(self):
            signal.raise_signal(signal.SIGINT)  # the handler runs here, inside the finaliser

    carried_on = []
    with pytest.raises(KeyboardInterrupt), stop_on_ctrl_c():
        Finaliser()  # collected at once
        carried_on.append(True)
    assert carried_on and signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.usefixtures("python_sigint")
def test_a_ctrl_c_in_the_event_loop_stops_even_a_build_that_swallows_cancellation():
    async def stubborn() -> str:
        try:
            signal.raise_signal(signal.SIGINT)  # the loop's handler cancels this task
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            return "carried on"
        return "not cancelled"

    with pytest.raises(KeyboardInterrupt), stop_on_ctrl_c():
        run_async(stubborn())
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert run_async(asyncio.sleep(0, "done")) == "done"  # outside a build: plain asyncio.run
