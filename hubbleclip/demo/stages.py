"""The demo's stages: each calls one library job and returns what it wrote."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from hubbleclip.captions.config import CaptionsConfig
from hubbleclip.captions.pipeline import check_captions
from hubbleclip.captions.shipped import generate_with_shipped
from hubbleclip.config import load_config
from hubbleclip.data.build import build_skyset
from hubbleclip.data.config import SkysetConfig
from hubbleclip.demo.config import DemoConfig
from hubbleclip.demo.examples import write_examples, write_similarity
from hubbleclip.demo.runner import Stage, read_done, run_stages
from hubbleclip.evaluation import EvalConfig
from hubbleclip.evaluation.config import CrossValConfig, StudyConfig
from hubbleclip.evaluation.crossval import run_crossval
from hubbleclip.evaluation.results import write_results
from hubbleclip.evaluation.run import run_evaluation
from hubbleclip.evaluation.study import run_study
from hubbleclip.evaluation.study_report import render_crossval
from hubbleclip.figures.make_all import make_all
from hubbleclip.figures.report import write_report
from hubbleclip.io import atomic_write_json, atomic_write_text
from hubbleclip.judge.run import run_judge
from hubbleclip.search.config import SearchIndexConfig
from hubbleclip.search.evaluate import run_rerank
from hubbleclip.search.index import build_retrieval_index
from hubbleclip.search.kinds_eval import run_kinds
from hubbleclip.training.config import TrainConfig
from hubbleclip.training.trainer import train

log = logging.getLogger(__name__)


def _skyset(cfg: DemoConfig, out: Path) -> dict[str, Any]:
    path = Path(cfg.skyset)
    if not (path / "dataset_dict.json").is_file():
        build_skyset(
            SkysetConfig(
                out=str(path), stellarium_dir=cfg.stellarium_dir, kstars_dir=cfg.kstars_dir, seed=cfg.seed
            )
        )
    report = json.loads((path / "build_report.json").read_text())
    return {
        "skyset": str(path),
        "rows": report["rows"],
        "images": report["images"],
        "splits": report["splits"],
        "by_source": report["by_source"],
        "missing_sources": report.get("missing_sources", {}),
    }


def _captions(cfg: DemoConfig, out: Path) -> dict[str, Any]:
    report = generate_with_shipped(
        # a handful of live texts: one model load costs less than two worker processes
        CaptionsConfig(dataset=cfg.skyset, model=cfg.caption_model, workers=1),
        cfg.caption_live,
    )
    quality = check_captions(cfg.skyset)
    atomic_write_json(out / "generation.json", report)
    atomic_write_json(out / "quality.json", quality)
    return {
        "generation": str(out / "generation.json"),
        "quality": str(out / "quality.json"),
        "llm_captions": report["llm_captions"],
        "failed": report["failed"],
        "shipped": report["shipped"]["used"],
        "live": report["live_texts"],
    }


def _train(cfg: DemoConfig, out: Path) -> dict[str, Any]:
    # resume=latest: a demo killed during training continues from its last checkpoint
    tcfg = load_config(
        TrainConfig,
        cfg.train_config,
        {
            "run_dir": str(out),
            "data.path": cfg.skyset,
            "model.spec": cfg.base_model,
            "resume": "latest",
            "seed": cfg.seed,
            "freeze.cache_dir": cfg.cache_dir,
        },
    )
    summary = train(tcfg)
    return {
        "run_dir": str(out),
        "export": str(out / "export"),
        "metrics": str(out / "metrics.jsonl"),
        "summary": summary,
    }


def _compare(cfg: DemoConfig, out: Path, export: str) -> dict[str, Any]:
    ecfg = EvalConfig(
        dataset=cfg.skyset,
        split=cfg.eval_split,
        models=[f"base={cfg.base_model}", f"tuned={export}"],
        out=str(out),
        cache_dir=cfg.cache_dir,
    )
    results = run_evaluation(ecfg)
    json_path, md_path = write_results(results, out)
    examples = write_examples(cfg, {"base": cfg.base_model, "tuned": export}, out / "examples.json")
    return {"results": str(json_path), "table": str(md_path), "examples": str(examples)}


def _judge(cfg: DemoConfig, out: Path, export: str) -> dict[str, Any]:
    results = run_judge(
        replace(
            cfg.judge,
            dataset=cfg.skyset,
            split=cfg.eval_split,
            models=[f"base={cfg.base_model}", f"tuned={export}"],
            out=str(out),
            cache_dir=cfg.cache_dir,
        )
    )
    return {
        "results": str(out / "results.json"),
        "judged_relevant": {n: m["judged_relevant"]["value"] for n, m in results["models"].items()},
    }


def _study(cfg: DemoConfig, out: Path) -> dict[str, Any]:
    common = {
        "dataset": cfg.skyset,
        "train_config": cfg.train_config,
        "base": cfg.base_model,
        "scratch": cfg.scratch_model,
        "cache_dir": cfg.cache_dir,
        "seed": cfg.seed,
    }
    study = run_study(StudyConfig(out=str(out), cells=cfg.study_cells, split=cfg.eval_split, **common))
    cv = run_crossval(CrossValConfig(out=str(out / "crossval"), folds=cfg.crossval_folds, **common))
    crossval_md = atomic_write_text(out / "crossval" / "crossval.md", render_crossval(cv))
    return {
        "study": str(out / "study.json"),
        "table": str(out / "study.md"),
        "crossval": str(crossval_md),
        "cells": {name: r["train_seconds"] for name, r in study["cells"].items()},
        "skipped": study["skipped"],
    }


def _retrieval(cfg: DemoConfig, out: Path, export: str) -> dict[str, Any]:
    index_cfg = SearchIndexConfig(
        dataset=cfg.skyset, model=export, out=str(out / "index"), cache_dir=cfg.cache_dir, force=True
    )
    index = build_retrieval_index(index_cfg)
    results = run_rerank(replace(cfg.rerank, index=str(index), run_dir=str(out / "rerank")))
    kinds = run_kinds(replace(cfg.kinds, index=str(index), run_dir=str(out / "kinds")))
    return {
        "index": str(index),
        "results": str(out / "rerank" / "results.json"),
        "targets": results["targets"],
        "kinds": str(out / "kinds" / "results.json"),
        "kinds_targets": kinds["targets"],
    }


def _similarity(cfg: DemoConfig, out: Path, export: str) -> dict[str, Any]:
    return write_similarity(cfg, export, out)


def _figures(cfg: DemoConfig, out: Path) -> dict[str, Any]:
    figures = make_all(Path(cfg.run_dir), out)
    report = write_report(Path(cfg.run_dir), figures)
    return {"figures": {k: [str(p) for p in v] for k, v in figures.items()}, "report": str(report)}


def build_stages(cfg: DemoConfig) -> list[Stage]:
    run_dir = Path(cfg.run_dir)

    def export() -> str:
        done = read_done(run_dir, "train")
        if done is None:
            raise FileNotFoundError(f"{run_dir}/train has not finished: run the train stage first")
        return done["outputs"]["export"]

    return [
        Stage("skyset", "build the offline skyset (if missing)", lambda out: _skyset(cfg, out)),
        Stage(
            "captions",
            f"LLM captions: shipped for every imaged text, {cfg.caption_live} live ({cfg.caption_model})",
            lambda out: _captions(cfg, out),
        ),
        Stage("train", f"fine-tune {cfg.base_model} ({cfg.train_config})", lambda out: _train(cfg, out)),
        Stage(
            "compare",
            "base vs fine-tuned: retrieval both ways, zero-shot classes",
            lambda out: _compare(cfg, out, export()),
        ),
        Stage(
            "judge",
            f"LLM-judged relevance of base vs tuned top-{cfg.judge.k} images ({cfg.judge.model})",
            lambda out: _judge(cfg, out, export()),
        ),
        Stage(
            "study",
            "PAPERCLIP's ablation grid vs the general-domain base; Stellarium k-fold cross-validation",
            lambda out: _study(cfg, out),
        ),
        Stage(
            "retrieval",
            "object index, LambdaMART reranker, MAP@10 / NDCG@10 vs baselines, query kinds",
            lambda out: _retrieval(cfg, out, export()),
        ),
        Stage(
            "similarity",
            "similar images with quick-select clusters",
            lambda out: _similarity(cfg, out, export()),
        ),
        Stage("figures", "paper figures and REPORT.md", lambda out: _figures(cfg, out)),
    ]


def run_demo(cfg: DemoConfig, only: list[str] | None = None, force: list[str] | bool = False) -> list[dict]:
    return run_stages(build_stages(cfg), Path(cfg.run_dir), only=only, force=force)
