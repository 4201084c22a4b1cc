"""One evaluation job: load the split, embed it with every model, run the suites, assemble results."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict
from datetime import datetime, timezone

import numpy as np

from hubbleclip.data.load import load_split
from hubbleclip.data.shards import shards_to_dataset
from hubbleclip.errors import UserError
from hubbleclip.evaluation import retrieval, zero_shot
from hubbleclip.evaluation.classes import load_classes, load_templates
from hubbleclip.evaluation.config import EvalConfig
from hubbleclip.evaluation.evalset import EvalSet, build_eval_set
from hubbleclip.evaluation.results import SCHEMA_VERSION
from hubbleclip.metrics import EmbeddingScores, MatrixScores
from hubbleclip.models.embed import embed_images, embed_texts
from hubbleclip.models.feature_cache import feature_cache, weights_digest
from hubbleclip.models.loader import load_model, resolve_export

log = logging.getLogger(__name__)

TASKS = ("retrieval", "zero_shot")
RANDOM = "random"


def parse_models(entries: list[str], random_baseline: bool) -> dict[str, str]:
    """``NAME=SPEC`` entries (a bare SPEC is its own name) -> ordered {name: spec}."""
    if not entries:
        raise UserError("no model given: pass --model NAME=SPEC (e.g. --model base=lit-mini)")
    out: dict[str, str] = {}
    for entry in entries:
        name, sep, spec = entry.partition("=")
        name, spec = (name.strip(), spec.strip()) if sep else (entry.strip(), entry.strip())
        if not name or not spec:
            raise UserError(f"model {entry!r}: expected NAME=SPEC, e.g. tuned=runs/lit-mini-skyset")
        if name in out or (random_baseline and name == RANDOM):
            raise UserError(f"model name {name!r} is used twice (the random baseline is called {RANDOM!r})")
        out[name] = spec
    return out


def _labelled_sets(cfg: EvalConfig, eval_set: EvalSet) -> dict[str, tuple[zero_shot.LabelledSet, str]]:
    sets = {}
    for entry in cfg.zero_shot.sets:
        source, class_list = zero_shot.parse_set_entry(entry)
        if source in sets:
            raise UserError(f"zero-shot sets {cfg.zero_shot.sets}: source {source!r} is listed twice")
        labelled = zero_shot.labelled_set(source, load_classes(class_list), eval_set.sources, eval_set.types)
        if len(labelled.rows) == 0:
            log.warning(
                "zero-shot set %s: no %s image in split %r has a type from %r; skipped",
                entry,
                source,
                eval_set.split,
                class_list,
            )
            continue
        sets[source] = (labelled, class_list)
    return sets


def load_eval_set(cfg: EvalConfig) -> EvalSet:
    """Check the job's settings and load its split (fails before anything is computed or written)."""
    unknown = sorted(set(cfg.tasks) - set(TASKS))
    if unknown or not cfg.tasks:
        raise UserError(f"tasks {cfg.tasks}: expected some of {list(TASKS)}")
    parse_models(cfg.models, cfg.random_baseline)
    if cfg.webdataset:
        return build_eval_set(shards_to_dataset(cfg.webdataset), cfg.webdataset, cfg.text_column)
    return build_eval_set(load_split(cfg.dataset, cfg.split), cfg.split, cfg.text_column)


