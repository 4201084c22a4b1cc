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


def paper_metric_key(records: list[dict]) -> str | None:
    """The logged name of the paper's training metric (``val_pair_t2i_top{k}``), if any record has it."""
    keys = sorted({k for r in records for k in r if k.startswith("val_pair_t2i_top")})
    return keys[0] if keys else None


def draw_paper(records: list[dict], out_stem: str | Path) -> list[Path]:
    """PAPERCLIP's training plot: validation loss and the text→image top-k of the own image inside
    fixed validation batches (top-10 of 100 with the paper's recipe), over steps, with its chance level."""
    key = paper_metric_key(records)
    if key is None:
        raise UserError(
            "metrics.jsonl has no val_pair_t2i_top* records: validation batches were never full "
            "(eval.batch_size larger than the validation split)"
        )
    val = [r for r in records if key in r]
    k, batch = key[len("val_pair_t2i_top") :], val[0].get("val_pair_batch_size")
    setup()
    fig, ax_loss = plt.subplots(figsize=(5.5, 3.6))
    steps = [r["step"] for r in val]
    ax_loss.plot(
        steps, [r["val_loss"] for r in val], color=FALLBACK[0], marker="o", ms=3, label="validation loss"
    )
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("validation loss")
    ax_acc = ax_loss.twinx()
    ax_acc.plot(
        steps, [r[key] for r in val], color=FALLBACK[2], marker="s", ms=3, label=f"text→image top-{k}"
    )
    if "val_pair_chance" in val[0]:
        ax_acc.axhline(val[0]["val_pair_chance"], color=FALLBACK[2], ls=":", lw=1, label="chance")
    ax_acc.set_ylabel(f"top-{k} of {batch} (own image)")
    ax_acc.set_ylim(0, 1.02)
    lines = ax_loss.get_legend_handles_labels()
    more = ax_acc.get_legend_handles_labels()
    ax_loss.legend(lines[0] + more[0], lines[1] + more[1], loc="center right", fontsize=8)
    ax_loss.grid(alpha=0.3)
    ax_loss.set_title(f"validation in batches of {batch}")
    return save(fig, out_stem)
