"""Where each demo stage writes under the run directory: the one definition the stages, the figures
and REPORT.md all read (``RUN_DIR/<stage>/...``, one folder per stage, named as the stage)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunLayout:
    run_dir: Path

    def __init__(self, run_dir: str | Path) -> None:
        object.__setattr__(self, "run_dir", Path(run_dir))

    def stage(self, name: str) -> Path:
        """The stage's own folder (the runner hands it to the stage and writes ``done.json`` there)."""
        return self.run_dir / name

    # skyset
    @property
    def skyset_done(self) -> Path:
        return self.stage("skyset") / "done.json"

    # captions
    @property
    def caption_generation(self) -> Path:
        return self.stage("captions") / "generation.json"

    @property
    def caption_quality(self) -> Path:
        return self.stage("captions") / "quality.json"

    # train
    @property
    def train(self) -> Path:
        return self.stage("train")

    @property
    def train_done(self) -> Path:
        return self.train / "done.json"

    @property
    def train_metrics(self) -> Path:
        return self.train / "metrics.jsonl"

    @property
    def train_export(self) -> Path:
        return self.train / "export"

    # compare
    @property
    def compare(self) -> Path:
        return self.stage("compare")

    @property
    def compare_results(self) -> Path:
        return self.compare / "results.json"

    @property
    def compare_table(self) -> Path:
        return self.compare / "results.md"

    @property
    def compare_examples(self) -> Path:
        return self.compare / "examples.json"

    # judge
    @property
    def judge(self) -> Path:
        return self.stage("judge")

    @property
    def judge_results(self) -> Path:
        return self.judge / "results.json"

    # study
    @property
    def study(self) -> Path:
        return self.stage("study")

    @property
    def study_json(self) -> Path:
        return self.study / "study.json"

    @property
    def study_table(self) -> Path:
        return self.study / "study.md"

    @property
    def study_results(self) -> Path:
        return self.study / "eval" / "results.json"

    @property
    def crossval(self) -> Path:
        return self.study / "crossval"

    @property
    def crossval_table(self) -> Path:
        return self.crossval / "crossval.md"

    # retrieval (the object search engine)
    @property
    def search_index(self) -> Path:
        return self.stage("retrieval") / "index"

    @property
    def rerank(self) -> Path:
        return self.stage("retrieval") / "rerank"

    @property
    def rerank_results(self) -> Path:
        return self.rerank / "results.json"

    @property
    def kinds(self) -> Path:
        return self.stage("retrieval") / "kinds"

    @property
    def kinds_results(self) -> Path:
        return self.kinds / "results.json"

    # similarity
    @property
    def similarity(self) -> Path:
        return self.stage("similarity")

    @property
    def similar_json(self) -> Path:
        return self.similarity / "similar.json"

    # figures
    @property
    def figures(self) -> Path:
        return self.stage("figures")

    @property
    def report(self) -> Path:
        return self.run_dir / "REPORT.md"
