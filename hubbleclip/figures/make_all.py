"""Draw every paper figure from a demo run directory's results files."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from hubbleclip.data.load import load_dataset_dict
from hubbleclip.figures import examples, rerank_bars, retrieval_curve, similarity, study, training_curves
from hubbleclip.runs import MetricsLog

log = logging.getLogger(__name__)


def dataset_image_loader(dataset: str, split: str | None = None):
    dd = load_dataset_dict(dataset)

    def load(item_or_row):
        if isinstance(item_or_row, dict):
            return dd[item_or_row["split"]][item_or_row["row"]]["image"]
        return dd[split][item_or_row]["image"]

    return load


def make_all(run_dir: Path, out: Path) -> dict[str, list[Path]]:
    """Figures whose inputs exist in ``run_dir``; a figure with missing inputs is skipped with a log line."""
    run_dir, out = Path(run_dir), Path(out)
    figures: dict[str, list[Path]] = {}

    def inputs(path: Path, name: str) -> bool:
        if not path.is_file():
            log.warning("figure %s skipped: %s does not exist (run its stage first)", name, path)
        return path.is_file()

    compare = run_dir / "compare" / "results.json"
    if inputs(compare, "retrieval_curve"):
        results = json.loads(compare.read_text())
        subsets = next(iter(results["retrieval"]["models"].values()))["image_to_text"]
        for subset in subsets:
            name = "retrieval_curve" if subset == "all" else f"retrieval_curve_{subset}"
            figures[name] = retrieval_curve.draw(results, out / name, subset=subset)
    study_results = run_dir / "study" / "eval" / "results.json"
    if inputs(study_results, "study"):
        figures["study"] = study.draw(study_results, out / "study")
    metrics = run_dir / "train" / "metrics.jsonl"
    if inputs(metrics, "training_curves"):
        figures["training_curves"] = training_curves.draw(MetricsLog(metrics).read(), out / "training_curves")
    ex_path = run_dir / "compare" / "examples.json"
    if inputs(ex_path, "image_to_text"):
        figures.update(example_figures(ex_path, out))
    rerank = run_dir / "retrieval" / "rerank" / "results.json"
    if inputs(rerank, "rerank"):
        figures["rerank"] = rerank_bars.draw(json.loads(rerank.read_text()), out / "rerank")
    sim = run_dir / "similarity" / "similar.json"
    if inputs(sim, "similarity"):
        figures.update(similarity_figures(sim, out))
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
    load = dataset_image_loader(data["dataset"])
    figures = {}
    for q in data["queries"]:
        name = f"similarity_{q['query'].replace(' ', '_')}"
        figures[name] = similarity.draw(q, load, out / name)
    return figures
