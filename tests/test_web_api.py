"""The JSON API over a real index of the tiny skyset (tiny-lit model), with FastAPI's TestClient."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

M31_PNG = Path(__file__).parent / "data" / "stellarium" / "nebulae" / "default" / "m31.png"


@pytest.fixture(scope="session")
def web_engine(tiny, tiny_skyset, tmp_path_factory):
    """The real engine: a retrieval index and a per-image similarity index of the tiny skyset."""
    import torch

    from hubbleclip.search.config import SearchIndexConfig
    from hubbleclip.search.index import build_retrieval_index
    from hubbleclip.similarity.config import SimilarityIndexConfig
    from hubbleclip.similarity.index import build_similarity_index
    from hubbleclip.web.config import ServeConfig
    from hubbleclip.web.engine import load_engine

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("web")
    build_retrieval_index(
        SearchIndexConfig(dataset=tiny_skyset, model=tiny["tiny-lit"], out=str(root / "index"))
    )
    build_similarity_index(
        SimilarityIndexConfig(dataset=tiny_skyset, encoder=tiny["tiny-lit"], out=str(root / "similarity"))
    )
    return load_engine(ServeConfig(index=str(root / "index"), similarity=str(root / "similarity")))


@pytest.fixture(scope="module")
def client(web_engine):
    from fastapi.testclient import TestClient

    from hubbleclip.web.app import create_app

    with TestClient(create_app(web_engine), raise_server_exceptions=False) as c:
        yield c


def post_image(client, data: bytes, content_type: str = "image/png"):
    return client.post("/api/search/image", content=data, headers={"Content-Type": content_type})


def test_page_and_openapi(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'id="q"' in page.text and "/static/app.js" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert client.get("/static/app.js").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/search", "/api/search/image", "/api/similar", "/api/clusters", "/api/info"} <= set(paths)
    assert "image/png" in paths["/api/search/image"]["post"]["requestBody"]["content"]


def test_info_counts_the_index(tiny, client, web_engine):
    info = client.get("/api/info").json()
    assert info["objects"] == len(web_engine.searcher.index)
    assert info["images"] == len(web_engine.store) == len(web_engine.space) > 20
    assert info["model"] == Path(tiny["tiny-lit"]).name  # names, never the server's paths
    assert "/" not in info["index"] and "/" not in info["similarity"] and "/" not in info["model"]


def test_text_search_finds_andromeda_with_a_full_card(client):
    data = client.get("/api/search", params={"q": "andromeda galaxy", "k": 5}).json()
    assert len(data["results"]) == 5 and data["took_ms"] >= 0
    m31 = data["results"][0]
    assert "M31" in m31["names"] and m31["object_id"] == "NGC0224"
    assert m31["constellation"] == "Andromeda"
    assert m31["ra_dec"].startswith("RA 00:42:4") and "Dec +41:16" in m31["ra_dec"]
    assert m31["image_id"] == "stellarium:m31" and m31["credit"]
    assert m31["mag"] is None or 2 < m31["mag"] < 6
    scores = [r["score"] for r in data["results"]]
    assert scores == sorted(scores, reverse=True)


def test_search_input_errors_name_the_field(client):
    missing = client.get("/api/search")
    assert missing.status_code == 422 and missing.json()["detail"].startswith("query.q:")
    too_many = client.get("/api/search", params={"q": "m31", "k": 10_000})
    assert too_many.status_code == 422 and too_many.json()["detail"].startswith("query.k:")
    assert client.get("/api/search", params={"q": "   "}).status_code == 422
    bad_field = client.get("/api/search", params={"q": "type:comet con:Lyr"})
    assert bad_field.status_code == 422 and "type:comet" in bad_field.json()["detail"]


def test_the_search_box_takes_positions_and_says_how_it_read_them(client):
    data = client.get("/api/search", params={"q": "00:42:44.3 +41:16:09 2 deg", "k": 5}).json()
    assert "cone search within 2° of" in data["note"]
    first = data["results"][0]
    assert first["object_id"] == "NGC0224" and first["match"] == "cone" and first["separation_arcsec"] < 2
    seps = [r["separation_arcsec"] for r in data["results"]]
    assert seps == sorted(seps) and seps[-1] <= 7200
    named = client.get("/api/search", params={"q": "messier 31", "k": 3}).json()["results"]
    assert named[0]["object_id"] == "NGC0224" and named[0]["match"] == "exact name"
    assert named[0]["separation_arcsec"] is None


def test_image_search_returns_objects_and_five_classes(client, web_engine):
    response = post_image(client, M31_PNG.read_bytes())
    assert response.status_code == 200, response.text
    data = response.json()
    with Image.open(M31_PNG) as ref:
        assert (data["width"], data["height"]) == ref.size
    assert len(data["results"]) > 0
    classes = data["classes"]
    assert len(classes) == 5 and len({c["label"] for c in classes}) == 5
    probs = [c["probability"] for c in classes]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    assert {c["label"] for c in classes} <= set(web_engine.classify.classes)


def test_upload_limits_and_types(web_engine):
    from fastapi.testclient import TestClient

    from hubbleclip.web.app import create_app
    from hubbleclip.web.config import Limits

    small = TestClient(
        create_app(web_engine, Limits(max_upload_bytes=2000, max_pixels=10_000)),
        raise_server_exceptions=False,
    )
    big = post_image(small, M31_PNG.read_bytes())
    assert big.status_code == 413 and "limit of 2,000 bytes" in big.json()["detail"]
    buf = io.BytesIO()
    Image.new("RGB", (200, 200)).save(buf, "PNG")
    many = post_image(small, buf.getvalue())
    assert many.status_code == 413 and "200x200 pixels" in many.json()["detail"]
    text = post_image(small, b"not an image", "text/plain")
    assert text.status_code == 415 and "image/png" in text.json()["detail"]
    lying = post_image(small, b"GIF89a" + b"\x00" * 20, "image/png")
    assert lying.status_code == 415


def test_stored_images_are_served_and_nothing_else(client, web_engine):
    thumb = client.get("/api/images/stellarium:m31")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= web_engine.store.thumb_size
    full = client.get("/api/images/stellarium:m31", params={"size": "full"})
    assert full.status_code == 200 and full.content == web_engine.store.original("stellarium:m31")[0]
    for path in (
        "/api/images/../../pyproject.toml",
        "/api/images/..%2F..%2Fpyproject.toml",
        "/api/images/%2Fetc%2Fpasswd",
        "/static/../pyproject.toml",
        "/static/%2e%2e/pyproject.toml",
        "/api/images/stellarium:m31.png",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "[build-system]" not in response.text and "root:" not in response.text
    assert client.get("/api/images/stellarium:m31", params={"size": "huge"}).status_code == 422


def test_similar_pages_continue_and_exclude_the_query(client, web_engine):
    first = client.post("/api/similar", json={"image_id": "stellarium:m31", "limit": 6}).json()
    second = client.post("/api/similar", json={"image_id": "stellarium:m31", "offset": 6, "limit": 6}).json()
    ids = [r["image_id"] for r in first["results"] + second["results"]]
    assert len(ids) == 12 == len(set(ids)) and "stellarium:m31" not in ids
    assert first["has_more"] and first["ranked_by"] == "query"
    scores = [r["score"] for r in first["results"] + second["results"]]
    assert scores == sorted(scores, reverse=True)
    # the order is the exact cosine order of the similarity index
    emb = web_engine.space.embeddings
    cos = emb @ emb[web_engine.space.row_of["stellarium:m31"]]
    np.testing.assert_allclose(scores, [cos[web_engine.space.row_of[i]] for i in ids], rtol=1e-5)


def test_selection_reranks_by_the_query_combined_with_the_selection(client, web_engine):
    from hubbleclip.similarity.refine import combine

    plain = client.post("/api/similar", json={"image_id": "stellarium:m31", "limit": 10}).json()["results"]
    chosen = [plain[3]["image_id"], plain[7]["image_id"]]
    data = client.post(
        "/api/similar", json={"image_id": "stellarium:m31", "selected": chosen, "limit": 50}
    ).json()
    assert data["ranked_by"] == "selection" and [c["image_id"] for c in data["selected"]] == chosen
    ids = [r["image_id"] for r in data["results"]]
    assert not set(ids) & {*chosen, "stellarium:m31"}
    space = web_engine.space
    target = combine(space.embeddings[space.rows(["stellarium:m31", *chosen])])  # as the CLI and the demo
    expected = sorted(
        (i for i in space.ids if i not in {*chosen, "stellarium:m31"}),
        key=lambda i: -float(space.embeddings[space.row_of[i]] @ target),
    )
    assert ids == expected[:50]
    assert ids[:8] != [r["image_id"] for r in plain if r["image_id"] not in chosen][:8]


def test_similar_view_reads_names_as_search_does(client):
    by_id = client.post("/api/similar", json={"image_id": "stellarium:m31", "limit": 5}).json()
    for name in ("M31", "Messier 31", "NGC 00224", "andromeda galaxy"):
        data = client.post("/api/similar", json={"image_id": name, "limit": 5}).json()
        assert data["query"] == by_id["query"] and data["results"] == by_id["results"], name
    clusters = client.post("/api/clusters", json={"image_id": "Messier 31", "n_clusters": 2})
    assert clusters.status_code == 200 and len(clusters.json()["clusters"]) == 2
    unknown = client.post("/api/similar", json={"image_id": "Messier 1000"})
    assert unknown.status_code == 404 and "Messier 1000" in unknown.json()["detail"]


def test_web_cards_mirror_the_similarity_results():
    from dataclasses import fields

    from hubbleclip.similarity.results import SimilarCluster, SimilarImage
    from hubbleclip.web.schemas import ClusterOut, ImageCard

    for typed, model in ((SimilarImage, ImageCard), (SimilarCluster, ClusterOut)):
        assert [f.name for f in fields(typed)] == list(model.model_fields)
    image = SimilarImage("a:1", "NGC224", ["M31"], "galaxy", "stellarium", "credit", 0.5)
    cluster = SimilarCluster(image, ["a:2"], 3)
    assert ImageCard(**image.to_dict()).model_dump() == image.to_dict()
    assert ClusterOut(**cluster.to_dict()).model_dump() == cluster.to_dict()
    assert SimilarCluster.from_dict(cluster.to_dict()) == cluster


def test_quick_select_clusters(client, web_engine):
    data = client.post(
        "/api/clusters", json={"image_id": "stellarium:m31", "n_clusters": 3, "n_members": 4}
    ).json()
    clusters = data["clusters"]
    assert len(clusters) == 3
    assert sum(c["size"] for c in clusters) == len(web_engine.space) - 1
    for c in clusters:
        rep = c["representative"]["image_id"]
        assert rep in web_engine.store and rep != "stellarium:m31"
        assert len(c["members"]) == min(4, c["size"] - 1) and rep not in c["members"]
    too_many = client.post("/api/clusters", json={"image_id": "stellarium:m31", "n_clusters": 12, "pool": 10})
    assert too_many.status_code == 422 and too_many.json()["detail"].startswith("body.n_clusters")


def test_bad_json_and_unknown_ids(client):
    broken = client.post(
        "/api/similar", content=b'{"image_id": ', headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422 and "body" in broken.json()["detail"]
    missing = client.post("/api/similar", json={"limit": 5})
    assert missing.status_code == 422 and missing.json()["detail"].startswith("body.image_id:")
    wrong = client.post("/api/similar", json={"image_id": "stellarium:m31", "limit": 0})
    assert wrong.status_code == 422 and wrong.json()["detail"].startswith("body.limit:")
    extra = client.post("/api/similar", json={"image_id": "stellarium:m31", "colour": "red"})
    assert extra.status_code == 422 and extra.json()["detail"].startswith("body.colour:")
    unknown = client.post("/api/similar", json={"image_id": "stellarium:m31", "selected": ["nope:1"]})
    assert unknown.status_code == 404 and "nope:1" in unknown.json()["detail"]


def test_internal_errors_hide_the_traceback(client, web_engine, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("secret /internal/path")

    monkeypatch.setattr(web_engine.searcher, "search", explode)
    response = client.get("/api/search", params={"q": "m31"})
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error (see the server log)"}
    assert "secret" not in response.text and "Traceback" not in response.text


# --- what one request may cost, and how errors read (issue 25, parts 5 and 6) ----------------------


def test_json_bodies_are_capped_with_a_one_line_413(client):
    import json

    huge = json.dumps({"image_id": "stellarium:m31", "selected": ["x" * 1000] * 100})
    declared = client.post("/api/similar", content=huge, headers={"Content-Type": "application/json"})

    def chunks():  # no Content-Length: counted as it arrives
        yield huge[:1000].encode()
        yield huge[1000:].encode()

    streamed = client.post("/api/similar", content=chunks(), headers={"Content-Type": "application/json"})
    for r in (declared, streamed):
        assert r.status_code == 413
        assert r.json() == {"detail": "request body exceeds the limit of 65,536 bytes"}
        assert r.headers["x-content-type-options"] == "nosniff"


def test_ids_and_lists_are_capped_and_never_echoed_whole(client):
    long_item = client.post("/api/similar", json={"image_id": "stellarium:m31", "selected": ["x" * 301]})
    assert long_item.status_code == 422 and long_item.json()["detail"].startswith("body.selected.0:")
    many = client.post("/api/similar", json={"image_id": "stellarium:m31", "selected": ["a"] * 201})
    assert many.status_code == 422 and many.json()["detail"].startswith("body.selected:")
    unknown = client.post("/api/similar", json={"image_id": "y" * 300})
    assert unknown.status_code == 404 and len(unknown.text) < 200 and "300 characters" in unknown.text
    path = client.get("/api/images/" + "z" * 20_000)
    assert path.status_code == 404 and len(path.text) < 200 and "20,000 characters" in path.text
    field = client.post("/api/similar", json={"image_id": "stellarium:m31", "k" * 5000: 1})
    assert field.status_code == 422 and len(field.text) < 400


def test_request_fields_are_strictly_typed(client):
    for body, name in (
        ({"limit": True}, "limit"),
        ({"offset": 1.0}, "offset"),
        ({"limit": "5"}, "limit"),
        ({"selected": "stellarium:m42"}, "selected"),
    ):
        r = client.post("/api/similar", json={"image_id": "stellarium:m31", **body})
        assert r.status_code == 422 and r.json()["detail"].startswith(f"body.{name}:"), (body, r.text)
    r = client.post("/api/clusters", json={"image_id": "stellarium:m31", "n_clusters": 2.0})
    assert r.status_code == 422 and r.json()["detail"].startswith("body.n_clusters:")


def test_unreadable_json_is_a_422_naming_the_problem(client):
    for content, problem in (
        (b'{"image_id": "stellarium:m\xff31"}', "body: not UTF-8 JSON"),
        (b"[" * 30_000 + b"]" * 30_000, "body: JSON nested too deeply"),
    ):
        r = client.post("/api/similar", content=content, headers={"Content-Type": "application/json"})
        assert r.status_code == 422 and r.json()["detail"].startswith(problem), r.text
        assert r.json()["errors"][0]["field"] == "body"


def test_uploads_beyond_the_decode_slots_get_503_with_retry_after(web_engine):
    from fastapi.testclient import TestClient

    from hubbleclip.web.app import create_app
    from hubbleclip.web.config import Limits

    for queue in (0, 1):  # no queue: refused at once; a queue of one: refused after its wait
        app = create_app(web_engine, Limits(max_decodes=1, decode_queue=queue, decode_wait_s=0.0))
        with TestClient(app, raise_server_exceptions=False) as client:
            with app.state.decode_slots.slot():  # another upload is being decoded
                busy = post_image(client, M31_PNG.read_bytes())
            assert busy.status_code == 503 and busy.headers["retry-after"] == "2"
            assert "retry in 2 s" in busy.json()["detail"]
            assert post_image(client, M31_PNG.read_bytes()).status_code == 200  # the slot is free again


def test_a_client_hanging_up_mid_upload_is_one_info_line(web_engine, caplog):
    import asyncio
    import logging

    from hubbleclip.web.app import create_app

    app = create_app(web_engine)
    messages = iter(
        [
            {"type": "http.request", "body": M31_PNG.read_bytes()[:1000], "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent = []

    async def receive():
        return next(messages, {"type": "http.disconnect"})

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/search/image",
        "raw_path": b"/api/search/image",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"image/png"), (b"host", b"testserver")],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    caplog.set_level(logging.DEBUG)
    asyncio.run(app(scope, receive, send))  # raises nothing: uvicorn would log a second traceback
    records = [r for r in caplog.records if r.levelno >= logging.INFO and r.name.startswith("hubbleclip")]
    assert [r.levelname for r in records] == ["INFO"] and "hung up" in records[0].getMessage()
    assert not records[0].exc_info and not any(r.levelno >= logging.WARNING for r in caplog.records)
