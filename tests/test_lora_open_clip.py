import re

import torch
from safetensors.torch import load_file

from hubbleclip.config import load_config
from hubbleclip.models import load_model
from hubbleclip.training import TrainConfig, train
from hubbleclip.training.checkpoint import list_checkpoints
from hubbleclip.training.lora_export import plain_open_clip_gap


def test_lora_on_open_clip_attention_and_mlp_merges_into_a_plain_open_clip_export(
    tiny, tiny_skyset, tmp_path
):
    run = tmp_path / "run"
    cfg = load_config(
        TrainConfig,
        None,
        {
            "out": str(run),
            "model.spec": tiny["tiny-open_clip"],
            "data.path": tiny_skyset,
            "data.val_split": "",
            "freeze.lora_image": True,
            "freeze.lora_text": True,
            "freeze.lora_r": 4,
            "optim.batch_size": 8,
            "optim.max_steps": 3,
            "optim.lr": 1e-2,
            "checkpoint.every_steps": 3,
            "freeze.cache_dir": str(tmp_path / "cache"),
            "threads": 2,
        },
    )
    train(cfg)
    ckpt = list_checkpoints(run)[-1]
    trained = load_file(str(ckpt / "trainable.safetensors"))
    # adapters on every block's nn.MultiheadAttention (in_proj and out_proj) and both MLP layers
    adapted = {re.sub(r"\.lora_[AB]\..*", "", k.replace(".base_layer", "")) for k in trained if "lora_" in k}
    for tower in ("net.visual.transformer", "net.transformer"):
        for block in (0, 1):
            for layer in ("attn", "attn.out_proj", "mlp.c_fc", "mlp.c_proj"):
                assert f"{tower}.resblocks.{block}.{layer}" in adapted, sorted(adapted)

    before = load_model(tiny["tiny-open_clip"]).net.state_dict()
    after = load_file(str(run / "export" / "open_clip_model.safetensors"))
    assert set(after) == set(before)  # merged: open_clip's own keys, no adapter left
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    assert any(k.endswith("attn.in_proj_weight") for k in changed) and any(
        k.endswith("attn.out_proj.weight") for k in changed
    )
    frozen = ("positional_embedding", "token_embedding.weight", "conv1.weight", "ln_1.weight")
    assert not any(k.endswith(frozen) for k in changed), sorted(changed)

    pixels = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    gap = plain_open_clip_gap(cfg, ckpt, run / "export", pixels, ["a spiral galaxy", "a nebula", "a star"])
    assert gap["lora_modules"] == 2 * 2 * 4
    assert gap["image_max_abs_diff"] < 1e-5 and gap["text_max_abs_diff"] < 1e-5, gap
