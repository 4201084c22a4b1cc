"""The evaluation suites on the real tiny skyset: eval sets, retrieval wiring, zero-shot, CLI, cache."""

import json
from pathlib import Path

import datasets
import numpy as np
import pytest

from hubbleclip.cli import main
from hubbleclip.data.load import load_split
from hubbleclip.data.schema import FIRST_CLASSES, GALAXY_CLASSES, OPENNGC_TYPES
from hubbleclip.evaluation import BootstrapConfig, RetrievalConfig, load_results, retrieval
from hubbleclip.evaluation.classes import load_classes, load_templates
from hubbleclip.evaluation.evalset import EvalSet, build_eval_set
from hubbleclip.evaluation.job import parse_models
from hubbleclip.evaluation.results import EvalResults
from hubbleclip.evaluation.zero_shot import class_embeddings, labelled_set
from hubbleclip.metrics import EmbeddingScores, MatrixScores, relevance_from_keys
from hubbleclip.models.feature_cache import weights_digest
from hubbleclip.models.lit import LitModel
from hubbleclip.models.loader import resolve_export

STELLARIUM = Path(__file__).parent / "data" / "stellarium" / "nebulae" / "default"


@pytest.fixture(scope="module")
def train_split(tiny_skyset):
    return load_split(tiny_skyset, "train")


@pytest.fixture(scope="module")
def tiny_lit(tiny):
    import torch

    from hubbleclip.models import load_model

    torch.manual_seed(0)
    return load_model(tiny["tiny-lit"])


def test_eval_set_deduplicates_captions_and_resolves_partners(train_split):
    es = build_eval_set(train_split, "train")
    assert es.text_column == "caption"  # auto: no caption_llm column here
    rows = [
        r
        for r in train_split.select_columns(["image", "caption", "object_id", "source"])
        if r["image"] is not None
    ]
    assert es.n_images == len(rows) < len(train_split)  # catalog-only rows left out
    assert es.texts == list(dict.fromkeys(r["caption"] for r in rows))
    assert len(es.texts) < es.n_images  # FIRST classes share captions
    rel = es.relevance.toarray()
    for i, r in enumerate(rows):
        assert es.texts[es.image_text[i]] == r["caption"]
        # correct partners: the own caption, and any caption of an image of the same object
        expected = {es.image_text[j] for j, other in enumerate(rows) if other["object_id"] == r["object_id"]}
        assert set(np.flatnonzero(rel[i])) == expected | {es.image_text[i]}
    assert set(es.sources) >= {"stellarium", "first"}


def test_retrieval_suite_with_oracle_and_random_scores(train_split):
    es = build_eval_set(train_split, "train")
    cfg, boot = RetrievalConfig(percents=[10.0, 50.0], ks=[1, 5]), BootstrapConfig(samples=200)
    oracle = es.relevance.toarray().astype(float)  # every correct pair scores 1, all else 0
    noise = np.random.default_rng(0).random(oracle.shape)
    ranked = {
        "oracle": retrieval.rank_subsets(oracle, es, cfg),
        "noise": retrieval.rank_subsets(noise, es, cfg),
    }
    per_model, deltas, _ = retrieval.summarize(ranked, cfg, boot, reference="noise")
    for direction in retrieval.DIRECTIONS:
        block = per_model["oracle"][direction]
        assert set(block) == {"all", *set(es.sources)}
        metrics = block["all"]["metrics"]
        assert metrics["R@1"] == {"value": 1.0, "low": 1.0, "high": 1.0, "n": block["all"]["n_queries"]}
        assert metrics["median_rank"]["value"] == 1.0
        # fewer than 100 images: no full batch, so the in-batch metric is not defined
        assert es.n_images < 100 and "in_batch_top10" not in metrics
        assert (
            block["all"]["not_applicable"]["in_batch_top10"] == f"only {es.n_images} images, fewer than 100"
        )
        assert block["all"]["curve"]["accuracy"][-1] == 1.0
        n_cand = block["all"]["n_candidates"]
        assert metrics["acc@50%"]["value"] == (1.0 if n_cand >= 2 else 0.0)
        chance = block["all"]["chance"]
        assert chance == per_model["noise"][direction]["all"]["chance"] and 0 < chance["R@1"] < 1
        noisy = per_model["noise"][direction]["all"]["metrics"]["R@1"]
        assert noisy["low"] <= noisy["value"] <= noisy["high"] < 1.0
        assert deltas["oracle"][direction]["all"]["R@1"]["value"] == pytest.approx(1 - noisy["value"])
        # per-source queries partition the pooled ones and rank only their own source's candidates
        assert block["all"]["candidates"] == "pooled"
        same = {s: b for s, b in block.items() if s != "all"}
        assert {b["candidates"] for b in same.values()} == {"same_source"}
        assert sum(b["n_queries"] for b in same.values()) == block["all"]["n_queries"]
        assert sum(b["n_candidates"] for b in same.values()) == block["all"]["n_candidates"]
        # the type-level hit is never harder than the caption-level one
        for b in block.values():
            for k in cfg.ks:
                assert b["metrics"][f"type_R@{k}"]["value"] >= b["metrics"][f"R@{k}"]["value"]
                assert b["chance"][f"type_R@{k}"] >= b["chance"][f"R@{k}"]
    assert per_model["oracle"]["image_to_text"]["all"]["n_candidates"] == len(es.texts)
    assert per_model["oracle"]["text_to_image"]["all"]["n_candidates"] == es.n_images
    stellarium = per_model["oracle"]["text_to_image"]["stellarium"]
    assert stellarium["n_candidates"] == int((es.sources == "stellarium").sum())


