"""The archive-scale generator and the cost-curve harness (bench/harness/synthetic.py, scale.py):
seeded and deterministic output, the JSON layout, slopes on known numbers.  No timings asserted."""

import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from bench.harness.scale import (
    ScaleConfig,
    StageRun,
    all_pairs_auto,
    consecutive_slopes,
    evaluate_pairs,
    loglog_slope,
    synthetic_corpus,
    table_rows,
    write_report,
)
from bench.harness.synthetic import build_synthetic, sky_name
from hubbleclip.access.policy import PUBLIC


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return build_synthetic(tmp_path_factory.mktemp("syn") / "500", 500, seed=3, chunk=128)


def test_sky_name_is_the_j2000_designation():
    # Orion's trapezium: 05h35m17.3s, -05d23m28s
    assert sky_name(83.82208, -5.39111) == "SYN J053517.3-052328"
    assert sky_name(0.0, 0.0) == "SYN J000000.0+000000"
    assert sky_name(359.99999, 89.99999) == "SYN J000000.0+900000"  # RA wraps round, Dec is capped


def test_generator_is_seeded(synthetic, tmp_path):
    again = build_synthetic(tmp_path / "again", 500, seed=3, chunk=128)
    other = build_synthetic(tmp_path / "other", 500, seed=4, chunk=128)
    for name in ("emb_text.npy", "emb_image.npy", "uniform.npy"):
        assert (synthetic / name).read_bytes() == (again / name).read_bytes()
        assert not np.array_equal(np.load(synthetic / name), np.load(other / name))
    # pandas compares NaN (an unknown magnitude or size) equal to NaN
    assert (
        pq.read_table(synthetic / "catalogue.parquet")
        .to_pandas()
        .equals(pq.read_table(again / "catalogue.parquet").to_pandas())
    )


def test_generator_layout(synthetic):
    meta = json.loads((synthetic / "meta.json").read_text())
    assert meta["n"] == 500 and meta["dim"] == 256 and meta["vectors"] == "mixture"
    for name in ("emb_text.npy", "emb_image.npy", "uniform.npy"):
        v = np.load(synthetic / name)
        assert v.shape == (500, 256) and v.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    text, image = np.load(synthetic / "emb_text.npy"), np.load(synthetic / "emb_image.npy")
    # the mixture is clustered like real embeddings (uniform vectors in 256-d are near orthogonal)
    assert (text @ text.T).mean() > 0.2
    assert (
        abs((np.load(synthetic / "uniform.npy")[:100] @ np.load(synthetic / "uniform.npy")[100:200].T).mean())
        < 0.02
    )
    # an image is nearer its own text than the average text is
    assert np.mean(np.einsum("ij,ij->i", image, text)) > (image @ text.T).mean()
    cat = pq.read_table(synthetic / "catalogue.parquet").to_pydict()
    assert len(cat["object_id"]) == 500 and len(set(cat["object_id"])) == 500
    assert all(n[0].startswith("SYN J") for n in cat["names"])
    assert all(-90 <= d <= 90 for d in cat["dec_deg"]) and all(0 <= r < 360 for r in cat["ra_deg"])
    assert {"spiral galaxy", "elliptical galaxy"} <= set(cat["type"])  # OpenNGC's commonest types
    assert all(n[0] in t for n, t in zip(cat["names"], cat["text"]))


def test_jittered_real_vectors(tmp_path, synthetic):
    real = tmp_path / "real_index"
    real.mkdir()
    text = np.load(synthetic / "emb_text.npy")[:40]
    np.save(real / "emb_text.npy", text)
    np.save(real / "emb_image.npy", np.load(synthetic / "emb_image.npy")[:40])
    np.save(real / "has_image.npy", np.arange(40) % 2 == 0)
    out = build_synthetic(tmp_path / "jit", 200, seed=0, real_index=real)
    jittered = np.load(out / "emb_text.npy")
    # every jittered vector is close to one of the 20 real ones with an image
    assert ((jittered @ text[::2].T).max(1) > 0.9).all()


