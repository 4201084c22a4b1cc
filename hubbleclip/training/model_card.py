"""The model card (``export/README.md``) of a training run, generated from the run's own files, never
typed: the resolved config, ``metrics.jsonl``, the dataset's credits and caption report, the saved
model's ``hubbleclip.json``, and optionally an evaluation's ``results.json``.

The front matter is the Hugging Face Hub's (``library_name``, ``license``, ``tags``, ``base_model``),
so an export pushed with :mod:`hubbleclip.training.hub` is a Hub model page as it stands.  The
evaluation arrives as a :class:`CardEvaluation`, which the caller fills from
``hubbleclip.evaluation.results.EvalResults`` (training does not import evaluation: they are
siblings).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hubbleclip.config import to_dict
from hubbleclip.data.load import caption_column
from hubbleclip.io import atomic_write_text
from hubbleclip.metrics import Estimate
from hubbleclip.metrics.render import markdown_table
from hubbleclip.models.base import META_FILE
from hubbleclip.models.loader import EXPORT_DIR
from hubbleclip.runs import MetricsLog
from hubbleclip.training.config import TrainConfig
from hubbleclip.training.data import imaged_split

CARD_FILE = "README.md"
LIBRARIES = {"open_clip": "open_clip", "hf": "transformers"}
CAPTION_REPORT = "captions_report.json"
CREDITS_PER_SOURCE = 5  # distinct credit lines listed per source; the rest are counted


@dataclass(frozen=True)
class CardBlock:
    """One direction and subset of an evaluation: its sizes, metrics and chance levels."""

    n_queries: int
    n_candidates: int
    metrics: dict[str, Estimate]
    chance: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class CardEvaluation:
    """What the card shows of one model in a ``results.json``."""

    results: str  # the file's path
    model: str  # the model's name in it
    dataset: str
    split: str
    text_column: str
    bootstrap: str  # e.g. "1000 bootstrap resamples, 95% percentile intervals"
    retrieval: dict[str, dict[str, CardBlock]]  # direction -> subset -> block
    zero_shot: dict[str, CardBlock] = field(default_factory=dict)  # class set -> block (n = images)


@dataclass(frozen=True)
class DataFacts:
    """Where the training pairs came from: counts and credit lines per source, the caption model."""

    description: str
    pairs_per_source: dict[str, int]
    credits: dict[str, dict[str, int]]  # source -> credit line -> rows
    caption_column: str
    caption_model: str | None


def data_facts(cfg: TrainConfig) -> DataFacts:
    """The training split's sources and credits (or, for WebDataset shards, what the config says)."""
    if cfg.data.webdataset:
        return DataFacts(f"WebDataset shards `{cfg.data.webdataset}`", {}, {}, cfg.data.captions, None)
    ds = imaged_split(cfg.data.path, cfg.data.train_split, cfg.data.max_train_rows)
    column = caption_column(ds.column_names, cfg.data.captions) or "text (sentence chunks)"
    cols = ds.select_columns(["source", "credit"]).to_dict()
    credits: dict[str, Counter] = defaultdict(Counter)
    for source, credit in zip(cols["source"], cols["credit"]):
        credits[source][credit or "(no credit line)"] += 1
    report = Path(cfg.data.path) / CAPTION_REPORT
    model = json.loads(report.read_text()).get("model") if report.is_file() else None
    return DataFacts(
        f"`{cfg.data.path}`, split `{cfg.data.train_split}`",
        dict(Counter(cols["source"]).most_common()),
        {s: dict(c.most_common()) for s, c in credits.items()},
        column,
        model if column == "caption_llm" else None,
    )


def base_model_id(spec: str) -> str | None:
    """The Hub repository of the base weights, where there is one (front matter ``base_model``)."""
    if spec.startswith("hf:") and not Path(spec[3:]).exists():
        return spec[3:]
    if spec.startswith("open_clip:") and "@" in spec:
        import open_clip

        arch, _, tag = spec[len("open_clip:") :].partition("@")
        repo = (open_clip.get_pretrained_cfg(arch, tag) or {}).get("hf_hub", "")
        return repo.rstrip("/") or None
    return None


