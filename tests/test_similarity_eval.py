"""Similarity evaluation metrics and the `similarity evaluate` job on the tiny skyset's FIRST images."""

import json

import numpy as np
import pytest

from hubbleclip.cli import main
from hubbleclip.metrics.similarity import label_metrics
from hubbleclip.similarity.neighbours import nearest_others


def test_label_metrics_by_hand():
    # points on the unit circle: neighbours by angle
    angles = np.array([0.0, 0.1, 0.25, 3.0, 3.1])
    emb = np.stack([np.cos(angles), np.sin(angles)], 1).astype(np.float32)
    labels = np.array(["a", "a", "b", "b", "b"])
    m = label_metrics(nearest_others(emb, 4), labels, precision_k=1, map_k=4)
    # nearest other image: 0->1 (a, hit), 1->0 (hit), 2->1 (miss), 3->4, 4->3 (hits)
    assert m["precision@1"] == pytest.approx(4 / 5)
    # image 2 ranks 1 (a), 0 (a), 3 (b), 4 (b): AP = (1/3 + 2/4) / 2
    ap = [1, 1, (1 / 3 + 2 / 4) / 2, 1, 1]
    assert m["mAP@4"] == pytest.approx(np.mean(ap))


def test_evaluate_job_on_first_images(tiny_skyset, tiny, tmp_path, capsys):
    out = tmp_path / "eval"
    code = main(
        [
            "similarity",
            "evaluate",
            "--dataset",
            tiny_skyset,
            "--splits",
            "train,val,test",
            "--encoders",
            f"random,features:{tiny['tiny-lit']}",
            "--precision_k",
            "3",
            "--map_k",
            "5",
            "--loose_batch",
            "6",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert [r["encoder"] for r in results] == ["random", f"features:{tiny['tiny-lit']}"]
    for r in results:
        assert r["images"] == 12 and 0 <= r["precision@3"] <= 1 and 0 <= r["mAP@5"] <= 1
        assert 0 <= r["loose_accuracy"] <= 1
    assert f"| features:{tiny['tiny-lit']} |" in (out / "results.md").read_text()
    assert "precision@3" in capsys.readouterr().out
