"""Training and validation loss, and the in-batch top-k retrieval accuracy, over training steps."""

from __future__ import annotations

from pathlib import Path

from hubbleclip.errors import UserError

# not the base/tuned colours: these lines are one model over time
from hubbleclip.figures.style import FALLBACK, plt, save, setup


def draw(records: list[dict], out_stem: str | Path) -> list[Path]:
    setup()
    train = [r for r in records if "loss" in r]
    val = [r for r in records if "val_loss" in r]
    if not train and not val:
        raise UserError("metrics.jsonl has no loss records")
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    if train:
        ax_loss.plot([r["step"] for r in train], [r["loss"] for r in train], color=FALLBACK[2], label="train")
    if val:
        ax_loss.plot(
            [r["step"] for r in val],
            [r["val_loss"] for r in val],
            color=FALLBACK[0],
            marker="o",
            ms=3,
            label="validation",
        )
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("contrastive loss")
    ax_loss.legend()
    ax_loss.grid(alpha=0.3)
    keys = sorted({k for r in val for k in r if k.startswith("val_") and "top" in k})
    for i, key in enumerate(keys):
        label = key[len("val_") :].replace("i2t", "image→text").replace("t2i", "text→image").replace("_", " ")
        ax_acc.plot(
            [r["step"] for r in val],
            [r[key] for r in val],
            marker="o",
            ms=3,
            label=label,
            color=FALLBACK[i % len(FALLBACK)],
        )
    batch = val[0].get("val_pairs") if val else None
    ax_acc.set_title("in-batch retrieval" + (f" (batches of ≤{batch})" if batch else ""))
    ax_acc.set_xlabel("step")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_ylim(0, 1.02)
    ax_acc.grid(alpha=0.3)
    if keys:
        ax_acc.legend(loc="lower right")
    return save(fig, out_stem)
