"""The ablation study and the cross-validation by object, end to end on the tiny skyset with tiny-lit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hubbleclip.data.load import load_dataset_dict
from hubbleclip.data.splits import object_folds
from hubbleclip.errors import UserError
from hubbleclip.evaluation.results import load_results
from hubbleclip.figures import study_curves
from hubbleclip.figures.study import draw
from hubbleclip.studies.config import CrossValConfig, StudyConfig
from hubbleclip.studies.crossval import run_crossval
from hubbleclip.studies.study import parse_cell, run_study
from hubbleclip.studies.study_report import render_crossval

TRAIN_YAML = """\
log_every: 1
threads: 2
freeze: {lock_image: true, lock_text: true, cache_features: true}
optim: {lr: 1.0e-3, batch_size: 8, max_steps: 3}
eval: {every_steps: 3, batch_size: 3, top_k: 2}
checkpoint: {every_steps: 3}
"""


@pytest.fixture
def train_yaml(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text(TRAIN_YAML)
    return str(path)


def test_study_trains_the_grid_and_writes_table_and_figure(tiny, tiny_skyset, tmp_path, train_yaml):
    cfg = StudyConfig(
        dataset=tiny_skyset,
        out=str(tmp_path / "study"),
        train_config=train_yaml,
        base=tiny["tiny-lit"],
        scratch=tiny["tiny-lit"],
        cells=["heads/caption", "heads/caption_llm", "heads/text_chunks", "scratch/caption"],
        split="train",
        cache_dir=str(tmp_path / "cache"),
    )
    cfg.bootstrap.samples = 50
    study = run_study(cfg)
    assert set(study["cells"]) == {"heads/caption", "heads/text_chunks", "scratch/caption"}
    assert "heads/caption_llm" in study["skipped"]  # the tiny skyset has no LLM captions
    assert all(r["train_seconds"] >= 0 and r["steps"] == 3 for r in study["cells"].values())
    results = json.loads((tmp_path / "study" / "eval" / "results.json").read_text())
    assert list(results["models"]) == ["base", "scratch", *study["cells"], "random"]
    for block in results["retrieval"]["models"]["heads/caption"].values():
        assert block["all"]["candidates"] == "pooled" and block["stellarium"]["candidates"] == "same_source"
    table = (tmp_path / "study" / "study.md").read_text()
    assert (
        "stellarium (same-source" in table
        and "all (pooled" in table
        and "`heads/caption_llm` skipped" in table
    )
    assert set(study["general_domain"]) == set(study["models"])
    figure = draw(load_results(tmp_path / "study" / "eval"), tmp_path / "fig")
    assert [p.suffix for p in figure] == [".png", ".pdf"]
    curves = study_curves.draw(load_results(tmp_path / "study" / "eval"), tmp_path / "curves")
    assert [p.suffix for p in curves] == [".png", ".pdf"]
    # a rerun reuses the finished cells instead of training them again
    assert run_study(cfg)["cells"] == study["cells"]


def test_wilson_band_matches_hand_computed_bounds():
    # p = 0.5 over n = 100: centre 0.5, half-width z*sqrt(0.0025 + z^2/40000)/(1 + z^2/100)
    low, high = study_curves.wilson_band(np.array([0.5, 0.0, 1.0]), 100)
    assert low[0] == pytest.approx(0.40383, abs=1e-5) and high[0] == pytest.approx(0.59617, abs=1e-5)
    assert low[1] == 0.0 and high[1] == pytest.approx(0.03699, abs=1e-5)  # never below 0 nor above 1
    assert low[2] == pytest.approx(0.96301, abs=1e-5) and high[2] == 1.0


def test_study_cells_are_checked():
    assert parse_cell("lora_text/text_chunks") == ("lora_text", "text_chunks")
    for bad in ("heads", "heads/abstracts", "full/caption"):
        with pytest.raises(UserError, match="TRAINING/CAPTIONS"):
            parse_cell(bad)


def test_object_folds_keep_objects_together_and_balance():
    ids = [f"o{i // 2}" for i in range(40)]  # 20 objects, two rows each
    folds = object_folds(ids, 3, seed=1)
    assert all(len(set(folds[[j for j, o in enumerate(ids) if o == obj]])) == 1 for obj in set(ids))
    assert sorted(np.bincount(folds) // 2) == [6, 7, 7]
    assert (object_folds(ids, 3, seed=1) == folds).all()
    with pytest.raises(UserError, match="folds"):
        object_folds(ids, 21)


def test_crossval_evaluates_every_image_once(tiny, tiny_skyset, tmp_path, train_yaml):
    cfg = CrossValConfig(
        dataset=tiny_skyset,
        out=str(tmp_path / "cv"),
        folds=3,
        train_config=train_yaml,
        base=tiny["tiny-lit"],
        scratch=tiny["tiny-lit"],
        cache_dir=str(tmp_path / "cache"),
    )
    cfg.bootstrap.samples = 50
    cv = run_crossval(cfg)
    dd = load_dataset_dict(tiny_skyset)
    n_stellarium = sum(
        sum(s == "stellarium" and img is not None for s, img in zip(ds["source"], ds["image"]))
        for ds in dd.values()
    )
    assert sum(cv["images_per_fold"]) == n_stellarium == cv["models"]["base"]["image_to_text"]["n_queries"]
    folds = load_dataset_dict(tmp_path / "cv" / "folds")
    for k in range(3):  # no object is both trained on and tested in a fold
        assert not set(folds[f"train{k}"]["object_id"]) & set(folds[f"test{k}"]["object_id"])
    assert set(cv["models"]) == {"base", "scratch", "tuned", "random"} and set(cv["deltas"]) == {
        "scratch",
        "tuned",
    }
    est = cv["models"]["tuned"]["text_to_image"]["metrics"]["R@1"]
    assert est["low"] <= est["value"] <= est["high"]
    assert "3-fold cross-validation by object: stellarium" in render_crossval(cv)
