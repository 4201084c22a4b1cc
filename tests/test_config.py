"""The config system (dataclasses <- YAML <- CLI) and atomic I/O."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import pytest
import yaml

from hubbleclip.config import ConfigError, add_config_arguments, config_from_args, load_config, save_config
from hubbleclip.io import atomic_directory, atomic_write_json
from hubbleclip.runs import MetricsLog, setup_run_dir


@dataclass
class Optim:
    lr: float = 1e-3
    betas: list[float] = field(default_factory=lambda: [0.9, 0.98])


@dataclass
class Cfg:
    name: str = "run"
    steps: int = 10
    lock_image: bool = False
    note: str | None = None
    optim: Optim = field(default_factory=Optim)


def test_defaults_yaml_and_overrides_merge_in_order(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("steps: 20\noptim:\n  lr: 1.0e-5\n")
    cfg = load_config(Cfg, path, ["optim.betas=0.8,0.9", "lock_image=true", "note=hello"])
    assert cfg == Cfg(steps=20, lock_image=True, note="hello", optim=Optim(lr=1e-5, betas=[0.8, 0.9]))
    assert load_config(Cfg, None, {"name": "", "note": ""}) == Cfg(name="", note=None)  # "" stays a string


@pytest.mark.parametrize(
    "text, message",
    [
        ("stepz: 3\n", r"c\.yaml: unknown field\(s\) \['stepz'\]"),
        ("steps: 2.5\n", r"c\.yaml\.steps: expected an integer"),
        ("optim: 3\n", r"c\.yaml\.optim: expected a mapping for Optim"),
        ("lock_image: maybe\n", r"lock_image: expected true/false"),
        ("- a\n- b\n", "expected a mapping at the top level"),
        ("steps: [1\n", "not valid YAML"),
    ],
)
def test_bad_config_names_file_and_field(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(Cfg, path)


def test_missing_file_and_bad_override(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(Cfg, tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_config(Cfg, None, ["steps"])


def test_cli_flags_and_saved_config_round_trip(tmp_path):
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, Cfg)
    args = parser.parse_args(
        ["--optim.lr", "0.5", "--lock-image", "yes", "--steps", "7", "--optim.betas", "0.7"]
    )
    cfg = config_from_args(args, Cfg)
    assert (cfg.optim.lr, cfg.lock_image, cfg.steps, cfg.optim.betas) == (0.5, True, 7, [0.7])
    save_config(cfg, tmp_path / "resolved.yaml")
    assert load_config(Cfg, tmp_path / "resolved.yaml") == cfg
    assert yaml.safe_load((tmp_path / "resolved.yaml").read_text())["optim"]["lr"] == 0.5


def test_atomic_directory_replaces_only_on_success(tmp_path):
    final = tmp_path / "out"
    with atomic_directory(final) as tmp:
        (tmp / "a.txt").write_text("one")
    with pytest.raises(RuntimeError), atomic_directory(final, overwrite=True) as tmp:
        (tmp / "a.txt").write_text("two")
        raise RuntimeError("killed half-way")
    assert (final / "a.txt").read_text() == "one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    with atomic_directory(final, overwrite=True) as tmp:
        (tmp / "a.txt").write_text("three")
    assert (final / "a.txt").read_text() == "three"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_run_dir_writes_config_log_and_metrics(tmp_path):
    import logging

    run = setup_run_dir(tmp_path / "run", Cfg(steps=3))
    logging.getLogger("hubbleclip.test").info("hello from the test")
    log = MetricsLog(run / "metrics.jsonl")
    log.log(step=1, loss=0.5)
    log.log(step=2, loss=0.25)
    assert [r["loss"] for r in log.read()] == [0.5, 0.25]
    assert load_config(Cfg, run / "config.yaml").steps == 3
    for h in logging.getLogger("hubbleclip").handlers:
        h.flush()
    assert "hello from the test" in (run / "run.log").read_text()
    atomic_write_json(run / "r.json", {"x": 1})
    assert (run / "r.json").read_text().strip() == '{\n  "x": 1\n}'


def test_a_choice_spelled_like_a_yaml_bool_is_read_as_the_choice():
    from hubbleclip.training import TrainConfig

    assert load_config(TrainConfig, None, ["optim.mixed_precision=no"]).optim.mixed_precision == "no"
    with pytest.raises(ConfigError, match="expected one of"):
        load_config(TrainConfig, None, ["optim.mixed_precision=yes"])
