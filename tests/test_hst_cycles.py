"""The HST dataset by cycle, as PAPERCLIP builds it: proposals of some cycles of STScI's abstracts
catalogue (a local file or fetched), MAST previews, against the loopback fake in tests/fake_hst.py.
Expected IDs and counts are worked out by hand from tests/data/hst/abstracts.cat and PLAN."""

from __future__ import annotations

import gzip
import json

import datasets
import numpy as np
import pytest
from fake_hst import CATALOGUE, FakeHST

from hubbleclip import archives
from hubbleclip.archives.abstracts import parse_catalogue, parse_cycles
from hubbleclip.archives.client import ServiceUnavailable
from hubbleclip.errors import UserError

FAST = ["mast.rate_per_s=500", "stsci.rate_per_s=500", "http.backoff_s=0.01", "http.max_retries=1"]


def overrides(fake: FakeHST, tmp_path, *extra: str) -> list[str]:
    u = fake.urls()
    return [
        f"abstracts_url={u['abstracts_url']}",
        f"stsci_url={u['stsci_url']}",
        f"mast_url={u['mast_url']}",
        f"http.cache_dir={tmp_path / 'cache'}",
        "images_per_proposal=4",
        "page_size=2",  # proposals with 3 observations need a second page
        *FAST,
        *extra,
    ]


def load_rows(path) -> list[dict]:
    dd = datasets.load_from_disk(str(path))
    return [dict(r, split=s) for s in dd for r in dd[s]]


def served(fake: FakeHST, prefix: str) -> int:
    return sum(n for k, n in fake.served.items() if k.startswith(prefix))


def test_cycles_read_as_a_cycle_a_range_or_a_list():
    assert parse_cycles("25-26") == [25, 26]
    assert parse_cycles("1-30") == list(range(1, 31))
    assert parse_cycles("24,26") == [24, 26]
    assert parse_cycles(" 1-3, 7 ,2") == [1, 2, 3, 7]
    assert parse_cycles("25") == [25]
    for bad in ("26-25", "25-", "x", "", "25..26", "24;26", "-3"):
        with pytest.raises(UserError, match="cycles: cannot read"):
            parse_cycles(bad)


def test_catalogue_layout():
    records = {r.proposal_id: r for r in parse_catalogue(CATALOGUE.read_text())}
    assert sorted(records) == [9999, 14000, 14500, 14501, 14502, 15000, 15001, 15002, 15500]
    r = records[14500]
    assert (r.cycle, r.prop_type, r.category, r.pi) == (25, "GO", "STELLAR PHYSICS", "Jane Roe")
    assert r.title == "Resolving the winds of massive stars in the Small and Large Magellanic Clouds"
    assert r.abstract.startswith("Massive stars lose") and r.abstract.endswith("wind-blown bubbles.")
    assert "  " not in r.abstract and "\n" not in r.abstract
    assert records[14501].category == "" and records[14501].prop_type == "CAL/ACS"
    assert records[14502].abstract == "" and records[9999].cycle is None
    assert r.info() == {
        "title": r.title,
        "abstract": r.abstract,
        "category": "GO",
        "cycle": "25",
        "pi": "Jane Roe",
    }
    # once the abstract has begun, a line that looks like a key is abstract text
    text = "ID: 7\nCycle: 3\nTitle: T\nPI: P\n\nFirst line\nPI: not a key here.\n-----\nID: 7\nCycle: 4\n"
    (only,) = parse_catalogue(text)
    assert (only.cycle, only.abstract) == (3, "First line PI: not a key here.")  # the first of an ID wins


def test_build_by_cycle_from_a_file(tmp_path):
    with FakeHST() as fake:
        report = archives.build(
            "hst",
            tmp_path / "out",
            None,
            overrides(fake, tmp_path, "cycles=25-26", f"abstracts_file={CATALOGUE}"),
            False,
        )
        assert fake.requests["/stsci/"] == 0  # the file gives every text: no catalogue, no Phase II
        # 14502 has no abstract, so MAST was never asked about it; cycles 24 and 27 are left out
        assert fake.mast_proposals() == {14500, 14501, 15000, 15001, 15002}
        assert any('\\"page\\": 2' in k for k in fake.served if "Mast.Caom.Filtered" in k)
        assert fake.duplicates() == {}
    rows = load_rows(tmp_path / "out")
    by_pid = {pid: [r for r in rows if r["object_id"] == f"hst:{pid}"] for pid in (14500, 15001, 15002)}
    assert {r["object_id"] for r in rows} == {"hst:14500", "hst:15001", "hst:15002"}
    assert [len(v) for v in by_pid.values()] == [4, 4, 2]
    reasons = {s["record"]: s["reason"] for s in report["skipped"]}
    assert reasons == {
        "proposal 14501": "no HST image observations in MAST",
        "proposal 14502": "no abstract in the abstracts catalogue",
        "proposal 15000": "no greyscale preview images in MAST",
    }
    # 14500: both colour composites by name; 15000: one by name, one by its pixels; 15001: three by name
    assert report["colour_previews_excluded"] == 2 + 2 + 3
    assert report["catalogue"] == {"source": str(CATALOGUE), "records": 9, "in_cycles": 6}
    assert report["cycles"] == [25, 26] and report["proposals"] == {"requested": 6, "with_images": 3}
    r = by_pid[14500][0]
    assert r["text"].startswith(
        "Resolving the winds of massive stars in the Small and Large Magellanic Clouds\n\n"
    )
    assert r["caption"].endswith("; GO program, cycle 25") and "Jane Roe" in r["credit"]
    assert r["program_id"] == "14500" and r["names"][1].startswith("TARGET-14500-")
    assert all("color" not in r["id"] for r in rows)
    assert {len({r["split"] for r in v}) for v in by_pid.values()} == {1}  # split by proposal
    im = np.asarray(r["image"])
    assert im.shape == (512, 512) and (im[:40] == 255).all()  # 320x240 padded with white bands