def test_slopes_on_known_numbers():
    assert loglog_slope([10, 100, 1000], [1, 10, 100]) == pytest.approx(1.0)
    assert loglog_slope([10, 100], [5, 5]) == pytest.approx(0.0)
    assert loglog_slope([1e4, 1e5, 1e6], [2, 200, 20000]) == pytest.approx(2.0)
    assert math.isnan(loglog_slope([10], [1]))
    # least squares over three points: log10 seconds 0, 1, 3 at log10 sizes 1, 2, 3 -> slope 1.5
    assert loglog_slope([10, 100, 1000], [1, 10, 1000]) == pytest.approx(1.5)
    assert consecutive_slopes([10, 100, 1000], [1, 10, 1000]) == pytest.approx([1.0, 2.0])


def _runs():
    out = []
    for n, t in ((10_000, 1.0), (100_000, 12.0)):
        out.append(StageRun("synthetic", n, t, 300.0, 250.0))
        out.append(StageRun("search", n, 0.01, 900.0, 800.0, {"p99_s": 0.05}))
        out.append(StageRun("all_pairs", n, t * 2, 700.0, 400.0, {"recall": 0.99, "backend": "faiss"}))
        out.append(StageRun("embedding", n, t * 3, 600.0, 500.0, {"projected": n > 2000}))
    return out


def test_report_json_layout(tmp_path):
    out = write_report(tmp_path / "scale.json", _runs(), ScaleConfig())
    saved = json.loads((tmp_path / "scale.json").read_text())
    assert saved == json.loads(json.dumps(out))
    assert list(saved["stages"]) == ["synthetic", "embedding", "search", "all_pairs"]  # pipeline order
    syn = saved["stages"]["synthetic"]
    assert syn["sizes"] == [10_000, 100_000]
    assert syn["seconds"] == [1.0, 12.0]
    assert syn["peak_rss_mb"] == [300.0, 300.0]
    assert syn["slope"] == pytest.approx(math.log10(12), abs=1e-3)
    assert saved["stages"]["search"]["slope"] == 0.0
    assert saved["recall"] == {"all_pairs": [0.99, 0.99]}
    header, rows = table_rows(_runs())
    assert header[1:3] == ["10,000", "100,000"]
    assert [r[0] for r in rows] == ["synthetic", "embedding", "search", "all_pairs"]
    assert "(projected)" in rows[1][1] and "p99 50.0 ms" in rows[2][1] and "recall@k 0.990" in rows[3][1]


def test_evaluation_ranks_equal_the_full_matrix(synthetic):
    images = np.load(synthetic / "emb_image.npy")[:300]
    texts = np.load(synthetic / "emb_text.npy")[:300]
    ranks = evaluate_pairs(images, texts, chunk=64)
    scores = images.astype(np.float64) @ texts.astype(np.float64).T
    own = np.diag(scores)
    np.testing.assert_array_equal(ranks["image_to_text"], (scores > own[:, None]).sum(1) + 1)
    np.testing.assert_array_equal(ranks["text_to_image"], (own[:, None] < scores.T).sum(1) + 1)
    first = evaluate_pairs(images, texts, chunk=0, queries=100)  # a capped run ranks the first queries
    for direction, r in first.items():
        np.testing.assert_array_equal(r, ranks[direction][:100])


def test_all_pairs_records_backend_and_recall(synthetic, tmp_path):
    meta = all_pairs_auto(np.load(synthetic / "emb_image.npy"), 10, tmp_path / "pairs", 50, seed=0)
    assert meta["backend"] == "exact" and meta["recall_at_k"] == 1.0  # 500 vectors: exact


def test_synthetic_corpus_reads_the_catalogue(synthetic):
    corpus = synthetic_corpus(synthetic)
    assert len(corpus) == 500 and corpus.names[0][0].startswith("SYN J")
    assert (corpus.access().release_day == PUBLIC).all()  # every synthetic object is public
    assert np.isfinite(corpus.ra_deg).all() and corpus.unit_vectors().shape == (500, 3)


def test_figure_from_the_json(tmp_path):
    from bench.harness.scale import plot_curves

    result = write_report(tmp_path / "scale.json", _runs(), ScaleConfig())
    paths = plot_curves(result, tmp_path / "curves")
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 1000 for p in paths)
