"""Captions pipeline without an LLM: schema, CLIP token budget, cache/resume, retries, outputs."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import json
import re

import datasets
import pytest

from hubbleclip.captions.cache import CaptionCache, default_cache
from hubbleclip.captions.check import caption_quality
from hubbleclip.captions.config import CaptionsConfig
from hubbleclip.captions.generate import RunSettings, caption_texts
from hubbleclip.captions.pipeline import generate_captions
from hubbleclip.captions.prompt import chat_messages, clean_text
from hubbleclip.captions.schema import format_caption, parse_caption, parse_output
from hubbleclip.captions.tokens import clip_token_count, fits_clip
from hubbleclip.io import cache_root

CAPTION_RE = re.compile(r"^[a-z][a-z -]*(, [a-z][a-z -]*)*; [a-z][a-z -]*(, [a-z][a-z -]*)*$")


@pytest.fixture
def own_cache_root(tmp_path, monkeypatch):
    """Default caption caches live under the cache root: this test's own."""
    monkeypatch.setenv("HUBBLECLIP_CACHE", str(tmp_path / "cache-root"))
    return tmp_path / "cache-root"


def answer(objects, uses):
    return json.dumps({"objects_and_phenomena": objects, "science_use_cases": uses})


class FakeBackend:
    """Answers from the text: 'garbage' texts always get invalid output, 'flaky' ones only on the
    first attempt, 'explode' makes the whole call raise once; counts every prompt it sees."""

    name = "fake"
    max_batch = 64

    def __init__(self, crash_after_calls: int | None = None):
        self.seen: list[str] = []
        self.calls = 0
        self.crash_after_calls = crash_after_calls
        self.exploded = False

    def generate(self, conversations, attempt):
        if self.crash_after_calls is not None and self.calls >= self.crash_after_calls:
            raise KeyboardInterrupt  # a killed process, as far as the pipeline can tell
        self.calls += 1
        texts = [c[-1]["content"] for c in conversations]
        self.seen.extend(texts)
        if any("explode" in t for t in texts) and not self.exploded:
            self.exploded = True
            raise RuntimeError("backend fell over")
        out = []
        for t in texts:
            if "garbage" in t or ("flaky" in t and attempt == 0):
                out.append('{"objects_and_phenomena": ["x9"], "science_use_ca')
            else:
                word = t.split()[0].lower()
                out.append(answer([f"{word} nebula", "ionized gas"], ["star formation"]))
        return out


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# --- schema and token budget ---------------------------------------------------------------------


def test_schema_parses_cleans_and_round_trips():
    s = parse_output(
        answer(
            ["Spiral galaxy", "spiral galaxy", "HST image", "star-forming regions"],
            ["spiral galaxy", "galaxy evolution"],
        )
    )
    assert s.objects_and_phenomena == [
        "spiral galaxy",
        "star-forming regions",
    ]  # lowercased, deduped, no telescope
    assert s.science_use_cases == ["galaxy evolution"]  # no repeat of the first list
    caption = format_caption(s)
    assert caption == "spiral galaxy, star-forming regions; galaxy evolution"
    assert parse_caption(caption) == s and CAPTION_RE.match(caption)


@pytest.mark.parametrize(
    "raw, why",
    [
        ('{"objects_and_phenomena": ["galaxy"]', "not JSON"),
        (answer([], ["galaxy evolution"]), "objects_and_phenomena"),
        (answer(["a", "b", "c", "d", "e", "f"], ["x"]), "objects_and_phenomena"),
        (answer(["NGC 224"], ["galaxy evolution"]), "pattern"),
        (answer(["object"], ["galaxy evolution"]), "no usable item"),
        (answer(["galaxy"], ["galaxy"]), "only repeats"),
    ],
)
def test_invalid_outputs_are_rejected_with_a_reason(raw, why):
    with pytest.raises(ValueError, match=why):
        parse_output(raw)


def test_clip_token_budget_uses_the_real_open_clip_tokenizer():
    import open_clip

    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    short = "planetary nebula, ionized gas shell; late stellar evolution"
    assert clip_token_count(short) == int(
        (tokenizer([short])[0] != 0).sum()
    )  # same count open_clip feeds the encoder
    assert fits_clip(short)
    long = ", ".join(["barred spiral galaxy with dust lanes"] * 14) + "; galaxy evolution"
    assert clip_token_count(long) > 77 and not fits_clip(long)
    quality = caption_quality(
        [("A barred spiral galaxy with dust lanes.", long), ("A planetary nebula of ionized gas.", short)]
    )
    assert quality["within_clip_77_tokens"] == 0.5
    assert quality["schema_valid_rate"] == 0.5  # 15 objects break the 5-item limit


# --- generation loop -------------------------------------------------------------------------------


