import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_models import BUILDERS

from hubbleclip.models import ClipModel, embed_images, embed_texts, load_model

DATA = Path(__file__).parent / "data"
IMAGES = sorted((DATA / "stellarium/nebulae/default").glob("*.png"))
TEXTS = ["spiral galaxy in Andromeda", "planetary nebula; stellar evolution", "globular cluster of old stars"]


@pytest.fixture(scope="module")
def images():
    return [Image.open(p) for p in IMAGES[:4]]


@pytest.mark.parametrize("spec", sorted(BUILDERS))
def test_tiny_models_embed_and_round_trip(spec, images, tmp_path):
    model = BUILDERS[spec]().eval()
    assert isinstance(model, ClipModel) and model.spec == spec
    img, txt = embed_images(model, images, batch_size=3), embed_texts(model, TEXTS, batch_size=2)
    assert img.shape == (len(images), model.embed_dim) and txt.shape == (len(TEXTS), model.embed_dim)
    assert img.dtype == txt.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(img, axis=1), 1, atol=1e-5)
    assert not np.allclose(img[0], img[1])  # different images, different vectors
    # the tiny builders are seeded: a second build is the same model
    np.testing.assert_allclose(embed_texts(BUILDERS[spec]().eval(), TEXTS), txt, atol=1e-6)
    with torch.no_grad():
        model.logit_bias.fill_(-3.5)
    model.save(tmp_path / "export")
    again = load_model(tmp_path / "export")
    assert (
        type(again) is type(model)
        and again.spec == spec
        and not again.training
        and again.logit_bias.item() == -3.5
    )
    np.testing.assert_allclose(embed_images(again, images), img, atol=1e-5)
    np.testing.assert_allclose(embed_texts(again, TEXTS), txt, atol=1e-5)
    assert embed_images(model, []).shape == (0, model.embed_dim)


def test_similarity_encoders_embed_through_the_same_path(tiny, images):
    """A CLIP model as a similarity encoder gives ``embed_images``' vectors, and every encoder
    answers no images with a (0, dim) float32 array."""
    from hubbleclip.similarity.encoders import load_image_encoder

    model = load_model(tiny["tiny-lit"])
    encoder = load_image_encoder(str(tiny["tiny-lit"]))
    np.testing.assert_allclose(encoder.embed(images, batch_size=3), embed_images(model, images), atol=1e-5)
    empty = encoder.embed([])
    assert empty.shape == (0, model.embed_dim) and empty.dtype == np.float32
    width = load_image_encoder(f"features:{tiny['tiny-lit']}").embed(images[:1]).shape[1]
    empty = load_image_encoder(f"features:{tiny['tiny-lit']}").embed([])  # a fresh one: width unknown
    assert empty.shape == (0, width) and empty.dtype == np.float32


def test_open_clip_export_loads_in_open_clip(tiny, images, tmp_path):
    import open_clip

    model = load_model(tiny["tiny-open_clip"])
    model.save(tmp_path / "export")
    net, _, _preprocess = open_clip.create_model_and_transforms(f"local-dir:{tmp_path / 'export'}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{tmp_path / 'export'}")
    with torch.no_grad():
        ours = model.encode_text(model.tokenize(TEXTS))
        theirs = net.eval().encode_text(tokenizer(TEXTS))
    torch.testing.assert_close(theirs, ours)


def test_hf_export_loads_in_transformers(tiny, tmp_path):
    from transformers import CLIPModel, CLIPProcessor

    model = load_model(tiny["tiny-hf"])
    model.save(tmp_path / "export")
    net = CLIPModel.from_pretrained(tmp_path / "export").eval()
    enc = CLIPProcessor.from_pretrained(tmp_path / "export")(text=TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        theirs = net.get_text_features(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
        ours = model.encode_text(model.tokenize(TEXTS))
    torch.testing.assert_close(getattr(theirs, "pooler_output", theirs), ours)


def test_hf_tokenizer_matches_open_clip_bpe(tiny):
    import open_clip

    model = load_model(tiny["tiny-hf"])
    ids = model.tokenize(["The Whirlpool Galaxy, M51!"])["input_ids"][0]
    ref = open_clip.get_tokenizer("ViT-B-32")(["The Whirlpool Galaxy, M51!"])[0]
    assert ids.tolist() == ref[: len(ids)].tolist()


def test_efficientnet_lite0_weights_classify_a_real_cat():
    import skimage.data

    from hubbleclip.models.lit import IMAGENET_MEAN, IMAGENET_STD, efficientnet_lite0_imagenet
    from hubbleclip.transforms import AugmentConfig, build_transform

    net = efficientnet_lite0_imagenet(num_classes=1000).eval()
    x = build_transform(AugmentConfig(pad_to_square=False), 224, IMAGENET_MEAN, IMAGENET_STD, train=False)(
        Image.fromarray(skimage.data.chelsea())
    )
    with torch.no_grad():
        probs = net(x[None]).softmax(-1)[0]
    assert probs.argmax().item() == 285  # ImageNet "Egyptian cat"


def test_lit_mini_text_tower_is_all_minilm(images):
    from sentence_transformers import SentenceTransformer

    from hubbleclip.models.lit import minilm_dir

    model = load_model("lit-mini")
    assert model.embed_dim == 256 and model.image_size == 224
    with torch.no_grad():
        ours = torch.nn.functional.normalize(model.text_features(model.tokenize(TEXTS)), dim=-1)
    ref = SentenceTransformer(str(minilm_dir()), device="cpu").encode(TEXTS, convert_to_tensor=True)
    torch.testing.assert_close(ours, torch.nn.functional.normalize(ref, dim=-1), atol=1e-5, rtol=1e-4)
    # the general-domain base is deterministic and cached: two builds give the same model
    other = load_model("lit-mini")
    torch.testing.assert_close(other.image_proj.weight, model.image_proj.weight, atol=0, rtol=0)
    assert embed_images(model, images[:2]).shape == (2, 256)


def test_bad_specs_fail_with_clear_messages(tmp_path):
    with pytest.raises(ValueError, match="unknown model spec"):
        load_model("resnet-please")
    with pytest.raises(FileNotFoundError, match=re.escape("hubbleclip.json")):
        load_model(tmp_path)
    with pytest.raises(ValueError, match="unknown open_clip architecture"):
        load_model("open_clip:No-Such-Arch")
    with pytest.raises(ValueError, match="neither a checkpoint file nor an open_clip tag"):
        load_model("open_clip:ViT-B-32@no-such-tag")


def test_offline_pretrained_names_say_how_to_pass_local_files():
    code = (
        "from hubbleclip.models import load_model\n"
        "for spec in ['open_clip:ViT-B-32@openai', 'hf:openai/clip-vit-base-patch32']:\n"
        "    try:\n        load_model(spec)\n    except ValueError as exc:\n        print('ERR', exc)\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    ).stdout
    errors = [line for line in out.splitlines() if line.startswith("ERR")]
    assert len(errors) == 2
    assert "open_clip:ViT-B-32@/path/to/checkpoint" in errors[0]
    assert "hf:/path/to/dir" in errors[1]
