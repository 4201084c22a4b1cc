"""lit-mini's general-domain base: built deterministically from packaged weights, cached, and it
knows everyday photos where lit-mini@scratch does not."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from hubbleclip.evaluation.general_domain import general_domain_check
from hubbleclip.models.feature_cache import feature_cache
from hubbleclip.models.general_base import KEYS, general_projections, image_basis
from hubbleclip.models.loader import load_model


@pytest.fixture(scope="module")
def checks():
    cache = feature_cache()
    return {spec: general_domain_check(load_model(spec), cache) for spec in ("lit-mini", "lit-mini@scratch")}


def test_general_base_knows_everyday_photos(checks):
    base, scratch = checks["lit-mini"], checks["lit-mini@scratch"]
    # the stated bar: a right ImageNet class in the top 5 for at least 4 of the 5 photos that have one,
    # and at least 4 of the 6 descriptions find their photo (and the reverse)
    assert base.class_hits >= 4 and base.class_photos == 5, base.top_classes
    assert any("cat" in c or c == "tabby" for c in base.top_classes["chelsea"]), base.top_classes["chelsea"]
    assert base.text_to_photo >= 4 and base.photo_to_text >= 4
    # random projections know nothing of the kind
    assert scratch.class_hits < base.class_hits and scratch.class_hits <= 1, scratch.top_classes
    assert scratch.text_to_photo < base.text_to_photo and scratch.photo_to_text < base.photo_to_text


def test_general_projections_are_deterministic_cached_and_rebuilt(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("HUBBLECLIP_CACHE", str(tmp_path))
    model = load_model(tiny["tiny-lit"])
    classifier = torch.randn(1000, model.image_proj.in_features, generator=torch.Generator().manual_seed(1))
    cache = feature_cache(str(tmp_path / "features"))
    first = general_projections(model, classifier, cache, steps=60)
    (stored,) = (tmp_path / "models").glob("tiny-lit-general-*.safetensors")
    assert set(load_file(str(stored))) == set(KEYS)
    stored.write_bytes(b"not safetensors")  # a damaged cache entry is rebuilt, to the same weights
    again = general_projections(model, classifier, cache, steps=60)
    for key in KEYS:
        torch.testing.assert_close(again[key], first[key], atol=0, rtol=0)
    assert set(load_file(str(stored))) == set(KEYS)
    # the image side is the classifier's orthonormal top singular basis
    basis = first["image_proj.weight"]
    torch.testing.assert_close(basis @ basis.T, torch.eye(basis.shape[0]), atol=1e-4, rtol=0)
    torch.testing.assert_close(basis, image_basis(classifier, basis.shape[0]), atol=0, rtol=0)