def test_retry_then_fallback_never_crashes(tmp_path):
    texts = ["Orion flaky text", "Crab garbage text", "Ring good text", "Ring good text", "Veil explode text"]
    cache = CaptionCache(tmp_path / "c.jsonl")
    backend = FakeBackend()
    results, stats = caption_texts(texts, cache, backend, RunSettings(batch_size=2, retries=2))
    assert stats.texts == 4 and len(results) == 4  # the duplicate text is captioned once
    assert results["Crab garbage text"]["status"] == "failed"
    assert results["Crab garbage text"]["attempts"] == 3 and len(results["Crab garbage text"]["errors"]) == 3
    assert results["Orion flaky text"]["status"] == "ok" and results["Orion flaky text"]["attempts"] == 2
    assert results["Veil explode text"]["status"] == "ok"  # the backend error was retried
    assert "backend fell over" in results["Veil explode text"]["errors"][0]
    assert results["Ring good text"]["caption"] == "ring nebula, ionized gas; star formation"
    assert stats.failed == 1 and stats.generated == 3
    assert backend.seen.count("Crab garbage text") == 3


def test_failed_rows_keep_the_template_caption_in_a_table(tmp_path, own_cache_root):
    src = write_jsonl(
        tmp_path / "abstracts.jsonl",
        [
            {"id": 1, "text": "Orion is bright."},
            {"id": 2, "text": "Crab garbage text", "caption": "supernova remnant; shocks"},
            {"id": 3, "text": "Ring text"},
        ],
    )
    report = generate_captions(CaptionsConfig(dataset=str(src), retries=1, limit=2), backend=FakeBackend())
    rows = [json.loads(line) for line in (tmp_path / "abstracts.captions.jsonl").read_text().splitlines()]
    assert [r["status"] for r in rows] == ["ok", "failed", "skipped"]
    assert rows[0]["caption_llm"] == "orion nebula, ionized gas; star formation"
    assert (
        rows[1]["caption_llm"] == "supernova remnant; shocks"
        and rows[2]["caption_llm"] == ""
        and report["failed"] == 1
        and report["llm_captions"] == 1
    )
    assert default_cache(src) == default_cache(tmp_path / "abstracts.captions.jsonl")
    assert len(CaptionCache(default_cache(src))) == 2 and not list(tmp_path.glob("*cache*.jsonl"))


def test_default_cache_is_one_file_per_dataset_under_the_cache_root(tmp_path, monkeypatch, own_cache_root):
    monkeypatch.chdir(tmp_path)
    a, b = tmp_path / "a" / "sky", tmp_path / "b" / "sky"
    assert default_cache(a).parent == cache_root("captions") == own_cache_root / "captions"
    assert default_cache(a) != default_cache(b) and default_cache("a/sky") == default_cache(a)
    assert default_cache(a).name.startswith("sky-") and default_cache("t.csv").name.startswith("t-")
    # the explicit option still wins
    src = write_jsonl(tmp_path / "t.jsonl", [{"id": 1, "text": "Orion is bright."}])
    own = tmp_path / "own.jsonl"
    generate_captions(CaptionsConfig(dataset=str(src), cache=str(own)), backend=FakeBackend())
    assert len(CaptionCache(own)) == 1 and not default_cache(src).exists()


def test_prompt_text_loses_identifiers_the_caption_may_not_contain():
    text = (
        "M 1 (NGC 1952), the Crab Nebula, is a supernova remnant in Taurus at 05h34m31.9s. "
        "NGC 1952 IC 443 M 42 HD 37022. The pulsar powers a wind nebula."
    )
    assert (
        clean_text(text)
        == "The Crab Nebula, is a supernova remnant in Taurus at. The pulsar powers a wind nebula."
    )
    assert clean_text("NGC 224 = M31.") == "NGC 224 = M31."  # nothing but identifiers: kept as it was


def test_crash_resumes_from_the_cache_without_paying_twice(tmp_path):
    texts = [f"Text number {i} about a nebula" for i in range(7)]
    cache_path = tmp_path / "cache.jsonl"
    settings = RunSettings(batch_size=2, retries=0)
    with pytest.raises(KeyboardInterrupt):
        caption_texts(texts, CaptionCache(cache_path), FakeBackend(crash_after_calls=2), settings)
    assert len(CaptionCache(cache_path)) == 4  # the two finished batches were written as they came
    with open(cache_path, "a") as fh:
        fh.write('{"key": "fake|torn')  # killed in the middle of a write
    backend = FakeBackend()
    results, stats = caption_texts(texts, CaptionCache(cache_path), backend, settings)
    assert stats.cached == 4 and stats.generated == 3
    assert sorted(backend.seen) == sorted(clean_text(t) for t in texts[4:])  # nothing paid twice
    assert all(r["status"] == "ok" for r in results.values())
    backend = FakeBackend()
    _, stats = caption_texts(texts, CaptionCache(cache_path), backend, settings)
    assert stats.cached == 7 and backend.seen == []
    # a different prompt setting is a different cache key
    _, stats = caption_texts(texts[:1], CaptionCache(cache_path), FakeBackend(), RunSettings(max_items=2))
    assert stats.cached == 0 and stats.generated == 1


