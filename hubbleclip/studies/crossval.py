"""k-fold cross-validation by object for a small source (Stellarium's ~555 images): every image is
evaluated once, by a model that never saw its object.

All imaged rows of the source (every split) are dealt into folds by object
(:func:`hubbleclip.data.splits.object_folds`); fold k trains the heads on the other folds (locked
towers, cached features: seconds) and ranks fold k's captions against fold k's images only (and the
reverse).  The per-query values of all folds are pooled into one mean with a bootstrap interval,
and paired differences to the base.  A finished fold keeps its record, so a killed job resumes.
"""

from __future__ import annotations

import logging
from pathlib import Path

import datasets
import numpy as np

from hubbleclip.data.load import has_image, load_dataset_dict
from hubbleclip.data.splits import object_folds
from hubbleclip.errors import UserError
from hubbleclip.evaluation.config import EvalConfig
from hubbleclip.evaluation.evalset import build_eval_set
from hubbleclip.evaluation.job import score_models
from hubbleclip.evaluation.retrieval import ALL, DIRECTIONS, REDUCERS, metric_columns, rank_subsets
from hubbleclip.io import atomic_directory, atomic_write_json
from hubbleclip.metrics import BootstrapConfig, compare_systems
from hubbleclip.studies.config import CrossValConfig
from hubbleclip.studies.study import LOCKED, train_recorded

log = logging.getLogger(__name__)

CROSSVAL_JSON = "crossval.json"


def write_folds(cfg: CrossValConfig, path: Path) -> list[int]:
    """The source's imaged rows as splits ``train{k}``/``test{k}`` of one DatasetDict at ``path``
    (kept when it exists); returns the number of images per fold."""
    if (path / "dataset_dict.json").is_file():
        dd = load_dataset_dict(path)
        return [len(dd[f"test{k}"]) for k in range(cfg.folds)]
    dd = load_dataset_dict(cfg.dataset, required_columns=("source", "object_id", "image"))
    rows = datasets.concatenate_datasets(
        [ds.filter(lambda s: s == cfg.source, input_columns="source") for ds in dd.values()]
    )
    rows = rows.select(np.flatnonzero(has_image(rows)))
    if len(rows) == 0:
        raise UserError(f"{cfg.dataset}: no imaged {cfg.source!r} rows to cross-validate")
    fold = object_folds(rows["object_id"], cfg.folds, cfg.seed)
    splits = {}
    for k in range(cfg.folds):
        splits[f"train{k}"] = rows.select(np.flatnonzero(fold != k))
        splits[f"test{k}"] = rows.select(np.flatnonzero(fold == k))
    with atomic_directory(path, overwrite=True) as tmp:
        datasets.DatasetDict(splits).save_to_disk(str(tmp))
    return [int((fold == k).sum()) for k in range(cfg.folds)]


def _train_fold(cfg: CrossValConfig, folds_path: Path, out: Path, k: int) -> dict:
    overrides = {
        "out": str(out / "runs" / f"fold{k}"),
        "data.path": str(folds_path),
        "data.train_split": f"train{k}",
        "data.val_split": "",
        "data.captions": cfg.text_column,
        "model.spec": cfg.base,
        "seed": cfg.seed,
        "freeze.cache_dir": cfg.cache_dir,
        **LOCKED,
    } | ({"optim.max_steps": cfg.max_steps} if cfg.max_steps else {})
    return train_recorded(cfg.train_config, overrides, out / "folds-done" / f"fold{k}.json", fold=k)


def summarize_folds(
    columns: dict[str, dict[str, list[dict[str, np.ndarray]]]], boot: BootstrapConfig
) -> tuple[dict, dict]:
    """Pool every fold's per-query columns (``columns[model][direction][fold]``) into one estimate
    per model and direction, with paired differences to ``base`` (none for ``random``)."""
    summary: dict = {name: {} for name in columns}
    deltas: dict = {name: {} for name in columns if name not in ("base", "random")}
    for direction in DIRECTIONS:
        # a metric whose cut-off is 0 in some fold (too few candidates there) is pooled nowhere
        pooled = {
            name: {
                m: np.concatenate([c[m] for c in per_dir[direction]])
                for m in set.intersection(*(set(c) for c in per_dir[direction]))
            }
            for name, per_dir in columns.items()
        }
        comparison = compare_systems(pooled, bootstrap=boot, reducers=REDUCERS, reference="base")
        for name in pooled:
            summary[name][direction] = {
                "n_queries": comparison.n,
                "metrics": {m: e.to_dict() for m, e in comparison.estimates[name].items()},
            }
            if name in deltas:
                deltas[name][direction] = {m: e.to_dict() for m, e in comparison.differences[name].items()}
    return summary, deltas


def run_crossval(cfg: CrossValConfig) -> dict:
    """Train and evaluate every fold; write and return crossval.json's dict."""
    out = Path(cfg.out)
    folds_path = out / "folds"
    sizes = write_folds(cfg, folds_path)
    columns: dict[str, dict[str, list[dict[str, np.ndarray]]]] = {}
    records = []
    for k in range(cfg.folds):
        record = _train_fold(cfg, folds_path, out, k)
        records.append(record)
        ecfg = EvalConfig(
            dataset=str(folds_path),
            split=f"test{k}",
            models=[f"base={cfg.base}", f"scratch={cfg.scratch}", f"tuned={record['export']}"],
            text_column=cfg.text_column,
            cache_dir=cfg.cache_dir,
            tasks=["retrieval"],
            random_baseline=True,
            retrieval=cfg.retrieval,
            bootstrap=cfg.bootstrap,
        )
        eval_set = build_eval_set(load_dataset_dict(folds_path)[f"test{k}"], f"test{k}", cfg.text_column)
        _, scores, _ = score_models(ecfg, eval_set, {}, [])
        for name, s in scores.items():
            ranked = rank_subsets(s, eval_set, cfg.retrieval, cfg.bootstrap.seed)[ALL]
            for direction in DIRECTIONS:
                columns.setdefault(name, {}).setdefault(direction, []).append(
                    metric_columns(ranked[direction], cfg.retrieval)
                )
    summary, deltas = summarize_folds(columns, cfg.bootstrap)
    result = {
        "dataset": cfg.dataset,
        "source": cfg.source,
        "folds": cfg.folds,
        "images_per_fold": sizes,
        "candidates": "same_source",
        "text_column": cfg.text_column,
        "train_seconds": [r["train_seconds"] for r in records],
        "models": summary,
        "deltas": deltas,
    }
    atomic_write_json(out / CROSSVAL_JSON, result)
    return result