def test_build_by_cycle_online_takes_a_list_and_the_paperclip_preview_filter(tmp_path):
    with FakeHST() as fake:
        args = overrides(fake, tmp_path, "cycles=24,26", "preview_name_contains=total")
        report = archives.build("hst", tmp_path / "out", None, args, False)
        assert served(fake, "/stsci/abstracts.cat") == 1 and fake.requests["/stsci/"] == 1
        assert fake.mast_proposals() == {14000, 15000, 15001, 15002}
        rows = load_rows(tmp_path / "out")
        # 14000: one "total" preview in each of its 2 observations; 15001: 4 of its 6; 15002: 1
        counts = {pid: sum(r["object_id"] == f"hst:{pid}" for r in rows) for pid in (14000, 15001, 15002)}
        assert counts == {14000: 2, 15001: 4, 15002: 1} and len(rows) == 7
        assert all("_total_" in r["id"] for r in rows)
        assert report["catalogue"]["source"] == fake.urls()["abstracts_url"]
        assert report["catalogue"]["in_cycles"] == 4
        before = sum(fake.requests.values())
        again = archives.build("hst", tmp_path / "out", None, args, True)
        assert sum(fake.requests.values()) == before  # a complete cache needs no network
        assert again["rows"] == report["rows"] == 7
    # the same seed picks the same previews
    assert {r["id"] for r in load_rows(tmp_path / "out")} == {r["id"] for r in rows}


def test_a_gzipped_latin1_catalogue_and_hand_picked_ids_outside_the_cycles(tmp_path):
    body = gzip.compress(CATALOGUE.read_text().replace("Jane Roe", "Jos\u00e9 Ro\u00eb").encode("latin-1"))
    with FakeHST(catalogue=body) as fake:
        args = overrides(fake, tmp_path, "cycles=25", "proposal_ids=[15500, 14000]")
        archives.build("hst", tmp_path / "out", None, args, False)
        assert fake.requests["/stsci/"] == 1  # the texts of 15500 and 14000 come from the catalogue too
    rows = load_rows(tmp_path / "out")
    assert {r["object_id"] for r in rows} == {"hst:14000", "hst:14500", "hst:15500"}
    assert any("Jos\u00e9 Ro\u00eb" in r["credit"] for r in rows)


def test_bad_input_names_the_field_before_any_request(tmp_path):
    with FakeHST() as fake:

        def build(*extra: str) -> dict:
            return archives.build("hst", tmp_path / "out", None, overrides(fake, tmp_path, *extra), False)

        with pytest.raises(UserError, match=r"cycles: cannot read '26-25'"):
            build("cycles=26-25")
        with pytest.raises(UserError, match=r"abstracts_file: .*nowhere\.cat does not exist"):
            build("cycles=25-26", f"abstracts_file={tmp_path / 'nowhere.cat'}")
        (tmp_path / "empty.cat").write_text("nothing to see\n-----\n")
        with pytest.raises(UserError, match=r"abstracts_file .*empty\.cat: no proposal records"):
            build("cycles=25-26", f"abstracts_file={tmp_path / 'empty.cat'}")
        with pytest.raises(UserError, match=r"no proposals in cycles 40 of the abstracts catalogue"):
            build("cycles=40", f"abstracts_file={CATALOGUE}")
        with pytest.raises(UserError, match=r"set cycles=25-26"):
            build()
        assert sum(fake.requests.values()) == 0
        fake.catalogue = b"<html>a page, not the catalogue</html>"
        with pytest.raises(UserError, match=r"abstracts_url .*: no proposal records"):
            build("cycles=25-26")
    assert not (tmp_path / "out").exists()


def test_an_interrupted_build_by_cycle_resumes_without_fetching_twice(tmp_path):
    with FakeHST() as fake:
        args = overrides(fake, tmp_path, "cycles=24-26")
        fake.outage_after["/mast/api/v0.1/Download/file"] = 3
        with pytest.raises(ServiceUnavailable, match="mast"):
            archives.build("hst", tmp_path / "out", None, args, False)
        assert not (tmp_path / "out").exists()
        assert served(fake, "/mast/api/v0.1/Download/file") == 3
        del fake.outage_after["/mast/api/v0.1/Download/file"]
        report = archives.build("hst", tmp_path / "out", None, args, False)
        assert fake.duplicates() == {}  # nothing answered in the first run was asked again
        assert served(fake, "/stsci/abstracts.cat") == 1
        assert report["http"]["mast"]["cache_hits"] >= 3
    assert json.loads((tmp_path / "out" / "build_report.json").read_text())["proposals"] == {
        "requested": 7,
        "with_images": 4,
    }
