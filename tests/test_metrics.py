"""Ranking/bootstrap/classification metrics against hand-computed cases and independent formulas."""

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, recall_score, top_k_accuracy_score

from hubbleclip.errors import UserError
from hubbleclip.metrics import (
    BootstrapConfig,
    Comparison,
    Estimate,
    accuracy_curve,
    bootstrap,
    bootstrap_difference,
    chance_hit_rate,
    chance_mean_rank,
    classification_columns,
    compare_systems,
    comparison_table,
    confusion_matrix,
    first_relevant_ranks,
    fraction_cutoff,
    hits_at_fraction,
    in_batch_hits,
    markdown_table,
    relevance_from_keys,
    resample_indices,
    true_class_ranks,
)


def _dense(relevant):
    return relevant.toarray() if hasattr(relevant, "toarray") else np.asarray(relevant)


def test_ranks_by_hand_with_ties_and_many_correct():
    scores = np.array(
        [
            [0.9, 0.5, 0.5, 0.1],  # correct {2}: c0 above, c1 tied -> rank 3
            [0.2, 0.8, 0.8, 0.3],  # correct {1, 2}: nothing wrong at or above 0.8 -> 1
            [0.1, 0.7, 0.4, 0.4],  # correct {0, 3}: best 0.4; c1 above, c2 tied -> 3
            [0.3, 0.3, 0.3, 0.3],
        ]
    )  # correct {1}: all tied -> last among wrong = 4
    relevant = np.array([[0, 0, 1, 0], [0, 1, 1, 0], [1, 0, 0, 1], [0, 1, 0, 0]], dtype=bool)
    ranks = first_relevant_ranks(scores, relevant)
    assert ranks.tolist() == [3, 1, 3, 4]
    assert hits_at_fraction(ranks, 4, 50).tolist() == [False, True, False, False]  # cut-off 2
    assert accuracy_curve(ranks, 4, [25, 50, 75, 100]) == [0.25, 0.25, 0.75, 1.0]


def test_fraction_cutoff_is_exact_floor():
    assert fraction_cutoff(10, 100) == 10
    assert fraction_cutoff(29, 100) == 29  # 0.29 * 100 is 28.999... in floating point
    assert fraction_cutoff(1, 99) == 0
    assert fraction_cutoff(0.5, 1000) == 5
    assert fraction_cutoff(50, 7) == 3


def test_relevance_from_shared_keys():
    # images: (caption, object); captions de-duplicated; same object under two captions
    images = [("a", "M31"), ("a", "M31"), ("b", "M31"), ("c", "M42")]
    captions = {"a": {"M31"}, "b": {"M31"}, "c": {"M42"}}
    rel = relevance_from_keys(
        [{("cap", c), ("obj", o)} for c, o in images],
        [{("cap", c)} | {("obj", o) for o in objs} for c, objs in captions.items()],
    )
    assert _dense(rel).astype(int).tolist() == [[1, 1, 0], [1, 1, 0], [1, 1, 0], [0, 0, 1]]


def _brute_force_ranks(scores, relevant):
    """Walk each query's candidates in score order and count wrong ones before the first correct."""
    out = []
    for s, r in zip(scores, _dense(relevant)):
        wrong = 0
        for j in np.argsort(-s, kind="stable"):
            if r[j]:
                break
            wrong += 1
        out.append(wrong + 1)
    return np.array(out)


def test_agrees_with_open_clip_style_recall_on_random_embeddings():
    rng = np.random.default_rng(1)
    img = rng.normal(size=(300, 16))
    img /= np.linalg.norm(img, axis=1, keepdims=True)
    txt = rng.normal(size=(300, 16))
    txt /= np.linalg.norm(txt, axis=1, keepdims=True)
    logits = img @ txt.T
    # open_clip's zero_shot/retrieval recipe: position of the diagonal in the descending argsort
    ranking = np.argsort(-logits, axis=1)
    preds = np.nonzero(ranking == np.arange(300)[:, None])[1]
    ranks = first_relevant_ranks(logits, np.eye(300, dtype=bool))
    assert np.array_equal(ranks, preds + 1)
    for k in (1, 5, 10):
        assert np.mean(ranks <= k) == np.mean(preds < k)
    ranks_t = first_relevant_ranks(logits.T, np.eye(300, dtype=bool))
    preds_t = np.nonzero(np.argsort(-logits.T, axis=1) == np.arange(300)[:, None])[1]
    assert np.array_equal(ranks_t, preds_t + 1)