def _summaries(scores, es, chunk_size):
    cfg = RetrievalConfig(percents=[1.0, 10.0], ks=[1, 5], chunk_size=chunk_size)
    ranked = {
        "model": retrieval.rank_subsets(scores, es, cfg),
        "noise": retrieval.rank_subsets(scores.T.T, es, cfg),
    }
    return retrieval.summarize(ranked, cfg, BootstrapConfig(samples=50), reference="noise")


def _synthetic_eval_set(rng, n_images=250, n_shared=30):
    """An EvalSet of random pairs: half the images have one of ``n_shared`` captions (FIRST-like),
    the rest unique ones; objects repeat, two sources."""
    captions = np.where(
        np.arange(n_images) % 2 == 0, rng.integers(0, n_shared, n_images), n_shared + np.arange(n_images)
    )
    texts, image_text = np.unique(captions, return_inverse=True)
    objects = rng.integers(0, n_images // 2, n_images).astype(str)
    types = rng.choice(["a", "b", "c"], n_images)
    sources = np.where(captions < n_shared, "first", "stellarium").astype(object)
    texts_of = [set() for _ in texts]
    for t, o in zip(image_text, objects):
        texts_of[t].add(o)
    types_of = [set() for _ in texts]
    for t, k in zip(image_text, types):
        types_of[t].add(k)
    return EvalSet(
        images=None,
        split="synthetic",
        fingerprint="",
        text_column="caption",
        sources=sources,
        types=types,
        object_ids=objects,
        texts=[str(t) for t in texts],
        image_text=image_text,
        text_sources=sources[np.unique(image_text, return_index=True)[1]],
        relevance=relevance_from_keys(
            [{("text", t), ("object", o)} for t, o in zip(image_text, objects)],
            [{("text", t)} | {("object", o) for o in objs} for t, objs in enumerate(texts_of)],
        ),
        type_relevance=relevance_from_keys([{k} for k in types], types_of),
    )


def test_chunked_evaluation_equals_unchunked(train_split):
    rng = np.random.default_rng(0)
    es = build_eval_set(train_split, "train")
    images = rng.normal(size=(es.n_images, 8)).astype(np.float32)
    texts = rng.normal(size=(len(es.texts), 8)).astype(np.float32)
    texts[1] = texts[0]  # a collapsed pair of captions: ties must not depend on the block
    scores = EmbeddingScores(images, texts)
    whole = _summaries(scores, es, chunk_size=10**6)
    assert _summaries(scores, es, chunk_size=3) == whole
    assert _summaries(scores, es, chunk_size=1) == whole
    # 250 random pairs with shared captions: the in-batch metrics are defined here too
    es = _synthetic_eval_set(rng)
    scores = EmbeddingScores(
        rng.normal(size=(es.n_images, 16)).astype(np.float32),
        rng.normal(size=(len(es.texts), 16)).astype(np.float32),
    )
    whole = _summaries(scores, es, chunk_size=10**6)
    assert _summaries(scores, es, chunk_size=7) == whole
    block = whole[0]["model"]["text_to_image"]["all"]
    assert block["metrics"]["in_batch_top10"]["n"] == len(es.texts)
    assert block["paper"]["metrics"]["in_batch_top10"]["n"] == 200  # 2 full batches of 100 pairs
    assert block["paper"]["chance"]["in_batch_top10"] == 0.1
    # the same numbers from the full score matrix in memory
    matrix = MatrixScores(scores.block(slice(None)))
    assert _summaries(matrix, es, chunk_size=5) == whole


def test_perfect_model_on_shared_captions_ours_one_paper_lower():
    rng = np.random.default_rng(1)
    es = _synthetic_eval_set(rng)
    texts = rng.normal(size=(len(es.texts), 16))
    texts /= np.linalg.norm(texts, axis=1, keepdims=True)
    scores = EmbeddingScores(texts[es.image_text], texts)  # each image embedded as its caption
    per_model, _, _ = _summaries(scores, es, chunk_size=0)
    for direction in retrieval.DIRECTIONS:
        block = per_model["model"][direction]["all"]
        assert block["metrics"]["R@1"]["value"] == 1.0
        unique = np.mean(np.bincount(es.image_text)[es.image_text] == 1)
        assert block["paper"]["metrics"]["R@1"]["value"] == pytest.approx(unique) and unique < 0.6


def test_class_lists_match_the_dataset_labels():
    labels = set(OPENNGC_TYPES.values()) | set(GALAXY_CLASSES)
    assert set(load_classes("openngc")) <= labels
    assert load_classes("first") == list(FIRST_CLASSES.values())
    assert 70 <= len(load_classes("descriptions")) <= 90
    assert all(t.count("{}") == 1 for t in load_templates())


def test_class_list_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="built-in names"):
        load_classes(tmp_path / "missing.txt")
    bad = tmp_path / "t.txt"
    bad.write_text("# comment\nan image of a galaxy\n")
    with pytest.raises(ValueError, match="exactly one"):
        load_templates(bad)
    bad.write_text("spiral galaxy\nspiral galaxy\n")
    with pytest.raises(ValueError, match="duplicate"):
        load_classes(bad)


