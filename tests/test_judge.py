"""``hubbleclip judge`` with a rule-following stand-in LLM: top-k per model, shared pairs judged
once, bootstrap intervals, agreement with the catalog, cache and resume."""

from __future__ import annotations

import json

import datasets
import numpy as np

from hubbleclip.data.load import load_split
from hubbleclip.evaluation.evalset import build_eval_set
from hubbleclip.judge.config import JudgeConfig
from hubbleclip.judge.job import load_judge_queries, run_judge
from hubbleclip.judge.prompt import judge_messages, judge_text
from hubbleclip.metrics import RELEVANT_GRADE
from hubbleclip.metrics.config import BootstrapConfig
from hubbleclip.search.queries import load_queries

WORDS = ("cluster", "galax", "nebula", "radio")


def rule(query: str, text: str) -> bool:
    return any(w in query.lower() and w in text.lower() for w in WORDS)


class FakeJudge:
    """Says yes when query and text share a kind word; the first answer it gives is malformed."""

    name = "fake-judge"
    max_batch = 64

    def __init__(self):
        self.seen: list[str] = []

    def generate(self, conversations, attempt):
        out = []
        for messages in conversations:
            query, text = messages[-1]["content"].removeprefix("Query: ").split("\nResult: ")
            self.seen.append(messages[-1]["content"])
            if len(self.seen) == 1 and attempt == 0:
                out.append('{"relevant": "mayb')
                continue
            out.append(json.dumps({"relevant": "yes" if rule(query, text) else "no"}))
        return out


def test_judge_reports_fractions_agreement_and_resumes(tiny_skyset, tiny, tmp_path):
    cfg = JudgeConfig(
        dataset=tiny_skyset,
        split="train",
        models=[f"base={tiny['tiny-lit']}", f"tuned={tiny['tiny-open_clip']}"],
        k=3,
        cache=str(tmp_path / "judge.jsonl"),
        out=str(tmp_path / "judge"),
        bootstrap=BootstrapConfig(samples=200),
        max_queries=10,
    )
    imaged = {str(o) for o in build_eval_set(load_split(tiny_skyset, "train"), "train").object_ids}
    queries = load_judge_queries(cfg, imaged)
    # held-out descriptive queries, each with a catalog-relevant image among those searched
    assert 3 <= len(queries) <= 10 and all(j is not None for _, j in queries)
    assert all(any(g >= RELEVANT_GRADE and o in imaged for o, g in j.items()) for _, j in queries)
    assert len(load_judge_queries(cfg)) == 10  # without the searched objects: no relevance filter
    kind_of = {q.text: q.kind for q in load_queries(None)}
    first = [kind_of[q] for q, _ in queries[:3]]
    assert len(set(first)) == 3  # kinds taken in turn
    fake = FakeJudge()
    results = run_judge(cfg, backend=fake)

    rows = datasets.load_from_disk(tiny_skyset)["train"].select_columns(["id", "text", "object_id"]).to_dict()
    text_of = {i: judge_text(t, cfg.text_chars, cfg.keep_numbers) for i, t in zip(rows["id"], rows["text"])}
    object_of = dict(zip(rows["id"], rows["object_id"]))
    pairs, agree = set(), []
    for model in results["models"].values():
        assert [len(t) for t in model["top_images"]] == [3] * len(queries)
        fractions = []
        for (query, judgments), ids in zip(queries, model["top_images"]):
            verdicts = [rule(query, text_of[i]) for i in ids]
            fractions.append(np.mean(verdicts))
            for i, v in zip(ids, verdicts):
                if (query, text_of[i]) not in pairs:
                    pairs.add((query, text_of[i]))
                    agree.append(v == (judgments.get(object_of[i], 1) >= RELEVANT_GRADE))
        est = model["judged_relevant"]
        assert np.isclose(est["value"], np.mean(fractions)) and est["low"] <= est["value"] <= est["high"]
        assert model["per_query_judged"] == [round(f, 3) for f in fractions]
        assert "catalog_relevant" in model
    assert len(fake.seen) == len(pairs) + 1  # shared pairs judged once; the malformed answer retried
    agreement = results["agreement_with_catalog"]
    assert agreement["pairs"] == len(pairs) and np.isclose(agreement["agreement"], np.mean(agree), atol=1e-4)
    assert set(results["differences"]) == {"tuned-base/judged", "tuned-base/catalog"}
    assert results["judgements"]["failed"] == 0 and results["judgements"]["valid_first_try_rate"] < 1
    md = (tmp_path / "judge" / "results.md").read_text()
    assert f"{results['models']['tuned']['judged_relevant']['value']:.3f}" in md
    assert (tmp_path / "judge" / "config.yaml").is_file()

    again = FakeJudge()
    assert run_judge(cfg, backend=again)["models"] == results["models"] and again.seen == []


def test_judge_prompt_shows_query_and_text_and_the_text_file_has_no_catalog(tmp_path):
    from hubbleclip.judge.prompt import judge_item, parse_judgement

    messages = judge_messages(judge_item("bright globular clusters", "NGC 104 is a  globular cluster.", 20))
    assert messages[0]["role"] == "system" and messages[-1]["content"] == (
        "Query: bright globular clusters\nResult: NGC 104 is a globula"
    )
    assert [m["content"] for m in messages if m["role"] == "assistant"].count('{"relevant": "yes"}') == 2
    assert parse_judgement('{"relevant": "no"}') == {"relevant": False}
    text = "NGC 7089 is a globular cluster in Aquarius. Position: RA 21:33:27.0, Dec -00:49:24 (J2000)."
    assert (
        judge_text(text, keep_numbers=False) == "NGC 7089 is a globular cluster in Aquarius."
    )  # the numeric sentence is dropped
    assert judge_text(text) == text
    path = tmp_path / "q.txt"
    path.write_text("spiral galaxies\n\nplanetary nebulae\n")
    assert load_judge_queries(JudgeConfig(queries=str(path))) == [
        ("spiral galaxies", None),
        ("planetary nebulae", None),
    ]


def test_default_cache_lives_under_the_cache_root_one_file_per_dataset(tmp_path, monkeypatch):
    from hubbleclip.judge.job import default_judge_cache

    monkeypatch.setenv("HUBBLECLIP_CACHE", str(tmp_path / "cache"))
    a, b = tmp_path / "one" / "skyset", tmp_path / "two" / "skyset"
    assert default_judge_cache(a).parent == tmp_path / "cache" / "judge"
    assert default_judge_cache(a).name.startswith("skyset-") and default_judge_cache(a).suffix == ".jsonl"
    assert default_judge_cache(a) != default_judge_cache(b)  # same name, other dataset
    a.parent.mkdir()
    monkeypatch.chdir(a.parent)
    assert default_judge_cache("skyset") == default_judge_cache(a)  # keyed by the resolved path
