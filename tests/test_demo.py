"""The demo's stage runner, and the whole demo end to end on the tiny skyset with tiny models."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from hubbleclip.cli import main
from hubbleclip.demo.pipeline import Stage, read_done, run_stages
from hubbleclip.search.kinds_results import RESOLVER_FIRST, KindsResults

# ------------------------------------------------------------------ runner


def counting_stages(calls: list[str], fail: str | None = None) -> list[Stage]:
    def make(name: str):
        def run(out: Path) -> dict:
            calls.append(name)
            if name == fail:
                raise RuntimeError(f"{name} broke")
            (out / "result.txt").write_text(name)
            return {"result": str(out / "result.txt")}

        return Stage(name, f"stage {name}", run)

    return [make(n) for n in ("a", "b", "c")]


def test_stages_run_once_then_skip_and_force_redoes(tmp_path):
    calls: list[str] = []
    summary = run_stages(counting_stages(calls), tmp_path)
    assert calls == ["a", "b", "c"] and [r["status"] for r in summary] == ["ran"] * 3
    assert read_done(tmp_path, "b")["outputs"] == {"result": str(tmp_path / "b" / "result.txt")}

    calls.clear()
    summary = run_stages(counting_stages(calls), tmp_path)
    assert calls == [] and [r["status"] for r in summary] == ["skipped (done)"] * 3

    run_stages(counting_stages(calls), tmp_path, overwrite=["c"])
    assert calls == ["c"]
    calls.clear()
    run_stages(counting_stages(calls), tmp_path, only=["b"], overwrite=True)
    assert calls == ["b"]
    calls.clear()
    run_stages(counting_stages(calls), tmp_path)  # b ran after c finished: c saw old inputs
    assert calls == ["c"]


def test_a_failed_stage_is_not_done_and_later_stages_wait(tmp_path):
    calls: list[str] = []
    run_stages(counting_stages(calls), tmp_path)
    calls.clear()
    with pytest.raises(RuntimeError, match="b broke"):
        run_stages(counting_stages(calls, fail="b"), tmp_path, overwrite=["b"])
    assert calls == ["b"] and read_done(tmp_path, "b") is None and read_done(tmp_path, "a") is not None
    calls.clear()
    run_stages(counting_stages(calls), tmp_path)
    assert calls == ["b", "c"]


def test_unknown_stage_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"unknown stage\(s\) \['x'\]; expected some of \['a', 'b', 'c'\]"):
        run_stages(counting_stages([]), tmp_path, only=["x"])


# ------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def demo_run(tiny_skyset, tiny, tmp_path_factory):
    """``hubbleclip demo`` on a copy of the tiny skyset: the real SmolLM2 captions two texts, tiny-lit
    trains a few steps, the reranker trains on queries made for this skyset."""
    from hubbleclip.search.queries import make_queries_file

    work = tmp_path_factory.mktemp("demo")
    skyset = work / "skyset"
    shutil.copytree(tiny_skyset, skyset)  # the caption stage writes into it
    queries, _, _ = make_queries_file(skyset, work / "queries.json", seed=0)
    train_config = work / "train.yaml"
    train_config.write_text(
        yaml.safe_dump(
            {
                "log_every": 1,
                "threads": 2,
                "freeze": {"cache_dir": str(work / "cache")},
                "optim": {"batch_size": 8, "max_steps": 6},
                "eval": {"every_steps": 3, "batch_size": 4, "top_k": 2},
                "checkpoint": {"every_steps": 3},
            }
        )
    )
    args = [
        "demo",
        "--out",
        str(work / "run"),
        "--skyset",
        str(skyset),
        "--caption_live",
        "2",
        "--judge.k",
        "2",
        "--judge.max_queries",
        "2",
        "--judge.workers",
        "1",  # a few judgements: one model load is cheaper than two
        "--train_config",
        str(train_config),
        "--base_model",
        tiny["tiny-lit"],
        "--scratch_model",
        tiny["tiny-lit"],
        "--crossval_folds",
        "3",
        "--cache_dir",
        str(work / "cache"),
        "--eval_split",
        "train",
        "--examples",
        "3",
        "--similarity_queries",
        "M42,M57",
        "--rerank.queries",
        str(queries),
        "--rerank.image_queries_first",
        "3",
        "--rerank.shuffles",
        "3",
        "--rerank.ranker.n_estimators",
        "10",
        "--rerank.ranker.folds",
        "2",
        "--rerank.ranker.min_child_samples",
        "5",
        "--kinds.per_kind",
        "8",
        "--kinds.bootstrap.samples",
        "50",
    ]
    assert main(args) == 0
    return work / "run", args


def test_demo_runs_every_stage_and_writes_results(demo_run):
    run_dir, _ = demo_run
    from hubbleclip.demo import STAGE_NAMES

    for stage in STAGE_NAMES:
        assert read_done(run_dir, stage) is not None, stage
    assert (run_dir / "config.yaml").is_file() and (run_dir / "demo.log").is_file()
    # each job's log holds its own lines only; the demo's log holds them all
    assert "indexed 28 images" not in (run_dir / "retrieval" / "rerank" / "run.log").read_text()
    assert "indexed 28 images" in (run_dir / "demo.log").read_text()
    generation = json.loads((run_dir / "captions" / "generation.json").read_text())
    assert generation["live_texts"] == 2 and generation["run"]["generated"] + generation["run"]["failed"] == 2
    judge = json.loads((run_dir / "judge" / "results.json").read_text())
    assert set(judge["models"]) == {"base", "tuned"} and judge["k"] == 2 and len(judge["queries"]) == 2
    compare = json.loads((run_dir / "compare" / "results.json").read_text())
    assert set(compare["retrieval"]["models"]) == {"base", "tuned", "random"}
    study = json.loads((run_dir / "study" / "study.json").read_text())
    assert set(study["models"]) == {
        "base",
        "scratch",
        "heads/caption",
        "heads/caption_llm",
        "scratch/caption",
    }
    assert study["llm_coverage"]["with_caption_llm"] >= 1  # the caption stage's LLM captions
    assert "study/study.md" in (run_dir / "REPORT.md").read_text()
    rerank = json.loads((run_dir / "retrieval" / "rerank" / "results.json").read_text())
    assert set(rerank["systems"]) >= {"random", "bm25", "clip", "learned"}
    similar = json.loads((run_dir / "similarity" / "similar.json").read_text())
    assert [q["query"] for q in similar["queries"]] == ["M42", "M57"]
    for q in similar["queries"]:
        assert q["neighbours"] and q["query_item"]["image_id"] not in {n["image_id"] for n in q["neighbours"]}
        reps = [c["representative"]["image_id"] for c in q["clusters"]]
        assert len(set(reps)) == len(reps) and sum(c["size"] for c in q["clusters"]) >= len(q["neighbours"])


def test_every_figure_is_a_png_and_a_pdf(demo_run):
    run_dir, _ = demo_run
    figures = read_done(run_dir, "figures")["outputs"]["figures"]
    assert {
        "retrieval_curve",
        "training_curves",
        "image_to_text",
        "text_to_image",
        "rerank",
        "similarity_M42",
        "similarity_M57",
    } <= set(figures)
    for name, paths in figures.items():
        assert sorted(Path(p).suffix for p in paths) == [".pdf", ".png"], name
        with Image.open(next(p for p in paths if p.endswith(".png"))) as im:
            assert min(im.size) >= 300, (name, im.size)
            assert np.unique(np.asarray(im.convert("L"))).size > 16, name  # not a blank canvas


def test_report_numbers_come_from_the_results_files(demo_run):
    run_dir, _ = demo_run
    report = (run_dir / "REPORT.md").read_text()
    compare = json.loads((run_dir / "compare" / "results.json").read_text())
    tuned = compare["retrieval"]["models"]["tuned"]["image_to_text"]["all"]["metrics"]["acc@10%"]
    assert f"{tuned['value']:.3f} [{tuned['low']:.3f}, {tuned['high']:.3f}]" in report
    rerank = json.loads((run_dir / "retrieval" / "rerank" / "results.json").read_text())
    learned = rerank["intervals"]["test"]["text"]["learned"]["map@10"]
    assert f"{learned['value']:.3f} [{learned['low']:.3f}, {learned['high']:.3f}]" in report
    judged = json.loads((run_dir / "judge" / "results.json").read_text())["models"]["tuned"][
        "judged_relevant"
    ]
    assert f"{judged['value']:.3f} [{judged['low']:.3f}, {judged['high']:.3f}]" in report
    generation = json.loads((run_dir / "captions" / "generation.json").read_text())
    assert f"Model `{generation['model']}`, prompt version `{generation['prompt_version']}`" in report
    kinds = KindsResults.load(run_dir / "retrieval" / "kinds" / "results.json")
    assert kinds.metrics["test"]["all"].estimates[RESOLVER_FIRST]["top1"].format() in report
    for link in re.findall(r"!\[[^]]*\]\(([^)]+)\)", report):
        assert (run_dir / link).is_file(), link


def test_second_run_skips_everything_and_force_redoes_one_stage(demo_run, capsys):
    run_dir, args = demo_run
    before = {s: read_done(run_dir, s)["finished"] for s in ("train", "compare", "figures")}
    assert main(args) == 0
    assert "already done" in capsys.readouterr().out
    assert {s: read_done(run_dir, s)["finished"] for s in before} == before
    assert main(args + ["--stages", "figures", "--overwrite", "figures"]) == 0
    assert read_done(run_dir, "figures")["finished"] > before["figures"]
    assert read_done(run_dir, "train")["finished"] == before["train"]


def test_demo_refuses_unknown_stages(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "r"), "--stages", "skyset,nope"]) == 2
    assert "unknown stage(s) ['nope']" in capsys.readouterr().err


def test_paper_figure_scripts_redraw_from_saved_results(demo_run, tmp_path):
    import subprocess
    import sys

    run_dir, _ = demo_run
    repo = Path(__file__).resolve().parents[1]
    scripts = [
        ["paper_figures/examples.py", str(run_dir / "compare" / "examples.json"), "--out", str(tmp_path)],
        [
            "paper_figures/rerank.py",
            str(run_dir / "retrieval" / "rerank" / "results.json"),
            "--out",
            str(tmp_path / "rerank"),
        ],
    ]
    for script in scripts:
        done = subprocess.run(
            [sys.executable, str(repo / script[0]), *script[1:]], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
    assert {p.name for p in tmp_path.iterdir()} == {
        f"{n}.{e}" for n in ("image_to_text", "text_to_image", "rerank") for e in ("png", "pdf")
    }
