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
from hubbleclip.demo.layout import RunLayout
from hubbleclip.demo.pipeline import Stage, read_done, run_stages
from hubbleclip.demo.report import write_report
from hubbleclip.evaluation import EvalConfig
from hubbleclip.evaluation.job import run_evaluation
from hubbleclip.evaluation.report import write_results
from hubbleclip.figures.make_all import make_all
from hubbleclip.io import atomic_write_json, atomic_write_text
from hubbleclip.judge.job import run_judge
from hubbleclip.search.config import SearchIndexConfig
from hubbleclip.search.evaluate import run_rerank
from hubbleclip.search.index import build_retrieval_index
from hubbleclip.search.kinds_eval import run_kinds
from hubbleclip.studies.config import CrossValConfig, StudyConfig
from hubbleclip.studies.crossval import run_crossval
from hubbleclip.studies.study import run_study
from hubbleclip.studies.study_report import render_crossval
from hubbleclip.training.config import TrainConfig
from hubbleclip.training.trainer import train

log = logging.getLogger(__name__)


def _skyset(cfg: DemoConfig) -> dict[str, Any]:
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


def _captions(cfg: DemoConfig, layout: RunLayout) -> dict[str, Any]:
    report = generate_with_shipped(
        # a handful of live texts: one model load costs less than two worker processes
        CaptionsConfig(dataset=cfg.skyset, model=cfg.caption_model, workers=1),
        cfg.caption_live,
    )
    quality = check_captions(cfg.skyset)
    atomic_write_json(layout.caption_generation, report)
    atomic_write_json(layout.caption_quality, quality)
    return {
        "generation": str(layout.caption_generation),
        "quality": str(layout.caption_quality),
        "llm_captions": report["llm_captions"],
        "failed": report["failed"],
        "shipped": report["shipped"]["used"],
        "live": report["live_texts"],
    }


def _train(cfg: DemoConfig, layout: RunLayout) -> dict[str, Any]:
    # resume=latest: a demo killed during training continues from its last checkpoint
    tcfg = load_config(
        TrainConfig,
        cfg.train_config,
        {
            "out": str(layout.train),
            "data.path": cfg.skyset,
            "model.spec": cfg.base_model,
            "resume": "latest",
            "seed": cfg.seed,
            "freeze.cache_dir": cfg.cache_dir,
        },
    )
    summary = train(tcfg)
    return {
        "out": str(layout.train),
        "export": str(layout.train_export),
        "metrics": str(layout.train_metrics),
        "summary": summary,
    }


def _compare(cfg: DemoConfig, layout: RunLayout, export: str) -> dict[str, Any]:
    ecfg = EvalConfig(
        dataset=cfg.skyset,
        split=cfg.eval_split,
        models=[f"base={cfg.base_model}", f"tuned={export}"],
        out=str(layout.compare),
        cache_dir=cfg.cache_dir,
    )
    results = run_evaluation(ecfg)
    json_path, md_path = write_results(results, layout.compare)
    examples = write_examples(cfg, {"base": cfg.base_model, "tuned": export}, layout.compare_examples)
    return {"results": str(json_path), "table": str(md_path), "examples": str(examples)}


def _judge(cfg: DemoConfig, layout: RunLayout, export: str) -> dict[str, Any]:
    results = run_judge(
        replace(
            cfg.judge,
            dataset=cfg.skyset,
            split=cfg.eval_split,
            models=[f"base={cfg.base_model}", f"tuned={export}"],
            out=str(layout.judge),
            cache_dir=cfg.cache_dir,
        )
    )
    return {
        "results": str(layout.judge_results),
        "judged_relevant": {n: m["judged_relevant"]["value"] for n, m in results["models"].items()},
    }


def _study(cfg: DemoConfig, layout: RunLayout) -> dict[str, Any]:
    common = {
        "dataset": cfg.skyset,
        "train_config": cfg.train_config,
        "base": cfg.base_model,
        "scratch": cfg.scratch_model,
        "cache_dir": cfg.cache_dir,
        "seed": cfg.seed,
    }
    study = run_study(
        StudyConfig(out=str(layout.study), cells=cfg.study_cells, split=cfg.eval_split, **common)
    )
    cv = run_crossval(CrossValConfig(out=str(layout.crossval), folds=cfg.crossval_folds, **common))
    crossval_md = atomic_write_text(layout.crossval_table, render_crossval(cv))
    return {
        "study": str(layout.study_json),
        "table": str(layout.study_table),
        "crossval": str(crossval_md),
        "cells": {name: r["train_seconds"] for name, r in study["cells"].items()},
        "skipped": study["skipped"],
    }


def _retrieval(cfg: DemoConfig, layout: RunLayout, export: str) -> dict[str, Any]:
    index_cfg = SearchIndexConfig(
        dataset=cfg.skyset,
        model=export,
        out=str(layout.search_index),
        cache_dir=cfg.cache_dir,
        overwrite=True,
    )
    index = build_retrieval_index(index_cfg)
    results = run_rerank(replace(cfg.rerank, index=str(index), out=str(layout.rerank)))
    kinds = run_kinds(replace(cfg.kinds, index=str(index), out=str(layout.kinds)))
    return {
        "index": str(index),
        "results": str(layout.rerank_results),
        "targets": results["targets"],
        "kinds": str(layout.kinds_results),
        "kinds_targets": kinds.targets,
    }


def _figures(layout: RunLayout) -> dict[str, Any]:
    figures = make_all(layout, layout.figures)
    report = write_report(layout, figures)
    return {"figures": {k: [str(p) for p in v] for k, v in figures.items()}, "report": str(report)}


def build_stages(cfg: DemoConfig) -> list[Stage]:
    # every stage writes where the layout says; the runner's own folder for it is layout.stage(name)
    layout = RunLayout(cfg.out)

    def export() -> str:
        done = read_done(layout.run_dir, "train")
        if done is None:
            raise FileNotFoundError(f"{layout.train} has not finished: run the train stage first")
        return done["outputs"]["export"]

    return [
        Stage("skyset", "build the offline skyset (if missing)", lambda _: _skyset(cfg)),
        Stage(
            "captions",
            f"LLM captions: shipped for every imaged text, {cfg.caption_live} live ({cfg.caption_model})",
            lambda _: _captions(cfg, layout),
        ),
        Stage("train", f"fine-tune {cfg.base_model} ({cfg.train_config})", lambda _: _train(cfg, layout)),
        Stage(
            "compare",
            "base vs fine-tuned: retrieval both ways, zero-shot classes",
            lambda _: _compare(cfg, layout, export()),
        ),
        Stage(
            "judge",
            f"LLM-judged relevance of base vs tuned top-{cfg.judge.k} images ({cfg.judge.model})",
            lambda _: _judge(cfg, layout, export()),
        ),
        Stage(
            "study",
            "PAPERCLIP's ablation grid vs the general-domain base; Stellarium k-fold cross-validation",
            lambda _: _study(cfg, layout),
        ),
        Stage(
            "retrieval",
            "object index, LambdaMART reranker, MAP@10 / NDCG@10 vs baselines, query kinds",
            lambda _: _retrieval(cfg, layout, export()),
        ),
        Stage(
            "similarity",
            "similar images with quick-select clusters",
            lambda _: write_similarity(cfg, export(), layout.similarity),
        ),
        Stage("figures", "paper figures and REPORT.md", lambda _: _figures(layout)),
    ]


def run_demo(
    cfg: DemoConfig, only: list[str] | None = None, overwrite: list[str] | bool = False
) -> list[dict]:
    return run_stages(build_stages(cfg), Path(cfg.out), only=only, overwrite=overwrite)