def test_many_to_one_matches_brute_force():
    rng = np.random.default_rng(2)
    caption_of_image = rng.integers(0, 12, size=80)
    caption_of_image[:12] = np.arange(12)
    relevant = relevance_from_keys([[c] for c in caption_of_image], [[c] for c in range(12)])
    scores = rng.normal(size=(80, 12))
    assert np.array_equal(first_relevant_ranks(scores, relevant), _brute_force_ranks(scores, relevant))
    assert np.array_equal(
        first_relevant_ranks(scores.T, relevant.T), _brute_force_ranks(scores.T, relevant.T)
    )


def test_random_scores_match_the_analytic_chance_level():
    rng = np.random.default_rng(3)
    n = 2000
    ranks = first_relevant_ranks(rng.random((n, n)), np.eye(n, dtype=bool))
    for pct in (1, 10, 50):
        acc = hits_at_fraction(ranks, n, pct).mean()
        assert abs(acc - pct / 100) < 4 * np.sqrt(pct / 100 * (1 - pct / 100) / n)


def test_analytic_chance_by_hand_and_against_simulation():
    assert chance_hit_rate(4, [1], 2) == pytest.approx([0.5])  # 1 - C(3,2)/C(4,2)
    assert chance_hit_rate(4, [2], 1) == pytest.approx([0.5])
    assert chance_hit_rate(4, [2, 1], 3) == pytest.approx([1.0, 0.75])  # 2 wrong < 3 slots: always a hit
    assert chance_hit_rate(4, [1], 0) == pytest.approx([0.0])
    assert chance_mean_rank(4, [1, 3]) == pytest.approx([2.5, 1.25])
    rng = np.random.default_rng(7)
    caption_of_image = np.concatenate([np.arange(10), rng.integers(0, 10, size=50)])
    relevant = relevance_from_keys([[c] for c in range(10)], [[c] for c in caption_of_image])  # text -> image
    n_correct = np.asarray(relevant.sum(axis=1)).ravel()
    ranks = np.stack([first_relevant_ranks(rng.random((10, 60)), relevant) for _ in range(3000)])
    for cutoff in (1, 3, 6):
        assert np.mean(ranks <= cutoff, axis=0) == pytest.approx(
            chance_hit_rate(60, n_correct, cutoff), abs=0.04
        )
    assert ranks.mean(axis=0) == pytest.approx(chance_mean_rank(60, n_correct), rel=0.05)


def test_in_batch_uses_full_batches_of_exactly_batch_size():
    rng = np.random.default_rng(4)
    scores = rng.normal(size=(100, 100))
    eye = np.eye(100, dtype=bool)
    # one full batch is the whole set: the in-batch ranking is the full ranking
    hits = in_batch_hits(scores, eye, np.arange(100), batch_size=100, k=10, repeats=3)
    assert np.array_equal(hits.image_hits, (first_relevant_ranks(scores, eye) <= 10).astype(float))
    assert np.array_equal(hits.text_hits, (first_relevant_ranks(scores.T, eye) <= 10).astype(float))
    assert np.allclose(hits.image_chance, 0.1) and np.allclose(hits.text_chance, 0.1)  # 10 of 100
    # below one full batch the metric is not defined (the old code ranked the whole 60)
    assert in_batch_hits(scores[:60, :60], eye[:60, :60], np.arange(60), batch_size=100) is None
    # 250 images: every repeat drops the last 50, yet every image was ranked (no NaN) and chance
    # stays 10 of 100 (the old batches of 125 gave 10 of 125)
    scores = rng.normal(size=(250, 250))
    hits = in_batch_hits(scores, np.eye(250, dtype=bool), np.arange(250), batch_size=100, k=10, repeats=2)
    assert np.isfinite(hits.image_hits).all() and np.isfinite(hits.text_hits).all()
    assert np.allclose(hits.image_chance, 0.1) and np.allclose(hits.text_chance, 0.1)


