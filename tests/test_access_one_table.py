"""One access table decides for every route (issue 25, part 2).

A similarity index built from the rows before their release dates were added says every image is
public.  Served next to the current retrieval index, it must neither open private images to the
similar view (the image store's table decides) nor be accepted by ``serve`` at all.
"""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
from access_world import SECRET, Clock

from hubbleclip.similarity.index import ACCESS_FIELDS


@pytest.fixture(scope="module")
def undated_similarity(access_world, tmp_path_factory) -> str:
    """The mixed similarity index as if built before the release dates existed."""
    out = tmp_path_factory.mktemp("undated") / "similarity"
    shutil.copytree(access_world.similarity["mixed"], out)
    items = json.loads((out / "items.json").read_text())
    assert any(item.get("release_date") for item in items)
    for item in items:
        for name in ACCESS_FIELDS:
            item.pop(name, None)
    (out / "items.json").write_text(json.dumps(items))
    meta = json.loads((out / "meta.json").read_text())  # and in the format of that time (version 1)
    old = {k: v for k, v in meta.items() if k not in ("format", "version")}
    (out / "meta.json").write_text(json.dumps(old))
    return str(out)


def test_serve_refuses_a_similarity_index_whose_release_dates_disagree(access_world, undated_similarity):
    from hubbleclip.errors import UserError
    from hubbleclip.web.config import ServeConfig
    from hubbleclip.web.engine import load_engine

    cfg = ServeConfig(index=access_world.index["mixed"], similarity=undated_similarity)
    with pytest.raises(UserError) as err:
        load_engine(cfg)
    message = str(err.value)
    assert "\n" not in message
    assert undated_similarity in message and access_world.index["mixed"] in message
    assert "release 2030-06-01, program A in the second" in message or "program B in the second" in message


def test_the_store_table_decides_even_for_a_space_that_says_public(access_world, undated_similarity):
    """An engine assembled by hand around the disagreeing index (load_engine refuses it): the
    anonymous similar view, selections and clusters still see public images only."""
    from fastapi.testclient import TestClient

    from hubbleclip.access.policy import AccessPolicy
    from hubbleclip.web.app import create_app
    from hubbleclip.web.config import ServeConfig
    from hubbleclip.web.engine import load_engine
    from hubbleclip.web.similar import ImageSpace

    good = load_engine(
        ServeConfig(index=access_world.index["mixed"], similarity=access_world.similarity["mixed"]),
        policy=AccessPolicy(Clock()),
    )
    engine = dataclasses.replace(good, space=ImageSpace.from_similarity_index(undated_similarity))
    assert engine.space.access.all_public  # what the space itself claims
    private = set(access_world.private_ids())
    with TestClient(create_app(engine), raise_server_exceptions=False) as client:
        r = client.post("/api/similar", json={"image_id": "stellarium:m31", "limit": 200})
        assert r.status_code == 200
        ids = {c["image_id"] for c in r.json()["results"]}
        assert ids and not ids & private and SECRET not in r.text.lower()
        r = client.post("/api/clusters", json={"image_id": "stellarium:m31", "n_clusters": 3, "pool": 50})
        members = {m for c in r.json()["clusters"] for m in [c["representative"]["image_id"], *c["members"]]}
        assert r.status_code == 200 and not members & private
        for pid in private & set(engine.space.ids):
            r = client.post("/api/similar", json={"image_id": "stellarium:m31", "selected": [pid]})
            assert r.status_code == 404
            assert client.post("/api/similar", json={"image_id": pid}).status_code == 404
