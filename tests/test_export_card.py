"""A run's export as others use it: the family's own loader reads it offline, its model card carries
the evaluation's numbers, and ``--push_to_hub`` stops with one line when no upload can happen."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import huggingface_hub
import pytest
import torch
import yaml

from hubbleclip.cli import main
from hubbleclip.config import load_config
from hubbleclip.data.sources.hdf import CREDIT as HDF_CREDIT
from hubbleclip.evaluation.results import load_results
from hubbleclip.models import load_model
from hubbleclip.training import TrainConfig, train


def short_run(tiny, tiny_skyset, run: Path, family: str) -> Path:
    cfg = load_config(
        TrainConfig,
        None,
        {
            "out": str(run),
            "model.spec": tiny[f"tiny-{family}"],
            "data.path": tiny_skyset,
            "optim.batch_size": 8,
            "optim.max_steps": 2,
            "eval.every_steps": 2,
            "eval.batch_size": 3,
            "eval.top_k": 2,
            "checkpoint.every_steps": 2,
            "freeze.cache_dir": str(run.parent / "cache"),
            "threads": 2,
        },
    )
    train(cfg)
    return run


def front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def card_tables(card: str) -> dict[str, dict[tuple[str, str], str]]:
    """``{section title: {(metric, column): cell}}`` of the card's ``###`` tables."""
    out = {}
    for section in card.split("\n### ")[1:]:
        title, _, body = section.partition("\n")
        rows = [
            [c.strip() for c in line.strip().strip("|").split("|")]
            for line in body.splitlines()
            if line.startswith("|")
        ]
        header = [h.split(" (n=")[0] for h in rows[0]]
        out[title] = {(r[0], h): cell for r in rows[2:] for h, cell in zip(header[1:], r[1:])}
    return out


@torch.no_grad()
def same_outputs_as_hubbleclip(family: str, export: Path) -> None:
    """The family's own library, given only the export directory, embeds as hubbleclip's model does."""
    ours = load_model(export).eval()
    texts = ["a spiral galaxy", "a radio double"]
    pixels = torch.randn(2, 3, ours.image_size, ours.image_size, generator=torch.Generator().manual_seed(0))
    if family == "open_clip":
        import open_clip

        net, _ = open_clip.create_model_from_pretrained(f"local-dir:{export}")
        tokens = open_clip.get_tokenizer(f"local-dir:{export}")(texts)
        theirs_img, theirs_txt = net.eval().encode_image(pixels), net.encode_text(tokens)
    else:
        from transformers import CLIPModel, CLIPProcessor

        net = CLIPModel.from_pretrained(export).eval()
        tokens = CLIPProcessor.from_pretrained(export).tokenizer(texts, padding=True, return_tensors="pt")
        # transformers 5 returns an output object whose pooler_output is projected; 4.x the tensor
        theirs_img = net.get_image_features(pixel_values=pixels)
        theirs_txt = net.get_text_features(**tokens)
        theirs_img = getattr(theirs_img, "pooler_output", theirs_img)
        theirs_txt = getattr(theirs_txt, "pooler_output", theirs_txt)
    img, txt = ours(images=pixels, tokens=ours.tokenize(texts))
    normed = torch.nn.functional.normalize
    assert torch.allclose(normed(theirs_img, dim=-1), img, atol=1e-5)
    assert torch.allclose(normed(theirs_txt, dim=-1), txt, atol=1e-5)


@pytest.mark.parametrize(("family", "library"), [("open_clip", "open_clip"), ("hf", "transformers")])
def test_export_loads_with_its_own_library_and_its_card_shows_results_json(
    family, library, tiny, tiny_skyset, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    run = short_run(tiny, tiny_skyset, tmp_path / "run", family)
    export = run / "export"
    card = (export / "README.md").read_text()
    meta = front_matter(card)
    assert meta["library_name"] == library and "astronomy" in meta["tags"] and meta["license"] == "other"
    assert "No evaluation is attached yet" in card and "## Data licences" in card
    assert f"{HDF_CREDIT} (" in card and "Stellarium (GPL-2+)" in card  # the training rows' credit lines
    assert "max_steps: 2" in card and "batch_size: 8" in card  # the resolved config, as trained
    same_outputs_as_hubbleclip(family, export)

    evaluation = tmp_path / "eval"
    argv = ["evaluate", "--model", f"tuned={run}", "--dataset", tiny_skyset, "--split", "val"]
    argv += ["--out", str(evaluation), "--cache_dir", str(tmp_path / "cache"), "--bootstrap.samples", "50"]
    assert main(argv) == 0
    assert main(["publish", str(run), "--results", str(evaluation), "--license", "cc-by-sa-4.0"]) == 0
    card = (export / "README.md").read_text()
    assert front_matter(card)["license"] == "cc-by-sa-4.0"
    tables = card_tables(card)
    results = load_results(evaluation)
    checked = 0
    for direction, per_subset in results.retrieval.models["tuned"].items():
        table = tables[f"Retrieval, {direction.replace('_', ' ')}"]
        for subset, block in per_subset.items():
            for metric, est in block.metrics.items():
                value, low, high = (
                    float(x)
                    for x in table[metric, subset].replace("[", "").replace("]", "").replace(",", "").split()
                )
                assert (value, low, high) == pytest.approx((est.value, est.low, est.high), abs=5e-4)
                checked += 1
    assert checked >= 20
    zs = results.zero_shot["first"].models["tuned"].metrics["top1"]
    assert tables["Zero-shot classification"]["top1", "first"] == zs.format(3)
    same_outputs_as_hubbleclip(family, export)  # the card changed nothing else
    capsys.readouterr()


@pytest.fixture(scope="module")
def finished_run(tiny, tiny_skyset, tmp_path_factory) -> Path:
    return short_run(tiny, tiny_skyset, tmp_path_factory.mktemp("push") / "run", "open_clip")


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_push_offline_stops_with_one_line(finished_run, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["publish", str(finished_run), "--push_to_hub", "someone/skyclip"]) == 2
    assert "HF_HUB_OFFLINE is set, so nothing is uploaded" in one_error_line(capsys)


class Refuses(http.server.BaseHTTPRequestHandler):
    """A loopback Hub that refuses every request as unauthorised."""

    def _refuse(self):
        body = b'{"error": "Invalid credentials in Authorization header"}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = _refuse

    def log_message(self, *args):
        pass


def test_push_refused_by_the_hub_stops_with_one_line(finished_run, monkeypatch, capsys):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuses)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # online, as huggingface_hub sees it (the test session set HF_HUB_OFFLINE before it was imported)
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
        monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
        assert main(["publish", str(finished_run), "--push_to_hub", "someone/skyclip"]) == 2
    finally:
        server.shutdown()
        thread.join()
    err = one_error_line(capsys)
    assert "the Hub refused the upload (HTTP 401)" in err and "hf auth login" in err


def test_the_card_names_the_hub_repository_of_the_base_weights():
    from hubbleclip.training.model_card import base_model_id

    assert base_model_id("open_clip:ViT-B-16@openai") == "timm/vit_base_patch16_clip_224.openai"
    assert base_model_id("hf:openai/clip-vit-base-patch16") == "openai/clip-vit-base-patch16"
    for local in ("open_clip:ViT-B-16", "open_clip:ViT-B-16@/x.bin", "lit-mini", "hf:/"):
        assert base_model_id(local) is None
