"""The learned ranker: LightGBM ``LGBMRanker`` (lambdarank) over the features of features.py.

Training uses query-grouped cross-validation (``GroupKFold`` on query ids, so no query is in
both parts of a fold) to pick the number of trees, then fits on all training queries.  A saved
ranker is a directory with ``model.txt`` (LightGBM's text format) and ``ranker.json`` (format,
version, feature list, parameters, CV scores); loading checks the feature list against the code.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from hubbleclip.errors import UserError
from hubbleclip.io import atomic_directory, atomic_write_json, read_json
from hubbleclip.metrics.graded import ndcg_at_k
from hubbleclip.search.config import RankerConfig
from hubbleclip.search.features import FEATURES

FORMAT = "hubbleclip-ranker"
VERSION = 1


class Ranker:
    def __init__(self, booster, features: tuple[str, ...] = FEATURES, meta: dict | None = None):
        self.booster, self.features, self.meta = booster, tuple(features), meta or {}

    def score(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(np.asarray(X, np.float32)), np.float32)

    def save(self, directory: str | Path, overwrite: bool = True) -> Path:
        import lightgbm

        with atomic_directory(directory, overwrite=overwrite) as tmp:
            self.booster.save_model(str(tmp / "model.txt"))
            atomic_write_json(
                tmp / "ranker.json",
                {
                    "format": FORMAT,
                    "version": VERSION,
                    "features": list(self.features),
                    "lightgbm": lightgbm.__version__,
                    **self.meta,
                },
            )
        return Path(directory)

    @classmethod
    def load(cls, directory: str | Path) -> Ranker:
        import lightgbm

        directory = Path(directory)
        meta_file, model_file = directory / "ranker.json", directory / "model.txt"
        if not meta_file.is_file() or not model_file.is_file():
            raise FileNotFoundError(
                f"{directory}: not a saved ranker (expected ranker.json and model.txt; "
                "train one with eval/rerank.py)"
            )
        meta = read_json(meta_file)
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise UserError(f"{meta_file}: expected format {FORMAT} version {VERSION}")
        if tuple(meta.get("features", ())) != FEATURES:
            raise UserError(
                f"{meta_file}: trained on features {meta.get('features')}, this code computes "
                f"{list(FEATURES)}; retrain with eval/rerank.py"
            )
        try:
            booster = lightgbm.Booster(model_file=str(model_file))
        except lightgbm.basic.LightGBMError as exc:
            raise UserError(f"{model_file}: unreadable LightGBM model ({exc})") from exc
        return cls(
            booster, FEATURES, {k: v for k, v in meta.items() if k not in ("format", "version", "features")}
        )


def _fit(X, y, qid, n_estimators: int, cfg: RankerConfig):
    import lightgbm

    order = np.argsort(qid, kind="stable")
    _, sizes = np.unique(qid[order], return_counts=True)
    model = lightgbm.LGBMRanker(
        objective="lambdarank",
        n_estimators=n_estimators,
        learning_rate=cfg.learning_rate,
        num_leaves=cfg.num_leaves,
        min_child_samples=cfg.min_child_samples,
        random_state=cfg.seed,
        n_jobs=2,
        verbose=-1,
    )
    model.fit(X[order], y[order], group=sizes)
    return model.booster_


def _mean_ndcg(booster, X, y, qid, k: int = 10) -> float:
    scores = booster.predict(X)
    values = []
    for q in np.unique(qid):
        rows = np.flatnonzero(qid == q)
        grades = y[rows] + 1
        values.append(ndcg_at_k(grades[np.argsort(-scores[rows], kind="stable")], grades, k))
    return float(np.mean(values))


def train_ranker(
    X: np.ndarray, grades: np.ndarray, qid: np.ndarray, cfg: RankerConfig | None = None
) -> Ranker:
    """Fit on candidate rows ``X`` with grades 1-5, grouped by query id ``qid``."""
    from sklearn.model_selection import GroupKFold

    cfg = cfg or RankerConfig()
    X, y, qid = np.asarray(X, np.float32), np.asarray(grades, int) - 1, np.asarray(qid)
    if X.shape[1] != len(FEATURES):
        raise ValueError(f"expected {len(FEATURES)} feature columns, got {X.shape[1]}")
    n_queries = len(np.unique(qid))
    folds = min(cfg.folds, n_queries)
    if folds < 2:
        raise UserError(f"need at least 2 training queries for cross-validation, got {n_queries}")
    cv = {}
    for n_est in cfg.n_estimators:
        scores = []
        for train, held in GroupKFold(n_splits=folds).split(X, y, qid):
            booster = _fit(X[train], y[train], qid[train], n_est, cfg)
            scores.append(_mean_ndcg(booster, X[held], y[held], qid[held]))
        cv[n_est] = float(np.mean(scores))
    best = max(cv, key=lambda n_est: (cv[n_est], -n_est))
    meta = {
        "n_estimators": best,
        "cv_ndcg@10": {str(k): v for k, v in cv.items()},
        "folds": folds,
        "n_queries": n_queries,
        "n_rows": len(X),
        "learning_rate": cfg.learning_rate,
        "num_leaves": cfg.num_leaves,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return Ranker(_fit(X, y, qid, best, cfg), FEATURES, meta)