def test_in_batch_deduplicates_texts_and_averages_over_batches():
    # 200 images sharing 2 captions: every batch holds just 2 distinct texts, so top-1 image->text
    # is exactly "the own caption scores higher than the other one"
    image_text = np.repeat([0, 1], 100)
    relevant = relevance_from_keys([[t] for t in image_text], [[0], [1]])
    scores = np.where(np.eye(2)[image_text] > 0, 1.0, 0.0)
    scores[:10] = [0.0, 0.9]  # 10 images prefer the wrong caption
    hits = in_batch_hits(scores, relevant, image_text, batch_size=100, k=1, repeats=4, seed=0)
    assert hits.image_hits.tolist() == [0.0] * 10 + [1.0] * 190
    assert hits.text_hits.tolist() == [1.0, 1.0]  # each caption still has a correct image on top
    with pytest.raises(ValueError, match="paired image"):
        in_batch_hits(scores, relevant, np.zeros(200, dtype=int))


def test_errors_are_clear():
    with pytest.raises(ValueError, match="query 1 has no correct candidate"):
        first_relevant_ranks(np.zeros((2, 2)), np.array([[1, 0], [0, 0]], dtype=bool))
    with pytest.raises(ValueError, match="NaN"):
        first_relevant_ranks(np.array([[np.nan, 1.0]]), np.array([[1, 0]], dtype=bool))
    with pytest.raises(ValueError, match="shape"):
        first_relevant_ranks(np.zeros((2, 3)), np.eye(2, dtype=bool))


def test_bootstrap_intervals_and_paired_difference():
    rng = np.random.default_rng(5)
    hits = (rng.random(400) < 0.5).astype(float)
    idx = resample_indices(400, 2000, seed=0)
    est = bootstrap(
        {"acc": hits, "const": np.full(400, 3.0), "rank": rng.integers(1, 100, 400)}, {"rank": "median"}, idx
    )
    assert est["acc"].value == hits.mean()
    width = est["acc"].high - est["acc"].low
    assert 0.08 < width < 0.12  # 2 * 1.96 * sqrt(0.25 / 400) = 0.098
    assert est["const"].low == est["const"].high == 3.0
    assert est["rank"].low <= est["rank"].value <= est["rank"].high
    diff = bootstrap_difference({"acc": hits + 0.1}, {"acc": hits}, {}, idx)["acc"]
    assert (
        diff.value == pytest.approx(0.1)
        and diff.low == pytest.approx(0.1)
        and diff.high == pytest.approx(0.1)
    )
    with pytest.raises(ValueError, match="confidence"):
        bootstrap({"acc": hits}, {}, idx, confidence=95)


def test_stratified_resampling_keeps_class_sizes():
    strata = np.array(["a"] * 5 + ["b"] * 20 + ["c"] * 2)
    idx = resample_indices(len(strata), 50, seed=1, strata=strata)
    for row in idx:
        assert sorted(strata[row].tolist()) == sorted(strata.tolist())


def test_compare_systems_pairs_every_system_on_the_same_resamples():
    a, b = np.array([1.0, 0, 1, 1]), np.array([0.0, 0, 1, 0])
    # three resamples by hand: a's means .75 .75 .75, b's .25 0 .25, so b - a is -.5 -.75 -.5
    indices = np.array([[0, 0, 1, 2], [3, 3, 3, 1], [1, 2, 3, 0]])
    cmp = compare_systems(
        {"a": {"hit": a}, "b": {"hit": b}},
        bootstrap=BootstrapConfig(samples=3, confidence=0.5),
        indices=indices,
    )
    assert cmp.reference == "a" and cmp.n == 4 and list(cmp.differences) == ["b"]
    assert cmp.estimates["a"]["hit"] == Estimate(0.75, 0.75, 0.75, 4)
    # percentiles 25 and 75 of [-.75, -.5, -.5], linearly interpolated: -.625 and -.5
    assert cmp.differences["b"]["hit"] == Estimate(-0.5, -0.625, -0.5, 4)
    # drawn indices: a copy of the reference differs from it by exactly 0 on every resample
    rng = np.random.default_rng(3)
    x, rank = rng.random(50), rng.integers(1, 20, 50).astype(float)
    per_unit = {
        "x": {"m": x, "rank": rank},
        "copy": {"m": x.copy(), "rank": rank.copy()},
        "y": {"m": x**2, "rank": rank},
    }
    boot = BootstrapConfig(samples=200, seed=7)
    drawn = compare_systems(per_unit, bootstrap=boot, reducers={"rank": "median"})
    assert drawn.differences["copy"]["m"] == Estimate(0.0, 0.0, 0.0, 50)
    assert drawn.differences["copy"]["rank"] == Estimate(0.0, 0.0, 0.0, 50)
    assert drawn.estimates["x"]["rank"].value == np.median(rank)
    # the same numbers as the per-metric kernel on resample_indices(n, samples, seed)
    idx = resample_indices(50, 200, seed=7)
    assert drawn.differences["y"] == bootstrap_difference(
        per_unit["y"], per_unit["x"], {"rank": "median"}, idx
    )
    assert Comparison.from_dict(drawn.to_dict()) == drawn
    by_y = compare_systems(per_unit, bootstrap=boot, reference="y")
    assert list(by_y.differences) == ["x", "copy"]
    with pytest.raises(UserError, match="reference 'z'"):
        compare_systems(per_unit, bootstrap=boot, reference="z")
    with pytest.raises(UserError, match="differ in length"):
        compare_systems({"x": {"m": x}, "short": {"m": x[:10]}}, bootstrap=boot)


