"""What trains: locked towers, unlocked last blocks, LoRA adapters (peft), temperature."""

from __future__ import annotations

import logging

from torch import nn

from hubbleclip.errors import UserError
from hubbleclip.models.base import ClipModel, tower_parameters
from hubbleclip.training.config import FreezeSection

log = logging.getLogger(__name__)
TOWERS = ("image", "text")


def _settings(freeze: FreezeSection, tower: str) -> tuple[bool, int, bool]:
    """(locked, unlocked last blocks, LoRA) of one tower."""
    lock, unlock = getattr(freeze, f"lock_{tower}"), getattr(freeze, f"unlock_{tower}_blocks")
    return lock, unlock, getattr(freeze, f"lora_{tower}")


def tower_is_static(freeze: FreezeSection, tower: str) -> bool:
    """True when nothing in the tower trains, so its features can be cached."""
    lock, unlock, lora = _settings(freeze, tower)
    return lock and unlock == 0 and not lora


def configure_trainable(model: ClipModel, freeze: FreezeSection, train_bias: bool) -> None:
    """Add LoRA adapters and set ``requires_grad`` on every parameter of ``model``."""
    from peft import LoraConfig, inject_adapter_in_model

    towers = model.towers()
    lora_patterns = [towers[t].lora_pattern for t in TOWERS if _settings(freeze, t)[2]]
    if lora_patterns:
        config = LoraConfig(
            r=freeze.lora_r,
            lora_alpha=freeze.lora_alpha,
            lora_dropout=freeze.lora_dropout,
            target_modules="|".join(f"(?:{p})" for p in lora_patterns),
        )
        inject_adapter_in_model(config, model)
        towers = model.towers()  # module references changed where adapters went in
    model.requires_grad_(True)
    for tower in TOWERS:
        lock, unlock, lora = _settings(freeze, tower)
        if unlock and not lock:
            raise UserError(
                f"freeze.unlock_{tower}_blocks={unlock} needs freeze.lock_{tower}=true "
                "(an unlocked tower trains all its blocks anyway)"
            )
        if lock or lora:
            for p in tower_parameters(towers[tower].trunk):
                p.requires_grad_(False)
        if unlock:
            blocks = towers[tower].blocks
            if unlock > len(blocks):
                raise UserError(
                    f"freeze.unlock_{tower}_blocks={unlock}: the {tower} tower has only {len(blocks)} blocks"
                )
            for p in tower_parameters(blocks[-unlock:] + towers[tower].final_layers):
                p.requires_grad_(True)
    for name, p in model.named_parameters():
        if "lora_" in name:
            p.requires_grad_(True)
    model.logit_scale.requires_grad_(freeze.train_logit_scale)
    model.logit_bias.requires_grad_(train_bias)


def set_train_modes(model: ClipModel, freeze: FreezeSection) -> None:
    """``model.train()``, but frozen tower parts in eval mode: no dropout, fixed BatchNorm statistics."""
    model.train()
    towers = model.towers()
    for tower in TOWERS:
        lock, unlock, lora = _settings(freeze, tower)
        if lock or lora:
            for item in towers[tower].trunk:
                if isinstance(item, nn.Module):
                    item.eval()
            for item in (towers[tower].blocks[-unlock:] + towers[tower].final_layers) if unlock else []:
                if isinstance(item, nn.Module):
                    item.train()


def merge_lora(model: nn.Module) -> nn.Module:
    """Fold LoRA adapters into their base layers and remove them (in place).  An adapted
    nn.MultiheadAttention goes through peft's own unload, which folds in_proj and out_proj and
    registers the merged weights as parameters again (so they are in the state dict)."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    replaced: list[str] = []
    for name, module in list(model.named_modules()):
        if not isinstance(module, BaseTunerLayer) or any(name.startswith(f"{r}.") for r in replaced):
            continue  # an adapter inside one already unloaded (the attention's out_proj)
        if hasattr(module, "unload_and_optionally_merge_module"):
            base = module.unload_and_optionally_merge_module(merge=True, safe_merge=False, adapter_names=None)
        else:
            module.merge()
            base = module.get_base_layer()
        parent, _, attr = name.rpartition(".")
        setattr(model.get_submodule(parent), attr, base)
        replaced.append(name)
    return model


def parameter_counts(model: nn.Module) -> tuple[int, int]:
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)