def test_prompt_ensemble_is_the_normalised_mean(tiny_lit):
    from hubbleclip.models import embed_texts

    templates = ["{}", "an image of a {}."]
    emb = class_embeddings(tiny_lit, ["spiral galaxy", "open cluster"], templates)
    manual = embed_texts(tiny_lit, ["spiral galaxy", "an image of a spiral galaxy."]).mean(axis=0)
    assert np.allclose(emb[0], manual / np.linalg.norm(manual), atol=1e-5)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_labelled_set_selects_source_and_known_types(train_split):
    es = build_eval_set(train_split, "train")
    labelled = labelled_set("first", load_classes("first"), es.sources, es.types)
    assert len(labelled.rows) == int((es.sources == "first").sum()) and labelled.n_unlabelled == 0
    assert [labelled.classes[c] for c in labelled.labels] == es.types[labelled.rows].tolist()


def test_model_fingerprint_follows_the_weights(tiny_lit):
    import torch

    before = weights_digest([tiny_lit])
    assert weights_digest([tiny_lit]) == before
    param = next(tiny_lit.parameters())
    with torch.no_grad():
        param.add_(1e-3)
    try:
        assert weights_digest([tiny_lit]) != before
    finally:
        with torch.no_grad():
            param.sub_(1e-3)