def test_estimate_reads_old_dicts_and_formats():
    old = {"value": 0.5, "low": 0.25, "high": 0.75}  # written before n was stored
    est = Estimate.from_dict(old)
    assert est == Estimate(0.5, 0.25, 0.75) and est.n is None and est.to_dict() == old
    assert Estimate.from_dict(Estimate(0.5, 0.25, 0.75, 12).to_dict()).n == 12
    assert est.format() == "0.500 [0.250, 0.750]" and est.format(1) == "0.5 [0.2, 0.8]"
    diff = Estimate(0.1, 0.02, 0.3)
    assert diff.excludes_zero and not Estimate(0.1, -0.02, 0.3).excludes_zero
    assert diff.format(2, signed=True, bold=True) == "**+0.10** [+0.02, +0.30]"
    assert est.format(mark="†") == "0.500† [0.250, 0.750]"
    with pytest.raises(UserError, match="value, low, high"):
        Estimate.from_dict({"value": 0.5})


def test_markdown_and_comparison_tables():
    assert (
        markdown_table(["a", "b"], [["1", "2"], ["3", "4"]]) == "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |"
    )
    cmp = Comparison(
        "base",
        10,
        {"base": {"R@1": Estimate(0.2, 0.1, 0.3)}, "tuned": {"R@1": Estimate(0.5, 0.4, 0.6)}},
        {"tuned": {"R@1": Estimate(0.3, 0.2, 0.4)}},
    )
    assert comparison_table(cmp, digits=1).splitlines() == [
        "| system | R@1 |",
        "|---|---|",
        "| base | 0.2 [0.1, 0.3] |",
        "| tuned | 0.5 [0.4, 0.6] |",
        "| tuned − base | 0.3 [0.2, 0.4] |",
    ]


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_classification_columns_agree_with_sklearn():
    rng = np.random.default_rng(6)
    labels = rng.integers(0, 4, size=150)
    labels[labels == 3] = 2  # class 3 absent: no recall column for it
    scores = rng.normal(size=(150, 6)) + 1.5 * np.eye(6)[labels]
    names = [f"class {i}" for i in range(6)]
    cols = classification_columns(true_class_ranks(scores, labels), labels, names, ks=(1, 5))
    pred = scores.argmax(axis=1)
    assert cols["top1"].mean() == pytest.approx(np.mean(pred == labels))
    assert cols["top5"].mean() == pytest.approx(top_k_accuracy_score(labels, scores, k=5, labels=range(6)))
    assert cols["balanced_accuracy"].mean() == pytest.approx(balanced_accuracy_score(labels, pred))
    recalls = recall_score(labels, pred, labels=[0, 1, 2], average=None)
    assert [cols[f"recall/class {c}"].mean() for c in range(3)] == pytest.approx(recalls.tolist())
    assert "recall/class 3" not in cols
    cm = confusion_matrix(labels, pred, 6)
    assert cm.shape == (6, 6) and cm.sum() == 150 and np.trace(cm) == np.sum(pred == labels)