def test_model_processes_each_get_a_batch_and_a_given_executor_stays_open(tmp_path):
    class Workers:
        """Stands in for two model processes (open_executor's pool): records each batch's size."""

        workers, in_flight = 2, 4

        def __init__(self):
            self.backend, self.batches, self.closed = FakeBackend(), [], False

        def submit(self, fn, conversations, attempt):
            self.batches.append(len(conversations))
            future: cf.Future = cf.Future()
            future.set_result(self.backend.generate(conversations, attempt))
            return future

        def shutdown(self, **_):
            self.closed = True

    texts = [f"Text {i} about a nebula" for i in range(5)]
    pool = Workers()
    results, stats = caption_texts(
        texts, CaptionCache(tmp_path / "c.jsonl"), FakeBackend(), RunSettings(batch_size=32), executor=pool
    )
    assert pool.batches == [3, 2]  # 5 texts, 2 workers: both busy, not one batch of 5
    assert stats.generated == 5 and all(r["status"] == "ok" for r in results.values())
    assert not pool.closed  # the caller's executor: the caller closes it

    # one long text does not share a batch with short ones: every row would be padded to it
    long_text = "Long " + "description of an emission nebula with dust lanes, " * 20
    pool = Workers()
    results, _ = caption_texts(
        [long_text, *(f"Short {i} nebula" for i in range(7))],
        CaptionCache(tmp_path / "d.jsonl"),
        FakeBackend(),
        RunSettings(batch_size=32),
        executor=pool,
    )
    assert pool.batches == [4, 3, 1] and results[long_text]["status"] == "ok"


# --- datasets and the command line -----------------------------------------------------------------


def test_dataset_gets_caption_llm_and_check_reports(tiny_skyset, tmp_path, capsys, own_cache_root):
    from hubbleclip.cli import main

    out = tmp_path / "sky"
    dd_in = datasets.load_from_disk(tiny_skyset)
    imaged = [
        t
        for t, img in zip(
            dd_in["train"]["text"], dd_in["train"].cast_column("image", datasets.Image(decode=False))["image"]
        )
        if img is not None
    ]
    report = generate_captions(
        CaptionsConfig(dataset=tiny_skyset, out=str(out), limit=5), backend=FakeBackend()
    )
    assert report["llm_captions"] == 5
    dd = datasets.load_from_disk(str(out))
    assert (out / "build_report.json").is_file() and (out / "captions_report.json").is_file()
    rows = [r for split in dd.values() for r in split.select_columns(["text", "caption", "caption_llm"])]
    llm = [r for r in rows if r["caption_llm"] != r["caption"]]
    assert len({r["text"] for r in llm}) == 5 and {r["text"] for r in llm} <= set(imaged) | {
        t for s in dd_in.values() for t in s["text"]
    }
    assert {r["text"] for r in llm} & set(imaged)  # rows with images come first
    assert all(CAPTION_RE.match(r["caption_llm"]) for r in llm)

    assert main(["captions", "check", "--dataset", str(out), "--json"]) == 0
    checked = json.loads(capsys.readouterr().out)
    assert checked["llm"]["captions"] == 5 and checked["llm"]["schema_valid_rate"] == 1.0
    assert checked["llm"]["within_clip_77_tokens"] == 1.0
    assert checked["generation"]["records"] == 5
    assert checked["template_baseline"]["captions"] == 5


def test_cli_errors_are_one_line(tmp_path, capsys, own_cache_root):
    from hubbleclip.cli import main

    assert main(["captions", "generate", "--dataset", str(tmp_path / "missing")]) == 2
    assert "dataset_dict.json" in capsys.readouterr().err
    bad = tmp_path / "t.csv"
    bad.write_text("id,abstract\n1,hello\n")
    assert main(["captions", "generate", "--dataset", str(bad)]) == 2
    assert "'text'" in capsys.readouterr().err
    assert (
        main(
            ["captions", "generate", "--dataset", str(tmp_path / "x.jsonl"), "--model", "gguf:/no/such.gguf"]
        )
        == 2
    )
    assert main(["captions", "generate", "--dataset", str(bad), "--model", "nonsense"]) == 2


