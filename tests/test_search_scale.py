"""Search at archive scale: an index written from arrays (no model run), its faiss IVF files (listed,
checked, memory-mapped), approximate candidates close to exact ones, and a query that never scores
the whole corpus.  The synthetic objects here are small; bench/ runs the large sizes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from hubbleclip.errors import UserError
from hubbleclip.search.ann import ann_file
from hubbleclip.search.config import AnnBuildConfig, CandidateConfig
from hubbleclip.search.corpus import Corpus
from hubbleclip.search.index import SearchIndex, check_index, write_index
from hubbleclip.search.searcher import Searcher

TYPES = ("galaxy", "emission nebula", "open cluster", "globular cluster", "planetary nebula")
WORDS = ("spiral", "barred", "faint", "compact", "diffuse", "ring", "irregular", "dusty")
PRIVATE_RELEASE = dt.date(2999, 1, 1)  # never public in a test's lifetime


def synthetic_objects(n: int, dim: int, seed: int = 0, private_every: int = 0):
    """(Corpus, emb_text, emb_image) of ``n`` catalogue-like objects: positions uniform on the sky,
    texts built from type and a word, embeddings jittered around 40 cluster centres (a text and
    its image near each other), a fifth with an image; every ``private_every``-th object private."""
    rng = np.random.default_rng(seed)
    ra = rng.uniform(0.0, 360.0, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    kind = rng.integers(len(TYPES), size=n)
    word = rng.integers(len(WORDS), size=n)
    centres = rng.standard_normal((40, dim)).astype(np.float32)
    cluster = rng.integers(len(centres), size=n)
    emb_text = centres[cluster] + 0.5 * rng.standard_normal((n, dim)).astype(np.float32)
    emb_image = emb_text + 0.3 * rng.standard_normal((n, dim)).astype(np.float32)
    emb_image[rng.random(n) >= 0.2] = 0.0
    for emb in (emb_text, emb_image):
        norms = np.linalg.norm(emb, axis=1, keepdims=True)
        emb /= np.where(norms > 0, norms, 1.0)
    private = np.zeros(n, bool)
    if private_every:
        private[::private_every] = True
    names = [[f"SYN {i:07d}"] for i in range(n)]
    texts = [f"{WORDS[w]} {TYPES[k]}" for w, k in zip(word, kind)]
    corpus = Corpus(
        object_id=[f"syn:{i}" for i in range(n)],
        names=names,
        type=[TYPES[k] for k in kind],
        source=["synthetic"] * n,
        split=["train"] * n,
        ra_deg=ra.astype(np.float32),
        dec_deg=dec.astype(np.float32),
        mag=rng.uniform(6.0, 16.0, n).astype(np.float32),
        size_arcmin=rng.lognormal(0.0, 1.0, n).astype(np.float32),
        constellation=[""] * n,
        text=texts,
        caption=[""] * n,
        identifiers=[[] for _ in range(n)],
        image_rows=[[] for _ in range(n)],
        image_ids=[[] for _ in range(n)],
        release_date=[PRIVATE_RELEASE if p else None for p in private],
        program_id=["P1" if p else None for p in private],
    )
    return corpus, emb_text, emb_image


def synthetic_index(out, model: str, n: int, private_every: int = 0, ann_from: int = 1000):
    """A synthetic index written from arrays, with IVF files when ``n >= ann_from``."""
    from hubbleclip.models.embed import ClipEncoder

    encoder = ClipEncoder(model)
    corpus, emb_text, emb_image = synthetic_objects(n, encoder.embed_dim, 0, private_every)
    write_index(out, corpus, emb_text, emb_image, encoder, ann=AnnBuildConfig(min_objects=ann_from))
    return encoder


@pytest.fixture(scope="module")
def large(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("scale") / "index"
    encoder = synthetic_index(out, tiny["tiny-lit"], 3000)
    return out, encoder


def test_an_index_from_arrays_lists_and_checks_its_faiss_files(large, tiny):
    out, _ = large
    index = SearchIndex.load(out)
    m = index.manifest
    assert set(m["ann"]) == {"text", "image"} and m["ann"]["text"]["n"] == 3000
    assert m["ann"]["image"]["n"] == int(index.has_image.sum()) > 0
    for kind in ("text", "image"):
        assert ann_file(kind) in m["files"] and len(m["files"][ann_file(kind)]["sha256"]) == 64
        assert index.ivf[kind].ntotal == m["ann"][kind]["n"]
    assert set(m["build_seconds"]) >= {"bm25", "ann", "digests"}
    assert check_index(out) == []


def test_a_damaged_faiss_file_fails_the_check(large, tmp_path):
    import shutil

    copy = tmp_path / "index"
    shutil.copytree(large[0], copy)
    with open(copy / ann_file("text"), "r+b") as f:
        f.seek(-8, 2)
        f.write(b"\xff" * 8)
    assert any(ann_file("text") in p for p in check_index(copy))


def test_approximate_candidates_recall_the_exact_ones(large):
    out, encoder = large
    auto = Searcher.open(out, encoder=encoder)
    exact = Searcher.open(out, encoder=encoder, candidates=CandidateConfig(ann="exact"))
    assert auto.dense["text"].approximate and not exact.dense["text"].approximate
    index = auto.index
    # queries near the data, as real ones are: objects' own text vectors, a little moved
    rng = np.random.default_rng(1)
    queries = index.emb_text[::150] + 0.2 * rng.standard_normal((20, index.emb_text.shape[1]))
    for q in queries.astype(np.float32):
        q /= np.linalg.norm(q)
        for kind in ("text", "image"):
            approx_rows = set(auto.dense[kind].search(q, 100).tolist())
            exact_rows = set(exact.dense[kind].search(q, 100).tolist())
            assert len(approx_rows & exact_rows) >= 0.95 * len(exact_rows)


def test_a_query_scores_a_few_hundred_candidates_only(large):
    out, encoder = large
    cfg = CandidateConfig(dense=50, bm25=50)
    searcher = Searcher.open(out, encoder=encoder, candidates=cfg)
    query = searcher.text("faint ring galaxy")
    assert query.bm25 is None and query.clip is None  # nothing over the whole corpus
    assert 50 <= len(query.candidates) <= 4 * 50
    result = searcher.search(text="faint ring galaxy", k=5)
    assert len(result.hits) == 5
    # a resolved name is a candidate however far its vector is
    assert searcher.search(text="SYN 0002999", k=1).hits[0].object_id == "syn:2999"


def test_a_small_index_has_no_faiss_files_and_searches_exactly(tiny, tmp_path):
    encoder = synthetic_index(tmp_path / "small", tiny["tiny-lit"], 300)
    index = SearchIndex.load(tmp_path / "small")
    assert index.manifest["ann"] == {} and not (tmp_path / "small" / ann_file("text")).exists()
    searcher = Searcher(index, encoder)
    assert not searcher.dense["text"].approximate
    forced = Searcher(index, encoder, candidates=CandidateConfig(ann="approximate"))
    assert forced.dense["text"].approximate  # trained in memory
    with pytest.raises(UserError, match="ann"):
        Searcher(index, encoder, candidates=CandidateConfig(ann="fast"))
