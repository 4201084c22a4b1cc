"""Refinement, quick select, category restriction, the index and the `similar` CLI on real images."""

import json
import re
from dataclasses import fields

import numpy as np
import pytest
from PIL import Image

from hubbleclip.cli import main
from hubbleclip.search.names import NameResolver
from hubbleclip.similarity.categories import build_restriction, load_table
from hubbleclip.similarity.config import SimilarityIndexConfig
from hubbleclip.similarity.index import build_similarity_index, load_index
from hubbleclip.similarity.quickselect import quick_select
from hubbleclip.similarity.refine import combine, rank_similar, refine
from hubbleclip.similarity.results import SimilarImage
from hubbleclip.similarity.search import find_similar


def normalised(rng, n, d):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_refine_mean_excludes_selected_and_ranks_by_combined_vector():
    rng = np.random.default_rng(0)
    emb = normalised(rng, 300, 16)
    selected = [5, 17, 42]
    vals, idx = refine(emb, selected, 30)
    assert not set(idx) & set(selected)
    centre = emb[selected].mean(0)
    centre /= np.linalg.norm(centre)
    np.testing.assert_allclose(combine(emb[selected]), centre, atol=1e-6)
    scores = emb @ centre
    scores[selected] = -np.inf
    np.testing.assert_array_equal(idx, np.argsort(-scores, kind="stable")[:30])
    np.testing.assert_allclose(vals, scores[idx], atol=1e-5)


def test_refine_max_ranks_by_best_match():
    rng = np.random.default_rng(1)
    emb = normalised(rng, 300, 16)
    selected = [3, 200]
    vals, idx = refine(emb, selected, 25, method="max")
    best = (emb @ emb[selected].T).max(1)
    best[selected] = -np.inf
    np.testing.assert_array_equal(idx, np.argsort(-best, kind="stable")[:25])
    np.testing.assert_allclose(vals, best[idx], atol=1e-5)
    with pytest.raises(ValueError, match="method"):
        refine(emb, selected, 5, method="median")


def test_rank_similar_combines_the_query_with_the_selection_and_hides_rows():
    rng = np.random.default_rng(3)
    emb = normalised(rng, 200, 16)
    examples = [4, 9, 30]  # the query, then the selection
    scores = emb @ combine(emb[examples])
    scores[examples] = -np.inf
    found = rank_similar(emb, examples, 20)
    assert [i for i, _ in found] == np.argsort(-scores, kind="stable")[:20].tolist()
    np.testing.assert_allclose([s for _, s in found], scores[[i for i, _ in found]], atol=1e-5)
    visible = np.arange(200) % 2 == 1
    seen = rank_similar(emb, [5], 500, visible=visible)
    assert len(seen) == 99 and all(i % 2 == 1 and i != 5 for i, _ in seen)
    with pytest.raises(ValueError, match="exact backend"):
        rank_similar(emb, [5], 5, visible=visible, backend="faiss")


def test_quick_select_representatives_are_cluster_members():
    rng = np.random.default_rng(2)
    centres = normalised(rng, 5, 16)
    emb = np.concatenate([c + 0.05 * rng.standard_normal((40, 16)) for c in centres]).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    pool = rng.permutation(200)[:150]
    clusters = quick_select(emb, pool, n_clusters=5, n_members=15)
    assert len(clusters) == 5 and sum(c.size for c in clusters) == 150
    truth = np.arange(200) // 40
    for c in clusters:
        members = [c.representative, *c.members]
        assert set(members) <= set(pool.tolist()) and len(c.members) == 15
        assert len(set(truth[members])) == 1  # well separated blobs: one blob per cluster
        sims = emb[c.members] @ emb[c.representative]
        assert np.all(np.diff(sims) <= 1e-6)  # nearest first
    with pytest.raises(ValueError, match="clusters"):
        quick_select(emb, pool[:3], n_clusters=5)


def test_compatibility_table(tmp_path):
    table_file = tmp_path / "compat.yaml"
    table_file.write_text("spiral galaxy: [elliptical galaxy]\n")
    restriction, group = build_restriction(
        ["spiral galaxy", "elliptical galaxy", "planetary nebula"], load_table(table_file)
    )
    allowed = restriction.allowed
    assert allowed[group["elliptical galaxy"], group["spiral galaxy"]]  # made symmetric
    assert not allowed[group["planetary nebula"], group["spiral galaxy"]]
    assert allowed[group["planetary nebula"], group["planetary nebula"]]
    table_file.write_text("- a list\n")
    with pytest.raises(ValueError, match=re.escape("compat.yaml")):
        load_table(table_file)


