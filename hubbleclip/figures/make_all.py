"""Draw every paper figure from a demo run's results files (where they lie: ``demo.layout.RunLayout``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Protocol

from hubbleclip.data.load import load_dataset_dict
from hubbleclip.evaluation.results import load_results
from hubbleclip.figures import (
    examples,
    rerank_bars,
    retrieval_curve,
    similarity,
    study,
    study_curves,
    training_curves,
)
from hubbleclip.runs import MetricsLog
from hubbleclip.similarity.index import load_index

log = logging.getLogger(__name__)


def dataset_image_loader(dataset: str, split: str | None = None):
    dd = load_dataset_dict(dataset)

    def load(item_or_row):
        if isinstance(item_or_row, dict):
            return dd[item_or_row["split"]][item_or_row["row"]]["image"]
        return dd[split][item_or_row]["image"]

    return load


class RunFiles(Protocol):
    """The result files the figures read; the demo's ``RunLayout`` provides them."""

    @property
    def compare_results(self) -> Path: ...
    @property
    def compare_examples(self) -> Path: ...
    @property
    def study_results(self) -> Path: ...
    @property
    def train_metrics(self) -> Path: ...
    @property
    def rerank_results(self) -> Path: ...
    @property
    def similar_json(self) -> Path: ...


def make_all(files: RunFiles, out: Path) -> dict[str, list[Path]]:
    """Figures whose inputs exist; a figure with missing inputs is skipped with a log line."""
    out = Path(out)
    figures: dict[str, list[Path]] = {}

    def inputs(path: Path, name: str) -> bool:
        if not path.is_file():
            log.warning("figure %s skipped: %s does not exist (run its stage first)", name, path)
        return path.is_file()

    if inputs(files.compare_results, "retrieval_curve"):
        results = load_results(files.compare_results)
        for subset in results.retrieval.subsets("image_to_text"):
            name = "retrieval_curve" if subset == "all" else f"retrieval_curve_{subset}"
            figures[name] = retrieval_curve.draw(results, out / name, subset=subset)
    if inputs(files.study_results, "study"):
        study_results = load_results(files.study_results)
        figures["study"] = study.draw(study_results, out / "study")
        figures["study_curves"] = study_curves.draw(study_results, out / "study_curves")
    if inputs(files.train_metrics, "training_curves"):
        records = MetricsLog(files.train_metrics).read()
        figures["training_curves"] = training_curves.draw(records, out / "training_curves")
        if training_curves.paper_metric_key(records):
            figures["training_paper_metric"] = training_curves.draw_paper(
                records, out / "training_paper_metric"
            )
    if inputs(files.compare_examples, "image_to_text"):
        figures.update(example_figures(files.compare_examples, out))
    if inputs(files.rerank_results, "rerank"):
        figures["rerank"] = rerank_bars.draw(json.loads(files.rerank_results.read_text()), out / "rerank")
    if inputs(files.similar_json, "similarity"):
        figures.update(similarity_figures(files.similar_json, out))
    return figures


def example_figures(examples_json: Path, out: Path) -> dict[str, list[Path]]:
    """Image→text and text→image example tables from the compare stage's examples.json."""
    ex = json.loads(Path(examples_json).read_text())
    load = dataset_image_loader(ex["dataset"], ex["split"])
    return {
        "image_to_text": examples.image_to_text(
            ex, [load(i["row"]) for i in ex["images"]], out / "image_to_text"
        ),
        "text_to_image": examples.text_to_image(ex, load, out / "text_to_image"),
    }


def similarity_figures(similar_json: Path, out: Path) -> dict[str, list[Path]]:
    """One figure per similarity query of the similarity stage's similar.json."""
    data = json.loads(Path(similar_json).read_text())
    index = load_index(data["index"])  # the images are named by id: the index knows where they are

    def load(image: dict):
        return index.image(index.find(image["image_id"]))

    figures = {}
    for q in data["queries"]:
        name = f"similarity_{q['query'].replace(' ', '_')}"
        figures[name] = similarity.draw(q, load, out / name)
    return figures
