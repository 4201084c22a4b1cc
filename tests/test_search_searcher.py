"""Index build/load, search by text and by image, the learned ranker and the rerank job,
on the tiny skyset (real Stellarium, FIRST and OpenNGC records) with the tiny-lit model."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hubbleclip.data.load import load_dataset_dict
from hubbleclip.metrics.graded import RELEVANT_GRADE
from hubbleclip.search.config import RankerConfig, RerankConfig, SearchIndexConfig
from hubbleclip.search.corpus import corpus_from_dataset
from hubbleclip.search.evaluate import format_summary
from hubbleclip.search.index import IndexFormatError, SearchIndex, build_retrieval_index
from hubbleclip.search.queries import FAMILY, held_out_keys, load_queries
from hubbleclip.search.searcher import Searcher, open_image

STELLARIUM = Path(__file__).parent / "data" / "stellarium" / "nebulae" / "default"


@pytest.fixture(scope="module")
def index_dir(tiny, tiny_skyset, tmp_path_factory):
    out = tmp_path_factory.mktemp("retrieval") / "index"
    build_retrieval_index(
        SearchIndexConfig(dataset=tiny_skyset, model=tiny["tiny-lit"], out=str(out), batch_size=16)
    )
    return out


@pytest.fixture(scope="module")
def searcher(index_dir):
    return Searcher.open(index_dir)


def _ids(result):
    return [h.object_id for h in result.hits]


def test_index_is_memory_mapped_and_described(tiny, index_dir, tiny_skyset):
    index = SearchIndex.load(index_dir)
    m = index.manifest
    assert index.model_spec == Path(tiny["tiny-lit"]).name and m["n_objects"] == len(index)
    assert m["model"]["packed"] and (index.path / m["model"]["spec"]).is_dir()  # copied into the index
    assert isinstance(index.emb_text, np.memmap) and isinstance(index.xyz, np.memmap)
    # every skyset object plus the named stars, each once
    assert len(set(index.corpus.object_id)) == len(index)
    assert "NGC0224" in index.row_of and "star:Vega" in index.row_of
    m31 = index.row_of["NGC0224"]
    assert index.has_image[m31] and "Andromeda Galaxy" in index.corpus.names[m31]
    assert index.corpus.constellation[m31] == "Andromeda"
    norms = np.linalg.norm(index.emb_image[index.has_image], axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-4)


@pytest.mark.parametrize("text", ["where is the andromeda galaxy", "Andromeda Galaxy", "M31", "m 31"])
def test_andromeda_galaxy_returns_m31_first(searcher, text):
    result = searcher.search(text=text, k=5)
    assert _ids(result)[0] == "NGC0224"
    hit = result.hits[0]
    assert hit.constellation == "Andromeda" and hit.position.startswith("RA 00:42:44")
    assert hit.image_id == "stellarium:m31"


@pytest.mark.parametrize(
    "file,object_id", [("m57dumont.png", "NGC6720"), ("n7293.png", "NGC7293"), ("m42.png", "NGC1976")]
)
def test_image_query_finds_its_own_object(searcher, file, object_id):
    result = searcher.search(image=open_image(STELLARIUM / file), k=3)
    assert object_id in _ids(result)


def test_empty_and_unknown_queries(searcher):
    with pytest.raises(ValueError, match="empty query"):
        searcher.search(text="   ")
    result = searcher.search(text="qwzxv", k=3)
    assert "no word of the query" in result.note and len(result.hits) == 3


def _break(index_dir, tmp_path, how):
    bad = tmp_path / "bad"
    shutil.copytree(index_dir, bad)
    how(bad)
    return bad


@pytest.mark.parametrize(
    "how,message",
    [
        (lambda d: (d / "manifest.json").unlink(), "not a retrieval index"),
        (lambda d: (d / "manifest.json").write_text("{not json"), "not valid JSON"),
        (
            lambda d: (d / "manifest.json").write_text(
                json.dumps({**json.loads((d / "manifest.json").read_text()), "version": 99})
            ),
            "index version 99",
        ),
        (lambda d: (d / "emb_text.npy").unlink(), "emb_text.npy: missing"),
        (lambda d: np.save(d / "mag.npy", np.zeros(3, np.float32)), r"mag.npy: \d+ bytes, the manifest"),
        (lambda d: (d / "objects.parquet").write_bytes(b"garbage"), r"objects.parquet: 7 bytes"),
        (lambda d: shutil.rmtree(d / "bm25_text"), r"bm25_text/.*: missing"),
    ],
)
def test_malformed_index_gives_a_clear_error(index_dir, tmp_path, how, message):
    bad = _break(index_dir, tmp_path, how)
    with pytest.raises(IndexFormatError, match=message):
        SearchIndex.load(bad)


def test_cli_reports_a_malformed_index_in_one_line(index_dir, tmp_path, capsys):
    from hubbleclip.cli import main

    bad = _break(index_dir, tmp_path, lambda d: (d / "manifest.json").unlink())
    assert main(["search", "m31", "--index", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a retrieval index" in err


def test_cli_json_output(index_dir, capsys):
    from hubbleclip.cli import main

    assert main(["search", "andromeda galaxy", "--index", str(index_dir), "--json", "-k", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "text" and out["hits"][0]["object_id"] == "NGC0224" and len(out["hits"]) == 2


@pytest.fixture(scope="module")
def rerank_results(index_dir, tiny_skyset, tmp_path_factory):
    from hubbleclip.search.evaluate import run_rerank
    from hubbleclip.search.queries import make_queries_file

    work = tmp_path_factory.mktemp("rerank")
    queries, _, _ = make_queries_file(tiny_skyset, work / "queries.json", seed=0)
    cfg = RerankConfig(
        index=str(index_dir),
        queries=str(queries),
        out=str(work / "run"),
        image_queries_first=3,
        shuffles=5,
        ranker=RankerConfig(n_estimators=[10, 30], folds=2, min_child_samples=5),
    )
    return run_rerank(cfg), work


def test_rerank_job_writes_results_and_ranker(rerank_results):
    results, work = rerank_results
    saved = json.loads((work / "run" / "results.json").read_text())
    assert saved["targets"] == results["targets"]
    assert set(saved["metrics"]["test"]["text"]) == {"random", "bm25", "clip", "learned"}
    assert saved["metrics"]["test"]["image"]["bm25"] is None
    assert saved["counts"]["train"]["image"] > 0 and saved["counts"]["test"]["text"] > 0
    for row in saved["per_query"]:
        for metrics in filter(None, row["metrics"].values()):
            assert 0.0 <= metrics["map@10"] <= 1.0 and 0.0 <= metrics["ndcg@10"] <= 1.0
    assert (work / "run" / "config.yaml").is_file() and (work / "run" / "metrics.jsonl").is_file()


def test_rerank_intervals_contain_the_means_and_decide_the_targets(rerank_results):
    results, _ = rerank_results
    for split, groups in results["intervals"].items():
        for group, systems in filter(lambda item: item[1], groups.items()):
            assert results["counts"][split][group] > 0
            for system, est in systems.items():
                assert (est is None) == (results["metrics"][split][group][system] is None)
                for metric, e in (est or {}).items():
                    assert e["low"] <= e["value"] <= e["high"]
                    assert e["value"] == pytest.approx(results["metrics"][split][group][system][metric])
            for name, diff in results["differences"][split][group].items():
                other = name.removeprefix("learned-")
                for metric, e in diff.items():
                    assert e["low"] <= e["value"] <= e["high"]
                    assert e["value"] == pytest.approx(
                        systems["learned"][metric]["value"] - systems[other][metric]["value"]
                    )
    text = results["differences"]["test"]["text"]["learned-bm25"]
    assert results["targets"]["learned_beats_bm25_heldout_text"] == all(e["low"] > 0 for e in text.values())
    assert "bootstrap intervals" in format_summary(results)


def _relevant(queries, split, family):
    return {
        o
        for q in queries
        if q.split == split and FAMILY[q.kind] == family
        for o, g in q.judgments.items()
        if g >= RELEVANT_GRADE
    }


@pytest.mark.parametrize("packaged", [False, True], ids=["tiny", "packaged"])
def test_held_out_queries_share_no_relevant_object_with_training_queries(rerank_results, packaged):
    _, work = rerank_results
    queries = load_queries(None if packaged else work / "queries.json")
    for family in ("location", "type"):
        test, train = _relevant(queries, "test", family), _relevant(queries, "train", family)
        assert test and train and not test & train, family
    if packaged:
        assert sum(q.split == "test" for q in queries) >= 100


def test_held_out_location_queries_lie_in_held_out_constellations(rerank_results, tiny_skyset):
    corpus = corpus_from_dataset(load_dataset_dict(tiny_skyset), include_stars=True)
    held_out = held_out_keys(corpus, seed=0)
    const = dict(zip(corpus.object_id, corpus.constellation))
    for q in load_queries(rerank_results[1] / "queries.json"):
        if FAMILY[q.kind] == "location":
            inside = {const[o] in held_out["location"] for o, g in q.judgments.items() if g >= RELEVANT_GRADE}
            assert inside == {q.split == "test"}, q.text


def test_ranker_save_load_round_trip(rerank_results, index_dir, tmp_path):
    from hubbleclip.search.ranker import Ranker

    _, work = rerank_results
    ranker = Ranker.load(work / "run" / "ranker")
    assert ranker.meta["n_estimators"] in (10, 30) and set(ranker.meta["cv_ndcg@10"]) == {"10", "30"}
    searcher = Searcher.open(index_dir)  # picks up INDEX/ranker installed by the job
    assert searcher.ranker is not None
    query = searcher.text("globular clusters")
    np.testing.assert_array_equal(ranker.score(query.features), searcher.ranker.score(query.features))
    ranker.save(tmp_path / "copy")
    np.testing.assert_array_equal(
        Ranker.load(tmp_path / "copy").score(query.features), ranker.score(query.features)
    )
    meta = json.loads((tmp_path / "copy" / "ranker.json").read_text())
    (tmp_path / "copy" / "ranker.json").write_text(json.dumps({**meta, "features": meta["features"][:-1]}))
    with pytest.raises(ValueError, match="retrain"):
        Ranker.load(tmp_path / "copy")


def test_forced_approximate_candidates_answer_like_exact_ones(index_dir):
    """faiss IVF candidates (trained in memory on this small index) give the same answers here."""
    from hubbleclip.search.config import CandidateConfig

    exact = Searcher.open(index_dir)
    approx = Searcher(exact.index, exact.encoder, exact.ranker, candidates=CandidateConfig(ann="approximate"))
    assert approx.dense["text"].approximate and approx.dense["image"].approximate
    assert not exact.dense["text"].approximate  # a small index: exact unless forced
    for text in ("Andromeda Galaxy", "bright planetary nebulae", "radio galaxy"):
        assert _ids(approx.search(text=text, k=5)) == _ids(exact.search(text=text, k=5))
    image = open_image(STELLARIUM / "m31.png")
    assert _ids(approx.search(image=image, k=3)) == _ids(exact.search(image=image, k=3))
