"""PAPERCLIP's ablation study offline (``hubbleclip study``): train a grid of cells, evaluate them
side by side with the untrained general-domain base and the untrained scratch model, write one
table and the results behind it.

A cell is ``TRAINING/CAPTIONS``: what trains (``TRAININGS``) and what the text side reads
(``caption`` = the template caption, ``caption_llm`` = the LLM caption, ``text_chunks`` = raw text
runs, PAPERCLIP's abstract variant).  Every model is evaluated on the same split and the same
caption column, pooled and per source with same-source candidates
(:mod:`hubbleclip.evaluation.retrieval`), with zero-shot types and the general-domain check
(:mod:`hubbleclip.evaluation.general_domain`: what training made the model forget).  A finished
cell keeps its record (``cells/NAME.json``), so a killed study resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from hubbleclip.config import load_config
from hubbleclip.data.load import imaged_rows, load_split
from hubbleclip.errors import UserError
from hubbleclip.evaluation.config import EvalConfig
from hubbleclip.evaluation.general_domain import general_domain_check
from hubbleclip.evaluation.job import run_evaluation
from hubbleclip.evaluation.report import write_results
from hubbleclip.evaluation.results import EvalResults
from hubbleclip.io import atomic_write_json, atomic_write_text
from hubbleclip.models.feature_cache import feature_cache
from hubbleclip.models.loader import load_model, resolve_export
from hubbleclip.studies.config import StudyConfig
from hubbleclip.studies.study_report import render_study
from hubbleclip.training.config import TrainConfig
from hubbleclip.training.trainer import train

log = logging.getLogger(__name__)

LOCKED = {"freeze.lock_image": True, "freeze.lock_text": True}
TRAININGS = {
    "heads": LOCKED,
    "lora_text": LOCKED | {"freeze.lora_text": True},
    "unlock_image": LOCKED | {"freeze.unlock_image_blocks": 1},
    "scratch": LOCKED,
}
CAPTIONS = ("caption", "caption_llm", "text_chunks")
STUDY_JSON, STUDY_MD = "study.json", "study.md"


def parse_cell(cell: str) -> tuple[str, str]:
    training, sep, captions = cell.partition("/")
    if not sep or training not in TRAININGS or captions not in CAPTIONS:
        raise UserError(
            f"study cell {cell!r}: expected TRAINING/CAPTIONS with TRAINING in {list(TRAININGS)} and "
            f"CAPTIONS in {list(CAPTIONS)}, e.g. heads/caption"
        )
    return training, captions


def llm_coverage(dataset: str, split: str = "train") -> dict:
    """How many imaged rows of ``split`` have an LLM caption (``caption_llm`` holds the template
    caption where the LLM wrote none; 0 when the column does not exist)."""
    ds = load_split(dataset, split)
    imaged = ds.select(imaged_rows(ds))
    with_llm = 0
    if "caption_llm" in ds.column_names:
        with_llm = sum(llm != tpl for llm, tpl in zip(imaged["caption_llm"], imaged["caption"]))
    return {"split": split, "imaged_rows": len(imaged), "with_caption_llm": with_llm}


def train_recorded(train_config: str, overrides: dict, record_path: Path, **info) -> dict:
    """Train once from ``train_config`` + ``overrides`` and keep a record (export, steps, seconds) at
    ``record_path``; a finished record is returned as it is, an unfinished run resumes."""
    if record_path.is_file():
        return json.loads(record_path.read_text())
    tcfg = load_config(TrainConfig, train_config, {"resume": "latest", **overrides})
    t0 = time.perf_counter()
    summary = train(tcfg)
    record = {
        **info,
        "start": tcfg.model.spec,
        "run_dir": tcfg.out,
        "export": str(Path(tcfg.out) / "export"),
        "steps": tcfg.optim.max_steps,
        "train_seconds": round(time.perf_counter() - t0, 1),
        "val_loss": summary.get("val_loss"),
    }
    atomic_write_json(record_path, record)
    log.info("%s trained in %.1f s", tcfg.out, record["train_seconds"])
    return record


def _train_cell(cfg: StudyConfig, out: Path, training: str, captions: str) -> dict:
    overrides = {
        "out": str(out / "runs" / f"{training}-{captions}"),
        "data.path": cfg.dataset,
        "data.captions": captions,
        "model.spec": cfg.scratch if training == "scratch" else cfg.base,
        "seed": cfg.seed,
        "freeze.cache_dir": cfg.cache_dir,
        **TRAININGS[training],
    } | ({"optim.max_steps": cfg.max_steps} if cfg.max_steps else {})
    return train_recorded(
        cfg.train_config,
        overrides,
        out / "cells" / f"{training}-{captions}.json",
        cell=f"{training}/{captions}",
        training=training,
        captions=captions,
    )


def run_study(cfg: StudyConfig) -> dict:
    """Train every cell, evaluate all models together; write study.json, study.md and eval/."""
    out = Path(cfg.out)
    cells = [parse_cell(c) for c in cfg.cells]
    if len(set(cells)) != len(cells):
        raise UserError(f"study cells {cfg.cells}: a cell is listed twice")
    coverage = llm_coverage(cfg.dataset)
    records, skipped = {}, {}
    for training, captions in cells:
        name = f"{training}/{captions}"
        if captions == "caption_llm" and not coverage["with_caption_llm"]:
            skipped[name] = f"no LLM caption in {cfg.dataset}/{coverage['split']} (run `hubbleclip captions`)"
            log.warning("study cell %s skipped: %s", name, skipped[name])
            continue
        records[name] = _train_cell(cfg, out, training, captions)
    models = {"base": cfg.base, "scratch": cfg.scratch} | {n: r["export"] for n, r in records.items()}
    ecfg = EvalConfig(
        dataset=cfg.dataset,
        split=cfg.split,
        models=[f"{n}={s}" for n, s in models.items()],
        out=str(out / "eval"),
        text_column=cfg.text_column,
        cache_dir=cfg.cache_dir,
        bootstrap=cfg.bootstrap,
    )
    results = run_evaluation(ecfg)
    results_json, _ = write_results(results, out / "eval")
    cache = feature_cache(cfg.cache_dir)
    general = {
        n: general_domain_check(load_model(resolve_export(s)), cache).to_dict() for n, s in models.items()
    }
    study = {
        "dataset": cfg.dataset,
        "split": cfg.split,
        "text_column": results["dataset"]["text_column"],
        "llm_coverage": coverage,
        "models": models,
        "cells": records,
        "skipped": skipped,
        "general_domain": general,
        "results": str(results_json),
    }
    atomic_write_json(out / STUDY_JSON, study)
    atomic_write_text(out / STUDY_MD, render_study(study, EvalResults.from_dict(results)))
    return study