@pytest.fixture(scope="module")
def tiny_index(tiny_skyset, tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "index"
    return build_similarity_index(
        SimilarityIndexConfig(dataset=tiny_skyset, encoder="imagenet", out=str(out), dtype="float16")
    ).read_names(NameResolver.from_aliases)


def test_index_holds_every_image(tiny_index, tiny_skyset):
    import datasets

    dd = datasets.load_from_disk(tiny_skyset)
    n_images = sum(
        sum(1 for im in dd[s].cast_column("image", datasets.Image(decode=False))["image"] if im) for s in dd
    )
    index = load_index(tiny_index.path)
    with pytest.raises(KeyError, match="no image"):
        index.find("M31")  # a name: read only through a resolver (the CLI passes search's)
    index.read_names(NameResolver.from_aliases)
    assert index.embeddings.dtype == np.float16 and len(index.items) == n_images
    np.testing.assert_allclose(np.linalg.norm(index.vectors(), axis=1), 1, atol=1e-2)
    first = index.find("M31")
    assert "M31" in index.items[first]["names"]
    assert index.image(first).mode == "RGB"
    with pytest.raises(KeyError, match="no image"):
        index.find("not-an-object")


def test_find_similar_with_restriction_and_file_query(tiny_index, tmp_path):
    radio = next(i for i, it in enumerate(tiny_index.items) if it["source"] == "first")
    query = tiny_index.items[radio]["id"]
    res = find_similar(tiny_index, query, k=5, n_clusters=2, restrict=True)
    families = {"FRI radio galaxy", "FRII radio galaxy", "bent-tail radio galaxy", "compact radio source"}
    assert all(tiny_index.items[i]["type"] in families for i, _ in res.neighbours)
    assert radio not in [i for i, _ in res.neighbours]
    # a file query is embedded with the index's encoder and finds its own image first
    path = tmp_path / "q.png"
    tiny_index.image(radio).save(path)
    res = find_similar(tiny_index, str(path), k=3, n_clusters=0)
    assert res.neighbours[0][0] == radio and res.neighbours[0][1] > 0.99


def test_similar_cli_prints_neighbours_and_writes_sheet(tiny_index, tmp_path, capsys):
    sheet = tmp_path / "sheet.png"
    code = main(
        [
            "similar",
            "M42",
            "--index",
            str(tiny_index.path),
            "--select",
            "M51",
            "-k",
            "6",
            "--clusters",
            "3",
            "--pool",
            "20",
            "--sheet",
            str(sheet),
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["neighbours"]) == 6 and len(out["clusters"]) == 3
    assert not {n["image_id"] for n in out["neighbours"]} & set(out["selected"])
    with Image.open(sheet) as im:
        assert im.width > 6 * 100
    assert main(["similar", "nothing-like-this", "--index", str(tiny_index.path)]) == 2
    assert "nothing-like-this" in capsys.readouterr().err


def test_pairs_cli(tiny_index, tmp_path, capsys):
    out = tmp_path / "pairs"
    assert main(["similarity", "pairs", "--index", str(tiny_index.path), "-k", "4", "--out", str(out)]) == 0
    idx = np.load(out / "indices.npy", mmap_mode="r")
    assert idx.shape == (len(tiny_index.items), 4) and (idx != np.arange(len(idx))[:, None]).all()


def test_similar_reads_names_as_search_does(tiny_index, capsys):
    """Catalogue prefixes, zero padding, spelled-out catalogues and typos name the same object."""

    def similar(query: str) -> dict:
        assert main(["similar", query, "--index", str(tiny_index.path), "--sheet", "", "--json"]) == 0
        return json.loads(capsys.readouterr().out)

    m57 = similar("M57")
    assert m57["selected"] == [next(it["id"] for it in tiny_index.items if it["object_id"] == "NGC6720")]
    for spelling in ("Messier 57", "NGC 06720", "ngc6720", "Mesier 57", "Ring Nebula"):
        assert similar(spelling) == {**m57, "query": spelling}, spelling
    scores = [n["score"] for n in m57["neighbours"]]
    assert scores == sorted(scores, reverse=True)
    assert list(m57["neighbours"][0]) == [f.name for f in fields(SimilarImage)]  # the one typed result
