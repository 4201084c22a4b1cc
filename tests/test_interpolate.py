import json

import pytest
import torch

from hubbleclip.cli import main
from hubbleclip.config import load_config
from hubbleclip.errors import UserError
from hubbleclip.models import load_model
from hubbleclip.studies.config import InterpolateConfig
from hubbleclip.studies.interpolate import write_interpolations
from hubbleclip.training import TrainConfig, train


def test_wise_ft_exports_mix_the_weights_and_give_an_alpha_curve(tiny, tiny_skyset, tmp_path):
    run = tmp_path / "run"
    overrides = {
        "out": str(run),
        "model.spec": tiny["tiny-lit"],
        "data.path": tiny_skyset,
        "data.val_split": "",
        "optim.batch_size": 8,
        "optim.max_steps": 4,
        "optim.lr": 1e-2,
        "checkpoint.every_steps": 4,
        "freeze.cache_dir": str(tmp_path / "cache"),
        "threads": 2,
    }
    train(load_config(TrainConfig, None, overrides))
    out = tmp_path / "wise"
    args = [
        "interpolate",
        "--base",
        tiny["tiny-lit"],
        "--tuned",
        str(run),
        "--alpha",
        "0,0.5,1",
        "--out",
        str(out),
    ]
    assert main([*args, "--evaluate", "true", "--eval_dataset", tiny_skyset]) == 0

    base, tuned = load_model(tiny["tiny-lit"]).state_dict(), load_model(run).state_dict()
    mixed = {a: load_model(out / f"alpha-{a}").state_dict() for a in ("0.00", "0.50", "1.00")}
    changed = [k for k in base if base[k].is_floating_point() and not torch.equal(base[k], tuned[k])]
    assert changed
    for k in changed:
        torch.testing.assert_close(mixed["0.00"][k], base[k])
        torch.testing.assert_close(mixed["1.00"][k], tuned[k])
        torch.testing.assert_close(mixed["0.50"][k], (base[k] + tuned[k]) / 2)

    curve = json.loads((out / "alpha_curve.json").read_text())
    assert [row["alpha"] for row in curve] == [0.0, 0.5, 1.0]
    compared = json.loads((out / "compare" / "results.json").read_text())["retrieval"]["models"]
    ends = [compared[a]["image_to_text"]["all"]["metrics"]["R@1"] for a in ("0.00", "1.00")]
    assert [curve[0]["image → text R@1, all"], curve[-1]["image → text R@1, all"]] == ends
    n_texts = compared["0.00"]["image_to_text"]["all"]["n_candidates"]
    assert (curve[0]["image → text acc@10%, all"] is None) == (n_texts < 10)  # its cut-off is 0 there
    assert (out / "alpha_curve.md").read_text().count("\n| ") == 3

    stamp = (out / "alpha-0.50" / "hubbleclip.json").stat().st_mtime_ns
    assert main(args) == 0  # a rerun keeps the exports it already wrote
    assert (out / "alpha-0.50" / "hubbleclip.json").stat().st_mtime_ns == stamp
    with pytest.raises(UserError, match="differ in their weights"):
        write_interpolations(
            InterpolateConfig(base=tiny["tiny-open_clip"], tuned=str(run), out=str(tmp_path / "x"))
        )
