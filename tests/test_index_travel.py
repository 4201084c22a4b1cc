"""Indexes that travel: build a retrieval and a similarity index in one folder, move them (and nothing
else) to another, delete the dataset and the model they came from, and serve them from another
working directory: the same answers, the same image bytes.  `index check` names what a broken
copy lacks, one line per problem."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

M31_PNG = Path(__file__).parent / "data" / "stellarium" / "nebulae" / "default" / "m31.png"


def answers(index: Path, similarity: Path) -> dict:
    """What the web page answers over the two indexes: text and image search, similar images and
    the bytes of some images (thumbnail and full size), through the HTTP API."""
    from fastapi.testclient import TestClient

    from hubbleclip.web.app import create_app
    from hubbleclip.web.config import ServeConfig
    from hubbleclip.web.engine import load_engine

    engine = load_engine(ServeConfig(index=str(index), similarity=str(similarity)))
    out = {}
    with TestClient(create_app(engine), raise_server_exceptions=False) as client:
        for q in ("andromeda galaxy", "ring nebula in lyra", "radio galaxy with two lobes"):
            hits = client.get("/api/search", params={"q": q, "k": 8}).json()["results"]
            out[q] = [(h["object_id"], round(h["score"], 5), h["image_id"], h["credit"]) for h in hits]
        found = client.post(
            "/api/search/image", content=M31_PNG.read_bytes(), headers={"Content-Type": "image/png"}
        ).json()
        out["image"] = [(h["object_id"], round(h["score"], 5)) for h in found["results"]]
        out["classes"] = [c["label"] for c in found["classes"]]
        similar = client.post("/api/similar", json={"image_id": "stellarium:m31", "limit": 10}).json()
        out["similar"] = [(r["image_id"], round(r["score"], 5)) for r in similar["results"]]
        texts = [out[q] for q in ("andromeda galaxy", "ring nebula in lyra", "radio galaxy with two lobes")]
        shown = [h[2] for hits in texts for h in hits if h[2]] + [i for i, _ in out["similar"]]
        for image_id in dict.fromkeys(shown):
            for size in ("thumb", "full"):
                response = client.get(f"/api/images/{image_id}", params={"size": size})
                assert response.status_code == 200, response.text
                out[f"{image_id}:{size}"] = response.content
    return out


@pytest.fixture(scope="module")
def moved(tiny, tiny_skyset, tmp_path_factory):
    """(answers where the indexes were built, the moved index, the moved similarity index, answers
    after the move): built from copies of the dataset and the model, which are then deleted."""
    from hubbleclip.search.config import SearchIndexConfig
    from hubbleclip.search.index import build_retrieval_index
    from hubbleclip.similarity.config import SimilarityIndexConfig
    from hubbleclip.similarity.index import build_similarity_index

    root = tmp_path_factory.mktemp("travel")
    src = root / "checkout"
    shutil.copytree(tiny_skyset, src / "data" / "skyset")
    shutil.copytree(tiny["tiny-lit"], src / "runs" / "train" / "export")
    build_retrieval_index(
        SearchIndexConfig(
            dataset=str(src / "data" / "skyset"), model=str(src / "runs" / "train"), out=str(src / "index")
        )
    )
    build_similarity_index(
        SimilarityIndexConfig(
            dataset=str(src / "data" / "skyset"),
            encoder=str(src / "runs" / "train" / "export"),
            out=str(src / "similarity"),
        )
    )
    before = answers(src / "index", src / "similarity")
    host = root / "web-host"
    host.mkdir()
    shutil.move(src / "index", host / "sky")
    shutil.move(src / "similarity", host / "images")
    shutil.rmtree(src)  # the dataset and the model are gone
    elsewhere = root / "somewhere-else"
    elsewhere.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(elsewhere)
        after = answers(Path("../web-host/sky"), Path("../web-host/images"))
    return before, host / "sky", host / "images", after


def test_moved_indexes_give_the_same_answers_and_image_bytes(moved):
    before, _, _, after = moved
    assert before.keys() == after.keys()
    for key in before:
        assert before[key] == after[key], key
    assert before["andromeda galaxy"][0][0] == "NGC0224" and before["similar"]
    assert sum(key.endswith(":full") for key in before) > 5


def test_manifests_store_no_path_of_the_build_machine(moved):
    from hubbleclip.models.base import META_FILE

    _, index, similarity, _ = moved
    manifest = json.loads((index / "manifest.json").read_text())
    meta = json.loads((similarity / "meta.json").read_text())
    for text in (json.dumps(manifest), json.dumps(meta)):
        assert '"/' not in text and str(index.parent.parent) not in text  # no absolute path
    assert manifest["model"]["packed"] and manifest["model"]["spec"] == "model"
    assert manifest["model"]["name"] == "train"  # a training run's export is copied
    assert (index / "model" / META_FILE).is_file() and (similarity / "model" / META_FILE).is_file()
    assert manifest["previews"]["count"] >= manifest["n_with_image"] > 20
    assert manifest["files"]["emb_text.npy"]["bytes"] == (index / "emb_text.npy").stat().st_size
    assert meta["count"] == meta["previews"]["count"] > 20


def test_search_cli_and_index_check_run_from_anywhere(moved, capsys, monkeypatch, tmp_path):
    from hubbleclip.cli import main

    _, index, similarity, _ = moved
    monkeypatch.chdir(tmp_path)
    assert main(["search", "andromeda galaxy", "--index", str(index), "-k", "3", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert hits[0]["object_id"] == "NGC0224"
    for path in (index, similarity):
        assert main(["index", "check", str(path)]) == 0
        assert (
            capsys.readouterr().out.strip().endswith("index ok (files, digests, shapes, previews and model)")
        )


@pytest.fixture
def copy_of(moved, tmp_path):
    _, index, similarity, _ = moved
    return lambda which: Path(shutil.copytree(index if which == "index" else similarity, tmp_path / which))


@pytest.fixture
def check_lines(capsys):
    """`hubbleclip index check PATH ARGS...`: its lines, after asserting it failed."""
    from hubbleclip.cli import main

    def run(path: Path, *args: str) -> list[str]:
        capsys.readouterr()
        code = main(["index", "check", str(path), *args])
        out = capsys.readouterr().out
        assert code == 1, out
        return out.strip().splitlines()

    return run


def test_check_catches_a_truncated_array(copy_of, check_lines):
    index = copy_of("index")
    data = (index / "emb_text.npy").read_bytes()
    (index / "emb_text.npy").write_bytes(data[: len(data) // 2])
    (line,) = check_lines(index)
    assert line.startswith(
        f"{index / 'emb_text.npy'}: {len(data) // 2} bytes, the manifest recorded {len(data)}"
    )
    assert "(an array, truncated or replaced)" in line


def other_model(tiny, out: Path) -> str:
    """tiny-lit with one weight changed: same architecture, other weights."""
    import torch

    from hubbleclip.models.base import ClipModel

    model = ClipModel.load(tiny["tiny-lit"])
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    model.save(out)
    return str(out)


def test_check_and_search_refuse_a_wrong_model(copy_of, check_lines, tiny, tmp_path):
    from hubbleclip.indexes.model import ModelMismatchError
    from hubbleclip.search.searcher import Searcher

    index = copy_of("index")
    wrong = other_model(tiny, tmp_path / "wrong")
    (line,) = check_lines(index, "--model", wrong)
    assert line.startswith(f"model {wrong}: weights digest ") and "is not the one index" in line
    with pytest.raises(ModelMismatchError, match="pass --model with that model, or rebuild"):
        Searcher.open(index, model=wrong)
    # the right model from elsewhere is accepted
    assert Searcher.open(index, model=tiny["tiny-lit"]).search(text="m31", k=1).hits
    shutil.rmtree(index / "model")
    shutil.copytree(wrong, index / "model")  # the index's own copy replaced
    (line,) = check_lines(index)
    assert line.startswith(f"model {index / 'model'}: weights digest ")


def test_check_and_serve_refuse_a_missing_preview(copy_of, check_lines):
    from hubbleclip.errors import UserError
    from hubbleclip.web.config import ServeConfig
    from hubbleclip.web.engine import load_engine

    index = copy_of("index")
    (index / "previews.bin").unlink()
    (line,) = check_lines(index)
    assert line.startswith(f"{index / 'previews.bin'}: missing (the image previews, ")
    assert "copy the whole index directory again, or rebuild the index" in line
    with pytest.raises(UserError, match=r"previews\.bin: missing \(the image previews") as caught:
        load_engine(ServeConfig(index=str(index)))
    assert "\n" not in str(caught.value)


def test_a_missing_model_directory_is_named_with_the_fix(copy_of, check_lines):
    from hubbleclip.indexes.model import ModelMismatchError
    from hubbleclip.similarity.index import load_index

    similarity = copy_of("similarity")
    shutil.rmtree(similarity / "model")
    with pytest.raises(ModelMismatchError, match=r"model: missing .*pass --model with the same model"):
        load_index(similarity).encoder()
    (line,) = check_lines(similarity)
    assert "model: missing (the query encoder" in line


def test_an_old_index_still_opens_with_a_note(copy_of, tiny, tiny_skyset, caplog):
    from hubbleclip.search.index import SearchIndex

    index = copy_of("index")
    manifest = json.loads((index / "manifest.json").read_text())
    for key in ("model", "files", "previews"):
        manifest.pop(key)
    manifest.update(version=2, model_spec=str(Path(tiny["tiny-lit"]).resolve()), dataset=tiny_skyset)
    (index / "manifest.json").write_text(json.dumps(manifest))
    with caplog.at_level(logging.WARNING):
        old = SearchIndex.load(index)
    (note,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "old format" in note and "hubbleclip index build --overwrite true" in note
    assert old.previews is None and old.load_image(old.row_of["NGC0224"]) is not None
    assert np.asarray(old.emb_text).shape[0] == len(old)
