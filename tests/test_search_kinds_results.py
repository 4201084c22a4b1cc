"""Query-kinds results: version 1 files (systems ``today`` / ``new``) read as version 2."""

import json

import pytest

from hubbleclip.errors import UserError
from hubbleclip.search.kinds_results import KindsResults


def _est(value, low, high):
    return {"value": value, "low": low, "high": high}


V1 = {
    "format": "hubbleclip-kinds-results",
    "version": 1,
    "index": "/runs/index",
    "model_spec": "lit-mini",
    "ranking": "learned",
    "k": 10,
    "systems": ["today", "new"],
    "kinds": ["typo", "all"],
    "counts": {"test": {"typo": 2, "all": 2}, "train": {"typo": 0, "all": 0}},
    "metrics": {
        "test": {
            "typo": {
                "today": {"top1": _est(0.5, 0.0, 1.0), "map@10": _est(0.4, 0.1, 0.8)},
                "new": {"top1": _est(1.0, 1.0, 1.0), "map@10": _est(0.9, 0.8, 1.0)},
                "new_minus_today": {"top1": _est(0.5, 0.0, 1.0), "map@10": _est(0.5, 0.2, 0.7)},
            },
            "all": None,
        },
        "train": {"typo": None, "all": None},
    },
    "exact_name_first": {"queries": 1, "violations": []},
    "examples": [
        {
            "query": "andromda galaxy",
            "expect": ["NGC0224"],
            "rule": "first",
            "passed": {"today": False, "new": True},
            "today": ["NGC2685"],
            "new": ["NGC0224"],
        }
    ],
    "per_query": [
        {
            "id": "q1",
            "split": "test",
            "kind": "typo",
            "variant": "",
            "query": "andromda galaxy",
            "n_relevant": 1,
            "metrics": {"today": {"top1": 0.0}, "new": {"top1": 1.0}},
            "top": {"today": ["NGC2685"], "new": ["NGC0224"]},
        }
    ],
    "targets": {"examples_pass": True},
    "timings_s": {"load": 0.1},
}


def test_version_1_reads_with_the_systems_named_for_what_they_do(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(V1))
    old = KindsResults.load(path)
    typo = old.metrics["test"]["typo"]
    assert typo.reference == "ranker_only" and typo.n == 2
    assert typo.estimates["ranker_only"]["map@10"].value == 0.4
    assert typo.estimates["resolver_first"]["top1"].value == 1.0
    assert (typo.differences["resolver_first"]["map@10"].low, old.metrics["test"]["all"]) == (0.2, None)
    assert old.examples[0]["top"] == {"ranker_only": ["NGC2685"], "resolver_first": ["NGC0224"]}
    assert old.examples[0]["passed"] == {"ranker_only": False, "resolver_first": True}
    assert old.per_query[0]["metrics"]["resolver_first"] == {"top1": 1.0}
    assert old.per_query[0]["top"]["ranker_only"] == ["NGC2685"]

    written = old.to_dict()
    assert written["version"] == 2 and written["systems"] == ["ranker_only", "resolver_first"]
    assert "today" not in json.dumps(written) and "new_minus_today" not in json.dumps(written)
    assert KindsResults.from_dict(json.loads(json.dumps(written))) == old


def test_other_files_are_refused_in_one_line():
    with pytest.raises(UserError, match="expected format 'hubbleclip-kinds-results'"):
        KindsResults.from_dict({"format": "hubbleclip-rerank-results", "version": 2})
    with pytest.raises(UserError, match="missing field 'counts'"):
        KindsResults.from_dict({k: v for k, v in V1.items() if k != "counts"})
