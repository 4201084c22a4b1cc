"""No route of the web API and no CLI command that prints rows leaks a proprietary row.

The world (tests/access_world.py) mixes public rows with private near-copies of them, which are
the public images' nearest neighbours.  The strongest check: what an anonymous caller gets from
the mixed index equals what it gets from an index built from the public rows alone (ids, scores,
neighbours, cluster sizes and representatives, counts), route by route.  Then tokens of one
program, id enumeration, forged ids in refinement and quick-select, and a clock that passes a
release date.  Every route of the app's own route table and every CLI command must be covered here.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest
from access_world import RELEASE, SECRET, Clock
from PIL import Image

M31_PNG = Path(__file__).parent / "data" / "stellarium" / "nebulae" / "default" / "m31.png"
# the resolver's ways in too: a private designation in another spelling, a typo'd private name, a
# cone on a private object's name or position, brightness over every object
QUERIES = (
    "andromeda galaxy",
    SECRET,
    "Zorblax Nebula",
    "planetary nebula",
    "M31",
    "radio galaxy",
    "ZRB 1",
    "zrb1",
    "zorblaxx nebula",
    "near Zorblax Nebula",
    "10.7 41.3",
    "brightest emission nebulae",
)
PUBLIC_IMAGES = ("stellarium:m31", "stellarium:m42", "stellarium:m57dumont", "stellarium:m13")


@pytest.fixture(scope="module")
def world(access_world):
    return access_world


@pytest.fixture(scope="module")
def clock():
    return Clock()


@pytest.fixture(scope="module")
def apps(world, clock):
    """TestClients: the mixed index (clock injected, tokens on) and the public-only index."""
    from fastapi.testclient import TestClient

    from hubbleclip.access.policy import AccessPolicy
    from hubbleclip.web.app import create_app
    from hubbleclip.web.config import ServeConfig
    from hubbleclip.web.engine import load_engine

    mixed = load_engine(
        ServeConfig(
            index=world.index["mixed"], similarity=world.similarity["mixed"], tokens=world.tokens_file
        ),
        policy=AccessPolicy(clock),
    )
    public = load_engine(ServeConfig(index=world.index["public"], similarity=world.similarity["public"]))
    with (
        TestClient(create_app(mixed), raise_server_exceptions=False) as m,
        TestClient(create_app(public), raise_server_exceptions=False) as p,
    ):
        yield {"mixed": m, "public": p, "engine": mixed}


def normalise(x):
    """Drop what legitimately differs between two servers: timings and index paths; round scores to
    5 decimals (images are embedded in different batches in the two indexes: last-bit differences)."""
    if isinstance(x, dict):
        return {k: normalise(v) for k, v in x.items() if k not in ("took_ms", "index", "similarity", "image")}
    if isinstance(x, list):
        return [normalise(v) for v in x]
    if isinstance(x, float):
        return "nan" if math.isnan(x) else round(x, 5)  # NaN != NaN; HDF cut-outs have no position
    return x


def without_quoted_query(text: str, query: str) -> str:
    """``text`` without quotes of the caller's own words (a note's "could not resolve 'X'"): the
    caller typed them, so they are no leak."""
    words = query.strip().lower().split()
    for span in {" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)}:
        text = text.replace(f"'{span}'", "")
    return text


def assert_no_secret(world, response) -> None:
    """No private id, name, word or image bytes in a response (headers included)."""
    blob = response.content
    body = blob.decode("utf-8", "replace")
    if "json" in response.headers.get("content-type", ""):
        data = response.json()
        if isinstance(data, dict) and isinstance(data.get("query"), str):
            data.pop("query")  # the echo of the caller's own query text is not a leak
        body = json.dumps(data)
    text = body.lower() + json.dumps(dict(response.headers)).lower()
    text = without_quoted_query(text, response.request.url.params.get("q", ""))
    leaked = [i for i in world.private if i.lower() in text]
    if SECRET in text or "secret:" in text or leaked:
        pytest.fail(f"{response.request.method} {response.request.url}: leaked {leaked or SECRET}")
    for pid, data in world.private_images().items():
        assert blob != data, f"{response.request.url}: served the private image {pid}"


def same_as_public(world, apps, method: str, path: str, status: int = 200, **kw) -> None:
    a = apps["mixed"].request(method, path, **kw)
    b = apps["public"].request(method, path, **kw)
    assert a.status_code == b.status_code == status, (path, a.status_code, a.text[:300], b.text[:300])
    assert_no_secret(world, a)
    if "json" in a.headers.get("content-type", ""):
        assert normalise(a.json()) == normalise(b.json()), path
    else:
        assert a.content == b.content, path


def upload(data: bytes) -> dict:
    return {"content": data, "headers": {"Content-Type": "image/png"}}


# --- every route of the app: anonymous answers equal the public-only index's ------------------------


def case_page(world, apps):
    same_as_public(world, apps, "GET", "/")


def case_static(world, apps):
    for name in ("app.js", "style.css", "index.html"):
        same_as_public(world, apps, "GET", f"/static/{name}")


def case_openapi(world, apps):
    same_as_public(world, apps, "GET", "/openapi.json")
    schema = apps["mixed"].get("/openapi.json").json()
    example = schema["components"]["schemas"]["SimilarRequest"]["properties"]["image_id"]["examples"][0]
    assert example in apps["engine"].space.ids and example not in world.private


def case_docs(world, apps):
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        same_as_public(world, apps, "GET", path)


def case_info(world, apps):
    same_as_public(world, apps, "GET", "/api/info")


def case_search(world, apps):
    for q in QUERIES:
        for k in (5, 100):
            same_as_public(world, apps, "GET", "/api/search", params={"q": q, "k": k})


def case_search_image(world, apps):
    for data in (M31_PNG.read_bytes(), *world.private_images().values()):  # a private image as the query
        same_as_public(world, apps, "POST", "/api/search/image", **upload(data))


def case_images(world, apps):
    for image_id in PUBLIC_IMAGES:
        for size in ("thumb", "full"):
            same_as_public(world, apps, "GET", f"/api/images/{image_id}", params={"size": size})
    for image_id in world.private:  # enumeration: not public yet answers exactly like no such id
        for size in ("thumb", "full"):
            private = apps["mixed"].get(f"/api/images/{image_id}", params={"size": size})
            unknown = apps["mixed"].get(f"/api/images/{image_id}x", params={"size": size})
            assert SECRET not in private.text.lower()
            assert private.status_code == unknown.status_code == 404
            assert private.json()["detail"].replace(image_id, "ID") == unknown.json()["detail"].replace(
                image_id + "x", "ID"
            )
            assert set(private.headers) == set(unknown.headers)


def case_similar(world, apps):
    for image_id in PUBLIC_IMAGES:
        same_as_public(world, apps, "POST", "/api/similar", json={"image_id": image_id, "limit": 200})
        same_as_public(
            world, apps, "POST", "/api/similar", json={"image_id": image_id, "offset": 3, "limit": 5}
        )
    chosen = ["stellarium:m42", "stellarium:m13"]
    same_as_public(
        world, apps, "POST", "/api/similar", json={"image_id": "stellarium:m31", "selected": chosen}
    )
    for forged in world.private:  # forged ids as query or selection: the same 404 as unknown ids
        for body in ({"image_id": forged}, {"image_id": "stellarium:m31", "selected": [chosen[0], forged]}):
            a = apps["mixed"].post("/api/similar", json=body)
            b = apps["mixed"].post("/api/similar", json={**body, **swap(body, forged)})
            assert a.status_code == b.status_code == 404
            assert a.json()["detail"].replace(forged, "ID") == b.json()["detail"].replace(forged + "x", "ID")


def case_clusters(world, apps):
    for image_id in PUBLIC_IMAGES:
        body = {"image_id": image_id, "n_clusters": 3, "n_members": 4, "pool": 50}
        same_as_public(world, apps, "POST", "/api/clusters", json=body)
    too_many = {"image_id": "stellarium:m31", "n_clusters": 12, "pool": 10}  # visible count decides
    same_as_public(world, apps, "POST", "/api/clusters", status=422, json=too_many)
    for forged in world.private:
        a = apps["mixed"].post("/api/clusters", json={"image_id": forged})
        b = apps["mixed"].post("/api/clusters", json={"image_id": forged + "x"})
        assert a.status_code == b.status_code == 404


def swap(body: dict, forged: str) -> dict:
    """The same request with the forged id replaced by an id that never existed."""
    out = dict(body)
    if body.get("image_id") == forged:
        out["image_id"] = forged + "x"
    if forged in body.get("selected", []):
        out["selected"] = [i + "x" if i == forged else i for i in body["selected"]]
    return out


ROUTE_CASES = {
    ("GET", "/"): case_page,
    ("GET", "/static"): case_static,
    ("GET", "/openapi.json"): case_openapi,
    ("GET", "/docs"): case_docs,
    ("GET", "/docs/oauth2-redirect"): case_docs,
    ("GET", "/redoc"): case_docs,
    ("GET", "/api/info"): case_info,
    ("GET", "/api/search"): case_search,
    ("POST", "/api/search/image"): case_search_image,
    ("GET", "/api/images/{image_id:path}"): case_images,
    ("POST", "/api/similar"): case_similar,
    ("POST", "/api/clusters"): case_clusters,
}


def app_routes(app) -> set[tuple[str, str]]:
    from starlette.routing import Mount

    out = set()
    for route in app.routes:
        if isinstance(route, Mount):
            out.add(("GET", route.path))
        else:
            out |= {(m, route.path) for m in route.methods - {"HEAD"}}
    return out


def test_every_route_has_a_leak_case(apps):
    """A new route without a case here fails the suite."""
    assert app_routes(apps["mixed"].app) == set(ROUTE_CASES)


@pytest.mark.parametrize("route", sorted(ROUTE_CASES), ids=lambda r: f"{r[0]} {r[1]}")
def test_anonymous_sees_exactly_the_public_index(route, world, apps):
    ROUTE_CASES[route](world, apps)


# --- tokens ------------------------------------------------------------------------------------------


def bearer(world, name: str) -> dict:
    return {"Authorization": f"Bearer {world.tokens[name]}"}


def test_a_token_sees_its_program_and_never_another(world, apps):
    client = apps["mixed"]
    for mine, other in (("A", "B"), ("B", "A")):
        headers = bearer(world, mine)
        seen = set()
        for q in QUERIES:
            r = client.get("/api/search", params={"q": q, "k": 100}, headers=headers)
            assert r.status_code == 200
            seen |= {c["image_id"] for c in r.json()["results"]} | {
                c["object_id"] for c in r.json()["results"]
            }
        for image_id in PUBLIC_IMAGES:
            r = client.post("/api/similar", json={"image_id": image_id, "limit": 200}, headers=headers)
            seen |= {c["image_id"] for c in r.json()["results"]}
            r = client.post("/api/clusters", json={"image_id": image_id, "n_clusters": 3}, headers=headers)
            seen |= {
                m for c in r.json()["clusters"] for m in [c["representative"]["image_id"], *c["members"]]
            }
        assert set(world.private_ids(mine)) & seen, f"token {mine} sees none of its own rows"
        assert not set(world.private_ids(other)) & seen, f"token {mine} saw rows of program {other}"
        for pid in world.private_ids(other):
            assert client.get(f"/api/images/{pid}", headers=headers).status_code == 404
            r = client.post(
                "/api/similar", json={"image_id": "stellarium:m31", "selected": [pid]}, headers=headers
            )
            assert r.status_code == 404
        own = [p for p in world.private_ids(mine) if world.private[p]["image"] is not None]
        assert (
            client.get(f"/api/images/{own[0]}", params={"size": "full"}, headers=headers).content
            == (world.private[own[0]]["image"]["bytes"])
        )
        assert (
            client.get(f"/api/images/{own[0]}", headers=headers).headers["cache-control"]
            == "private, no-store"
        )


def test_private_copies_are_the_nearest_neighbours_for_a_staff_token(world, apps):
    """The test data is what it claims: with every row visible, private copies come first."""
    r = apps["mixed"].post("/api/similar", json={"image_id": "stellarium:m31"}, headers=bearer(world, "all"))
    first = r.json()["results"][0]["image_id"]
    assert first.startswith("secret:") and first.endswith(":m31")
    hits = apps["mixed"].get("/api/search", params={"q": SECRET}, headers=bearer(world, "all")).json()
    assert any(h["object_id"] == "SECRET-OBJ-1" for h in hits["results"])
    info = apps["mixed"].get("/api/info", headers=bearer(world, "all")).json()
    public = apps["mixed"].get("/api/info").json()
    assert info["images"] - public["images"] == len(world.private_images())


def test_bad_tokens_are_401_and_tokens_never_reach_the_logs(world, apps, caplog):
    client = apps["mixed"]
    caplog.set_level(logging.DEBUG)
    for header in (
        "Bearer hc_not-a-real-token",
        "Basic dXNlcjpwYXNz",
        "Bearer ",
        "token " + world.tokens["A"],
    ):
        r = client.get("/api/search", params={"q": SECRET}, headers={"Authorization": header})
        assert r.status_code == 401 and r.json() == {"detail": "invalid access token"}
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert_no_secret(world, r)
    for name in ("A", "B", "all"):
        assert client.get("/api/info", headers=bearer(world, name)).status_code == 200
    logged = "\n".join(f"{r.getMessage()} {r.args}" for r in caplog.records)
    for token in world.tokens.values():
        assert token not in logged and token[3:20] not in logged
    assert all(token not in Path(world.tokens_file).read_text() for token in world.tokens.values())
    assert oct(Path(world.tokens_file).stat().st_mode)[-3:] == "600"


def test_private_and_unknown_ids_get_the_same_404(world, apps):
    """A private id's 404 is an unknown id's, byte for byte but for the id itself, headers included
    (that both take the same time is measured by bench/bench_access.py, not asserted here)."""
    client = apps["mixed"]

    def headers(r) -> dict:
        return {k: v for k, v in r.headers.items() if k != "content-length"}  # the ids differ in length

    for pid in world.private_ids():
        private = client.get(f"/api/images/{pid}")
        unknown = client.get(f"/api/images/{pid}-nope")
        assert private.status_code == unknown.status_code == 404
        assert private.content.replace(pid.encode(), b"ID") == unknown.content.replace(
            f"{pid}-nope".encode(), b"ID"
        )
        assert headers(private) == headers(unknown)


def test_rows_appear_when_their_release_date_passes_without_a_rebuild(world, apps, clock):
    client = apps["mixed"]
    engine = apps["engine"]
    index_before = id(engine.searcher.index)
    try:
        clock.today = RELEASE["A"]
        ids = {h["object_id"] for h in client.get("/api/search", params={"q": SECRET}).json()["results"]}
        assert "SECRET-OBJ-1" in ids
        a_image = next(p for p in world.private_ids("A") if world.private[p]["image"] is not None)
        assert client.get(f"/api/images/{a_image}").status_code == 200
        near = client.post("/api/similar", json={"image_id": "stellarium:m31"}).json()["results"]
        assert any(r["image_id"] in world.private_ids("A") for r in near)
        for pid in world.private_ids("B"):  # program B is still proprietary
            assert client.get(f"/api/images/{pid}").status_code == 404
        clock.today = RELEASE["B"]
        assert all(client.get(f"/api/images/{p}").status_code == 200 for p in world.private_images())
        assert id(engine.searcher.index) == index_before
    finally:
        clock.today = Clock().today
    assert client.get(f"/api/images/{a_image}").status_code == 404


# --- every CLI command --------------------------------------------------------------------------------


def cli_json(capsys, *argv) -> dict:
    from hubbleclip.cli import main

    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def check_cli_text(world, data) -> None:
    query = ""
    if isinstance(data, dict) and isinstance(data.get("query"), str):
        query = data["query"]
        data = {k: v for k, v in data.items() if k != "query"}  # the echo of the query text itself
    text = without_quoted_query(json.dumps(data).lower(), query)
    assert SECRET not in text and "secret:" not in text


def cmd_search(world, capsys):
    for q in QUERIES:
        a = cli_json(capsys, "search", q, "--index", world.index["mixed"], "--json", "-k", "50")
        b = cli_json(capsys, "search", q, "--index", world.index["public"], "--json", "-k", "50")
        check_cli_text(world, a)
        assert normalise(a) == normalise(b)
    a = cli_json(capsys, "search", "--image", str(M31_PNG), "--index", world.index["mixed"], "--json")
    b = cli_json(capsys, "search", "--image", str(M31_PNG), "--index", world.index["public"], "--json")
    assert normalise(a) == normalise(b)
    full = cli_json(capsys, "search", SECRET, "--index", world.index["mixed"], "--json", "--access", "all")
    assert any(h["object_id"] == "SECRET-OBJ-1" for h in full["hits"])


def cmd_similar(world, capsys):
    for query in (*PUBLIC_IMAGES, "M31"):
        args = ("--json", "--sheet", "", "--clusters", "3", "--pool", "40")
        a = cli_json(capsys, "similar", query, "--index", world.similarity["mixed"], *args)
        b = cli_json(capsys, "similar", query, "--index", world.similarity["public"], *args)
        check_cli_text(world, a)
        assert normalise(a) == normalise(b)
    a = cli_json(
        capsys, "similar", str(M31_PNG), "--index", world.similarity["mixed"], "--json", "--sheet", ""
    )
    b = cli_json(
        capsys, "similar", str(M31_PNG), "--index", world.similarity["public"], "--json", "--sheet", ""
    )
    assert normalise(a) == normalise(b)
    from hubbleclip.cli import main

    for forged in world.private_ids():  # as a query or a selection: "no image", like an unknown id
        capsys.readouterr()
        assert main(["similar", forged, "--index", world.similarity["mixed"], "--sheet", ""]) == 2
        err = capsys.readouterr().err
        assert "no image with id" in err and SECRET not in err.replace(forged, "")
        args = ["similar", "stellarium:m31", "--select", forged, "--index", world.similarity["mixed"]]
        assert main([*args, "--sheet", ""]) == 2
    private_m31 = next(p for p in world.private if p.endswith(":m31"))
    full = cli_json(
        capsys,
        "similar",
        "stellarium:m31",
        "--index",
        world.similarity["mixed"],
        "--json",
        "--sheet",
        "",
        "--access",
        world.private[private_m31]["program_id"],
    )
    assert full["neighbours"][0]["image_id"] == private_m31


def cmd_pairs(world, capsys, tmp_path):
    from hubbleclip.cli import main
    from hubbleclip.similarity.index import load_index
    from hubbleclip.similarity.neighbours import load_all_pairs

    lists = {}
    for name in ("mixed", "public"):
        out = tmp_path / f"pairs-{name}"
        assert (
            main(["similarity", "pairs", "--index", world.similarity[name], "-k", "10", "--out", str(out)])
            == 0
        )
        items = load_index(world.similarity[name]).items
        idx, scores, _ = load_all_pairs(out)
        rows = np.load(out / "rows.npy") if (out / "rows.npy").exists() else np.arange(len(items))
        lists[name] = {
            items[r]["id"]: [
                (items[j]["id"], round(float(s), 5)) for j, s in zip(idx[n], scores[n]) if j >= 0
            ]
            for n, r in enumerate(rows)
        }
    check_cli_text(world, lists["mixed"])
    assert lists["mixed"] == lists["public"]


def cmd_data_info(world, capsys):
    a = cli_json(capsys, "data", "info", world.mixed, "--json")
    b = cli_json(capsys, "data", "info", world.public, "--json")
    check_cli_text(world, a)
    assert a["splits"] == b["splits"] and a["examples"] == b["examples"]
    full = cli_json(capsys, "data", "info", world.mixed, "--json", "--access", "all")
    assert sum(s["rows"] for s in full["splits"].values()) - sum(
        s["rows"] for s in b["splits"].values()
    ) == len(world.private)


ROW_COMMANDS = {
    "search": cmd_search,
    "similar": cmd_similar,
    "similarity pairs": cmd_pairs,
    "data info": cmd_data_info,
}
# commands that print no dataset rows: why each is safe
NO_ROWS = {
    "data build": "writes a dataset; prints counts of the rows it was given",
    "captions generate": "writes captions into the operator's own dataset",
    "captions check": "prints caption quality statistics",
    "train": "trains a model; prints losses",
    "evaluate": "prints metrics over a split the operator chose",
    "compare": "prints metrics over a split the operator chose",
    "classify": "prints zero-shot labels of class lists (no dataset rows)",
    "index build": "writes an index; prints its size",
    "index check": "verifies an index's files and model; prints problems, never rows",
    "similarity index": "writes an index; prints its size",
    "similarity train": "trains an encoder; prints losses",
    "similarity evaluate": "prints metrics over the FIRST test split",
    "serve": "the web API: every route is covered above",
    "demo": "runs the demo stages on the public skyset",
    "tokens add": "prints a new token once",
    "tokens list": "prints token names and scopes",
    "tokens remove": "removes a token",
    "data export": "writes the operator's own dataset as shards or CSV, as the dataset itself holds it",
    "captions ship": "writes captions of the operator's own dataset into a resource file",
    "judge": "prints LLM-judged relevance fractions over a split the operator chose",
    "study": "prints metrics over a split the operator chose",
    "crossval": "prints metrics over the operator's own dataset",
    "interpolate": "writes interpolated models; prints metrics over a split the operator chose",
    "index kinds": "prints per-kind metrics of queries generated from the operator's own index",
    "embed": "writes feature shards of the operator's own dataset; prints counts and rates",
    "publish": "writes a model card of the operator's own run (counts, metrics, credits); uploads only "
    "with --push_to_hub, to a repository the operator names",
}


def cli_commands() -> set[str]:
    import argparse

    from hubbleclip.cli import build_parser

    def walk(parser, prefix):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield prefix
            return
        for name, child in subs[0].choices.items():
            yield from walk(child, f"{prefix} {name}".strip())

    return set(walk(build_parser(), ""))


def test_every_cli_command_is_classified():
    """A new command must say here whether it prints rows (and get a leak case) or not."""
    assert cli_commands() == set(ROW_COMMANDS) | set(NO_ROWS)


@pytest.mark.parametrize("command", sorted(ROW_COMMANDS))
def test_cli_without_a_flag_sees_exactly_the_public_rows(command, world, capsys, tmp_path):
    fn = ROW_COMMANDS[command]
    fn(world, capsys, tmp_path) if command == "similarity pairs" else fn(world, capsys)


def test_access_table_masks_are_exact():
    """Masks over 100,000 rows, on the clock's day and on later days (each a new, uncached mask);
    their cost is measured by bench/bench_access.py."""
    from hubbleclip.access.policy import AccessPolicy, AccessTable, Viewer, parse_access, to_day

    rng = np.random.default_rng(0)
    n = 100_000
    dates = [None if rng.random() < 0.8 else f"20{rng.integers(20, 40)}-01-01" for _ in range(n)]
    programs = [None if d is None else str(rng.integers(0, 50)) for d in dates]

    def expected(day: int) -> np.ndarray:  # what program 7 may see on ``day``
        return np.array([d is None or to_day(d) <= day or p == "7" for d, p in zip(dates, programs)])

    table = AccessTable.from_rows(dates, programs)
    policy = AccessPolicy(Clock())
    seven = Viewer(programs=frozenset({"7"}))
    mask = policy.visible(table, seven)
    assert (mask == expected(to_day(Clock().today))).all() and not mask.flags.writeable
    assert policy.visible(table, parse_access("all")).all()
    assert parse_access("public") == parse_access("")
    with pytest.raises(ValueError, match="--access"):
        parse_access(",")
    for day in (to_day("2031-06-01"), to_day("2040-01-01")):  # the last date is 2039-01-01
        assert (table.mask(seven, day) == expected(day)).all()
    assert table.mask(parse_access("public"), to_day("2040-01-01")).all()


def test_folder_csv_release_dates_and_programs(tmp_path):
    from hubbleclip.data.config import FolderConfig
    from hubbleclip.data.folder import read_rows

    img = tmp_path / "imgs"
    img.mkdir()
    Image.new("RGB", (8, 8)).save(img / "a.png")
    Image.new("RGB", (8, 8), "white").save(img / "b.png")
    (img / "captions.csv").write_text(
        "file,caption,release_date,program_id\na.png,a galaxy,2031-02-03,GO-1\nb.png,a nebula,,\n"
    )
    rows = read_rows(FolderConfig(images=str(img)))
    assert str(rows[0]["release_date"]) == "2031-02-03" and rows[0]["program_id"] == "GO-1"
    assert rows[1]["release_date"] is None and rows[1]["program_id"] is None
    (img / "captions.csv").write_text("file,caption,release_date\na.png,a galaxy,next year\n")
    with pytest.raises(ValueError, match="line 2, column release_date: 'next year' is not a date"):
        read_rows(FolderConfig(images=str(img)))


def test_tokens_cli_adds_lists_and_removes(tmp_path, capsys):
    from hubbleclip.access.tokens import TokenStore
    from hubbleclip.cli import main

    file = tmp_path / "tokens.json"
    assert main(["tokens", "add", str(file), "--name", "pi-smith", "--programs", "11360,12498"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("hc_") and len(token) > 40 and token not in file.read_text()
    viewer = TokenStore.load(file).viewer(token)
    assert viewer.programs == {"11360", "12498"} and not viewer.everything
    assert TokenStore.load(file).viewer(token + "x") is None
    assert main(["tokens", "add", str(file), "--name", "pi-smith", "--programs", "all"]) == 2
    assert "exists already" in capsys.readouterr().err
    assert main(["tokens", "list", str(file)]) == 0
    listed = capsys.readouterr().out
    assert "pi-smith\t11360,12498" in listed and token not in listed
    assert main(["tokens", "remove", str(file), "--name", "pi-smith"]) == 0
    assert TokenStore.load(file).viewer(token) is None
    file.write_text('{"format": "hubbleclip-tokens", "version": 1, "tokens": [{"name": "x"}]}')
    with pytest.raises(ValueError, match=r"tokens\[0\] \(x\): field 'sha256'"):
        TokenStore.load(file)


def test_serve_warns_on_a_public_address_unless_access_is_decided():
    from hubbleclip.cli.serve import exposure_warning
    from hubbleclip.web.config import ServeConfig

    assert exposure_warning(ServeConfig(host="127.0.0.1")) is None
    warning = exposure_warning(ServeConfig(host="0.0.0.0"))
    assert "public rows only" in warning and "--public_only" in warning and "--tokens" in warning
    assert exposure_warning(ServeConfig(host="0.0.0.0", tokens="t.json")) is None
    assert exposure_warning(ServeConfig(host="0.0.0.0", public_only=True)) is None


def test_public_only_server_accepts_no_token(world, clock):
    from fastapi.testclient import TestClient

    from hubbleclip.access.policy import AccessPolicy
    from hubbleclip.web.app import create_app
    from hubbleclip.web.config import ServeConfig
    from hubbleclip.web.engine import load_engine

    cfg = ServeConfig(index=world.index["mixed"], tokens=world.tokens_file, public_only=True)
    engine = load_engine(cfg, policy=AccessPolicy(clock))
    with TestClient(create_app(engine)) as client:
        assert client.get("/api/info", headers=bearer(world, "all")).status_code == 401
        hits = client.get("/api/search", params={"q": SECRET}).json()["results"]
        assert all(not h["object_id"].startswith("SECRET") for h in hits)


def test_approximate_candidates_never_include_a_private_object(tiny, tmp_path):
    """Leak enumeration with approximate search: 4,000 synthetic objects, one in ten private, the
    faiss IVF path forced on even for small allowed sets.  Aimed straight at each private object
    (its own vector, its name, its text), an anonymous query never gets it as a candidate."""
    from test_search_scale import synthetic_index

    from hubbleclip.access.policy import ANONYMOUS, AccessPolicy
    from hubbleclip.search.config import CandidateConfig
    from hubbleclip.search.searcher import Searcher

    encoder = synthetic_index(tmp_path / "index", tiny["tiny-lit"], 4000, private_every=10)
    forced = CandidateConfig(ann="approximate", exact_below=0)
    searcher = Searcher.open(tmp_path / "index", encoder=encoder, candidates=forced)
    index = searcher.index
    visible = AccessPolicy().visible(index.access, ANONYMOUS)
    private = np.flatnonzero(~visible)
    assert len(private) == 400 and all(d.approximate for d in searcher.dense.values())
    for kind, emb in (("text", index.emb_text), ("image", index.emb_image)):
        dense = searcher.dense[kind]
        for row in private[dense.members[private]]:
            q = np.asarray(emb[row])
            assert row in dense.search(q, 100)  # aimed well: without the mask it is found
            assert visible[dense.search(q, 100, visible)].all()
    private_ids = {index.corpus.object_id[r] for r in private}
    for row in private[:4]:
        name = index.corpus.names[row][0]
        for text in (name, index.corpus.text[row]):
            assert visible[searcher.text(text, visible).candidates].all()
        hits = searcher.search(text=name, k=20, visible=visible).hits  # through the name resolver
        assert hits and not {h.object_id for h in hits} & private_ids