def test_compare_cli_writes_results_and_reuses_the_cache(tiny, tiny_skyset, tmp_path, monkeypatch, capsys):
    out, cache = tmp_path / "cmp", tmp_path / "cache"
    run_dir = tmp_path / "run"
    from hubbleclip.models import load_model

    load_model(tiny["tiny-lit"]).save(run_dir / "export")  # a run directory stands for its export
    argv = [
        "compare",
        "--model",
        f"base={tiny['tiny-lit']}",
        "--model",
        f"tuned={run_dir}",
        "--dataset",
        tiny_skyset,
        "--split",
        "train",
        "--out",
        str(out),
        "--cache_dir",
        str(cache),
        "--bootstrap.samples",
        "100",
    ]
    assert main(argv) == 0
    results = load_results(out)
    # the typed reader keeps every field: it writes back the very file
    assert results.to_dict() == json.loads((out / "results.json").read_text())
    # a results.json from before estimates stored their n reads as well
    old = json.loads(
        (out / "results.json").read_text(), object_hook=lambda d: {k: v for k, v in d.items() if k != "n"}
    )
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "results.json").write_text(json.dumps(old))
    assert load_results(tmp_path / "old").to_dict() == old
    assert list(results.models) == ["base", "tuned", "random"]
    assert results.models["tuned"].path == str(run_dir / "export")
    ret = results.retrieval
    assert set(ret.deltas) == {"tuned"}
    for name in results.models:
        for direction in ("image_to_text", "text_to_image"):
            block = ret.models[name][direction]["all"]
            for est in block.metrics.values():
                assert est.low <= est.value <= est.high and est.n == block.n_queries
    first = results.zero_shot["first"].models["tuned"]
    assert first.n_images == sum(sum(r) for r in first.confusion.matrix)
    assert first.chance["top1"] == 0.25
    md = (out / "results.md").read_text()
    assert "| acc@10% |" in md and "Δ tuned − base" in md and "Confusion matrix of tuned" in md
    # 15 candidates: ⌊1% of 15⌋ = 0, so acc@1% is not defined (it used to read 0.000)
    assert "| acc@1% | n/a (cut-off 0 of 15) | n/a (cut-off 0 of 15) | n/a (cut-off 0 of 15) |" in md
    assert "Paper's definitions (22 pairs, own partner only)" in md
    assert ret.models["tuned"]["image_to_text"]["all"].paper.n_queries == 22
    # a results.json written before the paper blocks and not_applicable still loads
    old = json.loads((out / "results.json").read_text())
    old["retrieval"].pop("paper_deltas")
    for per_dir in old["retrieval"]["models"].values():
        for per_subset in per_dir.values():
            for block in per_subset.values():
                del block["paper"], block["not_applicable"]
    legacy = EvalResults.from_dict(old).retrieval.models["base"]["image_to_text"]["all"]
    assert legacy.paper is None and legacy.format("acc@1%") == "n/a"
    assert "image → text acc@10%, all" in capsys.readouterr().out
    assert (out / "config.yaml").is_file()

    def no_embedding(*args, **kwargs):
        raise AssertionError("embeddings should come from the cache")

    monkeypatch.setattr(LitModel, "image_features", no_embedding)
    monkeypatch.setattr(LitModel, "text_features", no_embedding)
    assert main(argv + ["--tasks", "retrieval"]) == 0
    again = load_results(out)
    assert again.zero_shot is None
    assert again.retrieval.models["base"] == ret.models["base"]


def test_classify_cli_ranks_classes(tiny, tmp_path, capsys):
    image = str(STELLARIUM / "m31.png")
    assert (
        main(["classify", image, "--model", tiny["tiny-lit"], "--classes", "first", "--top", "3", "--json"])
        == 0
    )
    ranked = json.loads(capsys.readouterr().out)["classes"]
    assert [r["rank"] for r in ranked] == [1, 2, 3]
    assert {r["class"] for r in ranked} <= set(FIRST_CLASSES.values())
    sims = [r["similarity"] for r in ranked]
    assert sims == sorted(sims, reverse=True) and all(0 < r["probability"] < 1 for r in ranked)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    assert main(["classify", str(broken), "--model", tiny["tiny-lit"]]) == 2
    assert "not a readable image" in capsys.readouterr().err


def test_bad_inputs_give_clear_errors(tiny, tiny_skyset, tmp_path, capsys):
    with pytest.raises(ValueError, match="used twice"):
        parse_models(["a=lit-mini", "a=lit-mini@scratch"], random_baseline=True)
    with pytest.raises(ValueError, match="random"):
        parse_models(["random=lit-mini"], random_baseline=True)
    assert parse_models(["lit-mini"], random_baseline=True) == {"lit-mini": "lit-mini"}
    assert resolve_export(tiny["tiny-lit"]) == tiny["tiny-lit"]
    split = datasets.load_from_disk(tiny_skyset)["train"]
    with pytest.raises(ValueError, match="caption_llm"):
        build_eval_set(split, "train", text_column="caption_llm")
    llm = split.add_column("caption_llm", [f"llm {c}" for c in split["caption"]])
    assert build_eval_set(llm, "train").texts[0].startswith("llm ")
    assert main(["evaluate", "--dataset", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err
    assert (
        main(["evaluate", "--dataset", tiny_skyset, "--split", "nosuch", "--out", str(tmp_path / "o")]) == 2
    )
    assert "no split 'nosuch'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing written for a failed job