def test_shipped_smollm2_through_outlines_writes_schema_captions():
    """The real default path: SmolLM2-135M GGUF via transformers, constrained by outlines; the
    shared-prefix path writes exactly what full prefill of every prompt writes."""
    from outlines.inputs import Chat

    from hubbleclip.captions.backends import load_backend
    from hubbleclip.captions.schema import generation_schema

    texts = [
        "The Ring Nebula is a planetary nebula: a shell of ionized gas ejected by a dying star, "
        "used to study the late stages of stellar evolution.",
        "A barred spiral galaxy with dust lanes and star-forming regions along its spiral arms.",
    ]
    conversations = [chat_messages(t) for t in texts]
    shared = load_backend("smollm2", schema=generation_schema(3))
    raw = shared.generate(conversations, attempt=0)
    assert len(raw) == 2
    for out in map(json.loads, raw):  # constrained by the JSON schema: always this shape
        assert set(out) == {"objects_and_phenomena", "science_use_cases"}
        assert all(1 <= len(v) <= 3 and all(isinstance(x, str) for x in v) for v in out.values())
    reference = shared._generator.batch([Chat(m) for m in conversations], max_new_tokens=96, do_sample=False)
    assert list(reference) == raw  # outlines' own batch generation, every prompt prefilled whole
    full = load_backend("smollm2", schema=generation_schema(3), prefix_cache=False)
    assert full.generate(conversations, attempt=0) == raw
    # a retry's sample is the text's own: the same alone or in a batch, with or without sharing
    sampled = shared.generate(conversations, attempt=1)
    assert shared.generate(conversations[1:], attempt=1) == sampled[1:]
    assert full.generate(conversations, attempt=1) == sampled
    assert shared.generate(conversations, attempt=2) != sampled  # another attempt, another sample
    captions = []
    for r in raw:
        with contextlib.suppress(ValueError):  # a valid shape can still break a rule (retried in a run)
            captions.append(parse_output(r).caption())
    assert captions and all(CAPTION_RE.match(c) for c in captions), captions


def test_shipped_captions_are_written_in_chunks_and_seed_a_fresh_run(tiny_skyset, tmp_path, own_cache_root):
    import shutil

    from hubbleclip.captions.inputs import imaged_texts, load_dataset_dict
    from hubbleclip.captions.shipped import generate_with_shipped, read_shipped, resource_path, ship_captions

    work = tmp_path / "ship"
    shutil.copytree(tiny_skyset, work)
    imaged = imaged_texts(load_dataset_dict(work))

    class Refuses(FakeBackend):
        def generate(self, conversations, attempt):
            return ['{"objects_and_phenomena": ["x9"]'] * len(conversations)

    cfg = CaptionsConfig(dataset=str(work))
    report = ship_captions(cfg, chunk=5, directory=tmp_path / "res", backend=Refuses())
    assert report["captioned_now"] == 5 and report["remaining"] == len(imaged) - 5
    assert report["run"]["failed"] == 5
    assert not resource_path(tmp_path / "res").exists()  # nothing half-shipped
    report = ship_captions(cfg, directory=tmp_path / "res", backend=FakeBackend())
    run = report["run"]
    assert report["remaining"] == 0 and run["generated"] + run["failed"] == run["texts"] == len(imaged) - 5
    failed = report["failed"]
    assert failed >= 5  # a failed text has a result: it is shipped as failed
    # --retry_failed: the failed texts count as not done, the others are not sent again
    report = ship_captions(
        CaptionsConfig(dataset=str(work), retry_failed=True),
        directory=tmp_path / "res",
        backend=FakeBackend(),
    )
    assert report["captioned_now"] == failed and report["failed"] == failed - 5  # the refused 5 now pass
    shipped = read_shipped(resource_path(tmp_path / "res"))
    assert len(shipped) == len(imaged) and all("raw" not in r for r in shipped)
    manifest = json.loads((tmp_path / "res" / "skyset-captions.json").read_text())
    assert manifest["model"] == "fake" and manifest["prompt_version"] == RunSettings().prompt_key()

    fresh = tmp_path / "fresh"
    shutil.copytree(tiny_skyset, fresh)  # no cache: only the shipped file and 2 live texts
    live = FakeBackend()
    report = generate_with_shipped(
        CaptionsConfig(dataset=str(fresh)), 2, resource_path(tmp_path / "res"), backend=live
    )
    assert report["shipped"]["used"] == len(imaged) and report["live_texts"] == 2
    assert report["run"]["generated"] + report["run"]["failed"] == 2
    assert live.seen and not set(live.seen) & {clean_text(t) for t in imaged}
    dd = datasets.load_from_disk(str(fresh))
    by_text = {
        r["text"]: r["caption_llm"]
        for split in dd.values()
        for r in split.select_columns(["text", "caption_llm"])
    }
    ok = {r["text_sha256"]: r["caption"] for r in shipped if r["status"] == "ok"}
    hashes = {t: hashlib.sha256(t.encode()).hexdigest() for t in imaged}
    assert ok and all(
        by_text[t] == ok[h] for t, h in hashes.items() if h in ok
    )  # failed ones keep the template