def score_models(
    cfg: EvalConfig, eval_set: EvalSet, sets: dict, templates: list[str]
) -> tuple[dict, dict[str, EmbeddingScores | MatrixScores], dict[str, dict[str, np.ndarray]]]:
    """Every model's (and the random baseline's) image-text and image-class scores on ``eval_set``,
    from tower features the feature cache keeps; returns (models info, retrieval, zero-shot scores).

    A model's retrieval scores are its embeddings (``EmbeddingScores``), which the retrieval suite
    multiplies block by block; the random baseline is a matrix of uniform noise."""
    cache = feature_cache(cfg.cache_dir, cfg.cache_features)
    encoded = eval_set.encoded_images()
    models_info, retrieval_scores = {}, {}
    zs_scores: dict[str, dict[str, np.ndarray]] = {name: {} for name in sets}
    for name, spec in parse_models(cfg.models, cfg.random_baseline).items():
        path = resolve_export(spec)
        model = load_model(path, device=cfg.device)
        models_info[name] = {
            "spec": spec,
            "path": path,
            "fingerprint": weights_digest([model])[:24],
            "embed_dim": model.embed_dim,
            "logit_scale": float(model.logit_scale.detach().exp()),
        }
        images = embed_images(model, encoded, cfg.batch_size, cache)
        texts = embed_texts(model, eval_set.texts, max(cfg.batch_size, 256), cache)
        retrieval_scores[name] = EmbeddingScores(images, texts)
        for set_name, (labelled, _) in sets.items():
            classes = zero_shot.class_embeddings(model, labelled.classes, templates, cache=cache)
            zs_scores[set_name][name] = images[labelled.rows] @ classes.T
        del model
    if cfg.random_baseline:
        rng = np.random.default_rng(cfg.bootstrap.seed)
        models_info[RANDOM] = {"spec": RANDOM}
        retrieval_scores[RANDOM] = MatrixScores(rng.random(next(iter(retrieval_scores.values())).shape))
        for set_name, (labelled, _) in sets.items():
            zs_scores[set_name][RANDOM] = rng.random((len(labelled.rows), len(labelled.classes)))
    return models_info, retrieval_scores, zs_scores


def _dataset_info(cfg: EvalConfig, eval_set: EvalSet) -> dict:
    return {
        "path": cfg.webdataset or str(cfg.dataset),
        "split": eval_set.split,
        "fingerprint": eval_set.fingerprint,
        "text_column": eval_set.text_column,
        "n_images": eval_set.n_images,
        "n_texts": len(eval_set.texts),
        "images_per_source": dict(sorted(Counter(eval_set.sources.tolist()).items())),
        "texts_per_source": dict(sorted(Counter(eval_set.text_sources.tolist()).items())),
    }


def run_evaluation(cfg: EvalConfig, eval_set: EvalSet | None = None) -> dict:
    """Run the configured tasks for every model (plus the random baseline); return results.json's dict."""
    eval_set = eval_set or load_eval_set(cfg)
    log.info(
        "%s/%s: %d images, %d distinct captions",
        cfg.dataset,
        cfg.split,
        eval_set.n_images,
        len(eval_set.texts),
    )
    sets = _labelled_sets(cfg, eval_set) if "zero_shot" in cfg.tasks else {}
    templates = load_templates(cfg.zero_shot.templates)
    models_info, retrieval_scores, zs_scores = score_models(cfg, eval_set, sets, templates)
    reference = next(iter(parse_models(cfg.models, cfg.random_baseline)))
    results = {
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset": _dataset_info(cfg, eval_set),
        "settings": {
            "retrieval": asdict(cfg.retrieval),
            "zero_shot": asdict(cfg.zero_shot),
            "bootstrap": asdict(cfg.bootstrap),
        },
        "reference": reference,
        "models": models_info,
    }
    if "retrieval" in cfg.tasks:
        ranked = {
            name: retrieval.rank_subsets(s, eval_set, cfg.retrieval, cfg.bootstrap.seed)
            for name, s in retrieval_scores.items()
        }
        per_model, deltas, paper_deltas = retrieval.summarize(ranked, cfg.retrieval, cfg.bootstrap, reference)
        deltas.pop(RANDOM, None)
        paper_deltas.pop(RANDOM, None)
        results["retrieval"] = {"models": per_model, "deltas": deltas, "paper_deltas": paper_deltas}
    if "zero_shot" in cfg.tasks:
        results["zero_shot"] = {}
        for set_name, (labelled, class_list) in sets.items():
            per_model, deltas = zero_shot.summarize(
                zs_scores[set_name], labelled, cfg.zero_shot.ks, cfg.bootstrap, reference
            )
            deltas.pop(RANDOM, None)
            results["zero_shot"][set_name] = {
                "source": set_name,
                "class_list": class_list,
                "n_templates": len(templates),
                "models": per_model,
                "deltas": deltas,
            }
    return results