def _front_matter(meta: dict, license_id: str) -> str:
    library = LIBRARIES.get(meta["family"])
    matter: dict = {"license": license_id}
    if license_id == "other":
        matter["license_name"] = "see-data-licences"
    if library:
        matter["library_name"] = library
    matter["tags"] = ["clip", "astronomy", "hubbleclip", *([library] if library else [])]
    matter["pipeline_tag"] = "zero-shot-image-classification"
    base = base_model_id(meta["spec"])
    if base:
        matter["base_model"] = base
    return "---\n" + yaml.safe_dump(matter, sort_keys=False) + "---\n"


def _how_to_load(family: str, repo: str | None) -> str:
    """Loading code with the family's own library: from the Hub repository, or from this directory."""
    if family == "open_clip":
        name = f"hf-hub:{repo}" if repo else "local-dir:PATH/TO/export"
        return (
            "```python\nimport open_clip\n\n"
            f'model, preprocess = open_clip.create_model_from_pretrained("{name}")\n'
            f'tokenizer = open_clip.get_tokenizer("{name}")\n```'
        )
    where = repo or "PATH/TO/export"
    if family == "hf":
        return (
            "```python\nfrom transformers import CLIPModel, CLIPProcessor\n\n"
            f'model = CLIPModel.from_pretrained("{where}")\n'
            f'processor = CLIPProcessor.from_pretrained("{where}")\n```'
        )
    return f'```python\nfrom hubbleclip.models import load_model\n\nmodel = load_model("{where}")\n```'


def _recipe(cfg: TrainConfig) -> str:
    body = yaml.safe_dump(
        {k: v for k, v in to_dict(cfg).items() if k not in ("out", "resume", "overwrite", "threads")},
        sort_keys=False,
    )
    return f"The resolved training config (`config.yaml` of the run):\n\n```yaml\n{body}```"


def _training_curve(records: list[dict]) -> str:
    vals = [r for r in records if "val_loss" in r]
    if not vals:
        return "No validation ran during training."
    best = min(vals, key=lambda r: r["val_loss"])
    keys = [k for k in vals[-1] if k.startswith("val_") and isinstance(vals[-1][k], float)]
    rows = [
        [name, str(r["step"]), *(f"{r[k]:.4f}" if k in r else "" for k in keys)]
        for name, r in (("start", vals[0]), ("lowest validation loss", best), ("last", vals[-1]))
    ]
    return (
        f"{len(vals)} validations logged in `metrics.jsonl`; `val_pair_t2i_top*` is PAPERCLIP's "
        "training metric (text→image, the own image within the top k of fixed batches).\n\n"
        + markdown_table(["validation", "step", *keys], rows)
    )


def _evaluation(ev: CardEvaluation | None) -> str:
    if ev is None:
        return (
            "No evaluation is attached yet: run `hubbleclip compare`, then `hubbleclip publish RUN "
            "--results RESULTS` to put its numbers here."
        )
    parts = [
        f"From `{ev.results}` (model `{ev.model}`): dataset `{ev.dataset}`, split `{ev.split}`, texts from "
        f"`{ev.text_column}`; each value is `value [low, high]` with {ev.bootstrap}."
    ]
    for direction, subsets in ev.retrieval.items():
        names = list(subsets)
        metrics = list(dict.fromkeys(m for b in subsets.values() for m in b.metrics))
        header = ["metric", *(f"{s} (n={subsets[s].n_queries})" for s in names)]
        rows = [
            [m, *(subsets[s].metrics[m].format(3) if m in subsets[s].metrics else "" for s in names)]
            for m in metrics
        ]
        parts.append(f"### Retrieval, {direction.replace('_', ' ')}\n\n" + markdown_table(header, rows))
    if ev.zero_shot:
        names = list(ev.zero_shot)
        metrics = list(dict.fromkeys(m for b in ev.zero_shot.values() for m in b.metrics if "/" not in m))
        header = ["metric", *(f"{s} (n={ev.zero_shot[s].n_queries})" for s in names)]
        rows = [
            [
                m,
                *(
                    ev.zero_shot[s].metrics[m].format(3) if m in ev.zero_shot[s].metrics else ""
                    for s in names
                ),
            ]
            for m in metrics
        ]
        parts.append("### Zero-shot classification\n\n" + markdown_table(header, rows))
    return "\n\n".join(parts)


