"""The image-query relevance rule and the ranking metrics, on hand-worked examples."""

import math

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from hubbleclip.metrics.graded import average_precision_at_k, ndcg_at_k, random_baseline
from hubbleclip.search.corpus import radec_to_xyz
from hubbleclip.search.relevance import (
    grade_from_loss,
    image_query_grades,
    relevance_loss,
    separation_arcsec,
    type_onehot,
)


def test_loss_terms_by_hand():
    t = type_onehot(
        ["globular cluster", "planetary nebula", "globular cluster"], ["globular cluster", "planetary nebula"]
    )
    t_star = t[0]
    # same type, same magnitude, same place: 1 + 0 + 0
    # other type, 1.5 mag fainter, 100": 0 + 0.2*1.5 + 0.05*100 = 5.3
    # same type, 2 mag brighter, 1 degree: 1 + 0.4 + 0.05*3600 = 181.4
    loss = relevance_loss(t, t_star, [6.0, 7.5, 4.0], 6.0, [0.0, 100.0, 3600.0])
    assert loss == pytest.approx([1.0, 5.3, 181.4])


def test_one_grade_per_decade_of_loss():
    assert grade_from_loss([0.0, 1.0, 9.99, 10.0, 99.0, 100.0, 999.0, 1000.0, 9999.0, 1e4, 1e7]).tolist() == [
        5,
        5,
        5,
        4,
        4,
        3,
        3,
        2,
        2,
        1,
        1,
    ]
    assert grade_from_loss([np.nan]).tolist() == [1]  # an object without a position


def test_missing_magnitude_adds_nothing():
    t = type_onehot(["star", "star"], ["star"])
    assert relevance_loss(t, t[0], [np.nan, 5.0], 3.0, [0.0, 0.0]) == pytest.approx([1.0, 1.4])


def test_separation_matches_astropy():
    ra, dec = np.array([10.0, 10.01, 190.0, 83.8]), np.array([41.0, 41.02, -60.0, -5.4])
    ours = separation_arcsec(radec_to_xyz(ra, dec), radec_to_xyz(ra[0], dec[0]))
    ref = SkyCoord(ra * u.deg, dec * u.deg).separation(SkyCoord(ra[0] * u.deg, dec[0] * u.deg)).arcsec
    assert ours == pytest.approx(ref, rel=1e-6, abs=1e-3)


def test_image_query_grades_follow_distance():
    # M31, M32 (22' away, other type), M33 (~15 deg away), Vega (far)
    ra, dec = [10.6847, 10.6743, 23.4621, 279.2347], [41.2690, 40.8652, 30.6599, 38.7837]
    grades = image_query_grades(
        ["spiral galaxy", "elliptical galaxy", "spiral galaxy", "star"],
        np.array([3.44, 8.08, 5.72, 0.03]),
        radec_to_xyz(ra, dec),
        target=0,
    )
    # M32: 0 + 0.2*4.64 + 0.05*1463 ~ 74 -> 4; M33: 1 + 0.46 + 0.05*53,800 ~ 2,700 -> 2; Vega: > 10^4 -> 1
    assert grades.tolist() == [5, 4, 2, 1]


def test_average_precision_by_hand():
    # relevant (>= 4) at ranks 1 and 3, three relevant in all: (1/1 + 2/3) / 3
    assert average_precision_at_k([5, 2, 4, 1], n_relevant=3, k=10) == pytest.approx((1 + 2 / 3) / 3)
    assert average_precision_at_k([1, 1], n_relevant=0) == 0.0
    # the cut-off: only the first k count, the denominator is min(R, k)
    assert average_precision_at_k([1, 5], n_relevant=5, k=1) == 0.0


def test_ndcg_by_hand():
    ranked, all_grades = [3, 5], [5, 3, 1]
    dcg = (2**2 - 1) / math.log2(2) + (2**4 - 1) / math.log2(3)
    ideal = (2**4 - 1) / math.log2(2) + (2**2 - 1) / math.log2(3)
    assert ndcg_at_k(ranked, all_grades) == pytest.approx(dcg / ideal)
    assert ndcg_at_k([5, 3], all_grades) == pytest.approx(1.0)


def test_random_baseline_sits_between_worst_and_best():
    cand = np.array([5, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    rand = random_baseline(cand, cand, k=10, shuffles=50, seed=0)
    best = ndcg_at_k(np.sort(cand)[::-1], cand)
    worst = ndcg_at_k(np.sort(cand), cand)
    assert worst < rand["ndcg@10"] < best
    assert 0.0 < rand["map@10"] < 1.0
