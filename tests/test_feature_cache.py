"""The one feature cache: each image and distinct text through a tower once, shared by models whose
towers are the same, keyed by content, robust to broken files; the one cache root."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hubbleclip.data.load import encoded_images, imaged_rows, load_split
from hubbleclip.io import cache_root
from hubbleclip.models import embed_images, embed_texts, load_model
from hubbleclip.models.feature_cache import FeatureCache, feature_cache
from hubbleclip.models.lit import LitModel

TEXTS = ["spiral galaxy in Andromeda", "planetary nebula; stellar evolution", "spiral galaxy in Andromeda"]


@pytest.fixture(scope="module")
def images(tiny_skyset):
    ds = load_split(tiny_skyset, "train")
    return encoded_images(ds.select(imaged_rows(ds)[:6]))


@pytest.fixture
def tower_calls(monkeypatch):
    """How many inputs went through each tower of a lit model."""
    calls = {"image": 0, "text": 0}
    image_features, text_features = LitModel.image_features, LitModel.text_features

    def count_images(self, pixels):
        calls["image"] += len(pixels)
        return image_features(self, pixels)

    def count_texts(self, tokens):
        calls["text"] += len(tokens["input_ids"])
        return text_features(self, tokens)

    monkeypatch.setattr(LitModel, "image_features", count_images)
    monkeypatch.setattr(LitModel, "text_features", count_texts)
    return calls


def test_each_input_goes_through_a_tower_once_and_heads_apply_on_the_fly(tiny, images, tmp_path, tower_calls):
    cache = FeatureCache(tmp_path)
    base = load_model(tiny["tiny-lit"])
    uncached = embed_images(base, images), embed_texts(base, TEXTS)
    assert tower_calls == {"image": 6, "text": 3}
    first = embed_images(base, images[:4], cache=cache), embed_texts(base, TEXTS, cache=cache)
    assert tower_calls == {"image": 10, "text": 5}  # the repeated text only once
    # a model with the same towers and other heads (a head-only fine-tune) reuses every feature
    tuned = load_model(tiny["tiny-lit"])
    with torch.no_grad():
        tuned.image_proj.weight.mul_(-1)
        tuned.text_proj.bias.add_(0.5)
    again = embed_images(tuned, images, cache=cache), embed_texts(tuned, TEXTS, cache=cache)
    assert tower_calls == {"image": 12, "text": 5}  # only the two images not seen before
    np.testing.assert_allclose(first[0], uncached[0][:4], atol=1e-6)
    np.testing.assert_allclose(first[1], uncached[1], atol=1e-6)
    np.testing.assert_allclose(again[0][:4], -first[0], atol=1e-6)
    assert not np.allclose(again[1], first[1])
    # decoded images key on their pixels, not on their bytes, and are still cached
    pil = [Image.open(Path(__file__).parent / "data" / "stellarium" / "nebulae" / "default" / "m31.png")]
    embed_images(base, pil, cache=cache)
    embed_images(base, pil, cache=cache)
    assert tower_calls["image"] == 13


def test_other_tower_weights_or_transform_are_other_features(tiny, images, tmp_path, tower_calls):
    cache = FeatureCache(tmp_path)
    model = load_model(tiny["tiny-lit"])
    embed_images(model, images, cache=cache)
    with torch.no_grad():
        next(model.image_trunk.parameters()).add_(1e-3)
    embed_images(model, images, cache=cache)
    assert tower_calls["image"] == 12
    assert len(list(tmp_path.glob("image-*"))) == 2


def test_broken_shards_are_recomputed_and_the_cache_can_be_off(tiny, images, tmp_path, tower_calls):
    cache = FeatureCache(tmp_path)
    model = load_model(tiny["tiny-lit"])
    reference = embed_texts(model, TEXTS, cache=cache)
    (shard,) = tmp_path.glob("text-*/*.safetensors")
    shard.write_bytes(b"not a safetensors file")
    np.testing.assert_allclose(embed_texts(model, TEXTS, cache=cache), reference, atol=1e-6)
    assert tower_calls["text"] == 4  # recomputed once, then stored again
    off = feature_cache(str(tmp_path), enabled=False)
    embed_texts(model, TEXTS, cache=off)
    assert tower_calls["text"] == 7 and not off.enabled


def test_one_cache_root_and_an_empty_variable_is_unset(monkeypatch, tmp_path):
    monkeypatch.setenv("HUBBLECLIP_CACHE", str(tmp_path))
    assert cache_root("features") == tmp_path / "features" == feature_cache().root
    monkeypatch.setenv("HUBBLECLIP_CACHE", "")
    assert cache_root() == Path.home() / ".cache" / "hubbleclip"
    monkeypatch.delenv("HUBBLECLIP_CACHE")
    assert cache_root("archives", "simbad") == Path.home() / ".cache" / "hubbleclip" / "archives" / "simbad"