def _limits(data: DataFacts, ev: CardEvaluation | None) -> str:
    sources = ", ".join(data.pairs_per_source) or "the shards' sources"
    lines = [
        f"- It saw only images from {sources}; other telescopes, wavelengths and image styles are "
        "outside what it was trained on.",
        "- Retrieval scores say whether the paired text ranks high, not whether a text is scientifically "
        "right.",
    ]
    if data.caption_model:
        lines.append(
            f"- The training texts are LLM summaries written by `{data.caption_model}`; their "
            "errors are learned too."
        )
    if ev is not None:
        lines.append(
            f"- The evaluation split `{ev.split}` comes from the same dataset as the training "
            "data, so the numbers do not measure other archives."
        )
    return "\n".join(lines)


def _licences(data: DataFacts) -> str:
    if not data.credits:
        return f"The training data is {data.description}; see the shards' own credit lines."
    lines = ["Credit lines of the training images (rows per line), as the dataset records them:"]
    for source, per in data.credits.items():
        shown = list(per.items())[:CREDITS_PER_SOURCE]
        lines.append(f"- **{source}** ({data.pairs_per_source.get(source, 0)} images):")
        lines += [f"  - {credit} ({n})" for credit, n in shown]
        if len(per) > len(shown):
            lines.append(f"  - and {len(per) - len(shown)} more credit lines")
    lines.append(
        "\nThe weights inherit the base model's licence and these data terms; check them before reuse."
    )
    return "\n".join(lines)


def render_card(
    cfg: TrainConfig,
    export: Path,
    records: list[dict],
    data: DataFacts,
    evaluation: CardEvaluation | None = None,
    repo: str | None = None,
    license_id: str = "other",
) -> str:
    """The card's markdown; ``repo`` is the Hub repository the loading example names."""
    meta = json.loads((Path(export) / META_FILE).read_text())
    exported = next((r["exported_checkpoint"] for r in reversed(records) if "exported_checkpoint" in r), None)
    steps = max((r["step"] for r in records if "step" in r), default=0)
    caption = f"`{data.caption_column}`" + (
        f", written by `{data.caption_model}`" if data.caption_model else ""
    )
    sections = [
        _front_matter(meta, license_id),
        f"# {repo.rsplit('/', 1)[-1] if repo else Path(cfg.out).name}\n\nA CLIP model ({meta['family']}) "
        "fine-tuned with hubbleclip: base "
        f"`{cfg.model.spec}`, {steps} steps, exported from "
        f"{f'checkpoint `{exported}`' if exported else 'the last step'}.",
        "## Use\n\n" + _how_to_load(meta["family"], repo),
        "## Data\n\n"
        f"- Training pairs: {data.description}, "
        + (", ".join(f"{s} {n}" for s, n in data.pairs_per_source.items()) or "counts not read")
        + f".\n- Captions: {caption}.",
        "## Recipe\n\n" + _recipe(cfg),
        "## Validation during training\n\n" + _training_curve(records),
        "## Evaluation\n\n" + _evaluation(evaluation),
        "## Limits\n\n" + _limits(data, evaluation),
        "## Data licences\n\n" + _licences(data),
    ]
    return "\n\n".join(sections).replace("---\n\n\n#", "---\n\n#") + "\n"


def write_card(
    cfg: TrainConfig,
    run_dir: str | Path,
    evaluation: CardEvaluation | None = None,
    repo: str | None = None,
    license_id: str = "other",
    export: Path | None = None,
    exported_checkpoint: str | None = None,
) -> Path:
    """Write ``RUN/export/README.md`` from the run's files (atomically); returns its path.
    ``export``: the export being written (its temporary folder), with ``exported_checkpoint`` the
    checkpoint it comes from, which the run's log records only once the export exists."""
    export = Path(export) if export is not None else Path(run_dir) / EXPORT_DIR
    records = MetricsLog(Path(run_dir) / "metrics.jsonl").read()
    if exported_checkpoint is not None:
        records.append({"exported_checkpoint": exported_checkpoint})
    text = render_card(cfg, export, records, data_facts(cfg), evaluation, repo, license_id)
    return atomic_write_text(export / CARD_FILE, text)
