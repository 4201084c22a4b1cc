"""The access guarantee as a differential check: what a caller gets from a mixed index equals, ids,
order and scores, what it gets from an index built only from the rows that caller may see.

``Targets.from_engine`` reads what an anonymous caller may not see in a mixed world; ``web_asks``
and ``cli_asks`` draw seeded requests aimed at it on every route and CLI command that returns rows:
its names and designations in several spellings, typos of them, cones around its positions,
"near X", brightness and field queries, words that only private rows use, similar images of the
public images next to private ones, and uploads of the private images.  ``Tally`` sends each
request to both sides and counts, per route, the answers compared and the ones that differ.
``build_view`` writes a caller's dataset and indexes; ``add_private_rows`` turns a public
dataset into a mixed one (the bench's larger world).  Used by tests/test_access_differential.py
and bench/bench_access_differential.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from hubbleclip.access.policy import ANONYMOUS, AccessTable, Viewer, to_day
from hubbleclip.models.feature_cache import image_key
from hubbleclip.search.names import NameResolver
from hubbleclip.search.query_kinds import generate_kind_queries
from hubbleclip.search.text import plural

# what legitimately differs between two servers or two indexes: timings and where files live
IGNORED_KEYS = {"took_ms", "index", "similarity", "sheet"}
PRIVATE_CAPTION = "proprietary observation"


@dataclass(frozen=True)
class Ask:
    """One request: to the web app (``method``, ``path`` and a body) or to the CLI (``argv``, with
    ``{index}``, ``{similarity}`` and ``{uploads}`` filled in per side)."""

    route: str  # "GET /api/search", "cli search", ...
    kind: str  # what drew it: "name", "typo", "cone", "upload", ...
    method: str = ""
    path: str = ""
    params: dict | None = None
    json: dict | None = None
    content: bytes | None = None
    argv: tuple[str, ...] = ()

    def describe(self) -> str:
        what = self.argv or self.params or self.json or f"<{len(self.content or b'')} bytes>"
        return f"{self.route} [{self.kind}] {what}"


@dataclass
class Targets:
    """The private rows of a mixed world as the generators aim at them."""

    names: list[str]  # names and designations of private entries and of their objects' public entries
    private_names: list[str]  # names that only private entries carry
    types: list[str]
    words: list[str]  # words that occur only in private entries' texts
    corpus: object  # a :class:`hubbleclip.search.corpus.Corpus` of the private entries and their twins
    private_images: dict[str, bytes]  # private image id -> original file bytes
    near_images: list[str]  # public images of the same objects, and the private images' neighbours

    @classmethod
    def from_engine(cls, engine, neighbours: int = 3) -> Targets:
        """From a mixed :class:`hubbleclip.web.engine.SkyEngine` (private: hidden from anonymous)."""
        view = engine.view(ANONYMOUS)
        c = engine.searcher.index.corpus
        hidden = np.flatnonzero(~view.objects)
        shared = {c.object_id[i] for i in hidden}
        twins = [i for i in range(len(c)) if c.object_id[i] in shared]
        names = sorted({n for i in twins for n in [*c.names[i], *c.identifiers[i]]})
        public_names = {n for i in np.flatnonzero(view.objects) for n in c.names[i]}
        texts = c.bm25_texts()
        seen = {w for i in np.flatnonzero(view.objects) for w in _words(texts[i])}
        words = sorted({w for i in hidden for w in _words(texts[i])} - seen)
        space = engine.space
        private_rows = np.flatnonzero(~view.space)
        images = {space.ids[r]: engine.store.original(space.ids[r])[0] for r in private_rows}
        near = {
            space.ids[r] for r in np.flatnonzero(view.space) if _object_of(engine, space.ids[r]) in shared
        }
        for r in private_rows:  # the public images a private copy would crowd out
            sims = np.where(view.space, space.embeddings @ space.embeddings[r], -np.inf)
            near |= {space.ids[j] for j in np.argsort(-sims, kind="stable")[:neighbours]}
        return cls(
            names=names,
            private_names=sorted({n for i in hidden for n in c.names[i]} - public_names),
            types=sorted({c.type[i] for i in twins}),
            words=words,
            corpus=_subset(c, twins),
            private_images=images,
            near_images=sorted(near),
        )


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]{4,}", text.lower()))


def _object_of(engine, image_id: str) -> str:
    return engine.store.meta(image_id)["object_id"]


def _subset(corpus, rows: list[int]):
    """The corpus entries ``rows``, every per-entry field taken alike."""
    values = {}
    for f in dataclasses.fields(corpus):
        column = getattr(corpus, f.name)
        if isinstance(column, np.ndarray):
            values[f.name] = column[rows]
        else:
            values[f.name] = [column[i] for i in rows] if len(column) else column
    return type(corpus)(**values)


# --- text queries -----------------------------------------------------------------------------------


def spelling(name: str, rng: random.Random) -> str:
    """``name`` as people type it: case, spacing, zero padding, ``Messier 57`` for ``M57``."""
    forms = [name, name.lower(), name.upper(), name.replace(" ", "")]
    m = re.fullmatch(r"([A-Za-z]+)\s*0*(\d+)", name)
    if m:
        word, number = m.groups()
        forms += [f"{word} {number.zfill(4)}", f"{word}{number.zfill(3)}", f"{word.lower()} {number}"]
        if word.upper() == "M":
            forms += [f"Messier {number}", f"messier{number}", f"m {number}"]
    return rng.choice(forms)


def typo(text: str, rng: random.Random) -> str:
    """One or two edits of ``text``: deletion, insertion, substitution or a swap of neighbours."""
    chars = list(text)
    for _ in range(rng.choice((1, 1, 2))):
        i = rng.randrange(len(chars))
        op = rng.choice(("delete", "insert", "substitute", "swap"))
        letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
        if op == "delete" and len(chars) > 2:
            del chars[i]
        elif op == "insert":
            chars.insert(i, letter)
        elif op == "substitute":
            chars[i] = letter
        elif i + 1 < len(chars):
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


def position(ra: float, dec: float, rng: random.Random) -> str:
    """A position near (ra, dec) in degrees or sexagesimal, sometimes with a radius."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    ra = (ra + rng.uniform(-0.01, 0.01)) % 360.0
    dec = max(-90.0, min(90.0, dec + rng.uniform(-0.01, 0.01)))
    coord = SkyCoord(ra * u.deg, dec * u.deg)
    text = rng.choice(
        (
            f"{ra:.4f} {dec:.4f}",
            f"{ra:.3f}, {dec:+.3f}",
            f"ra={ra:.4f} dec={dec:+.4f}",
            coord.to_string("hmsdms", sep=" ", precision=1),
            coord.to_string("hmsdms", sep=":", precision=1),
            coord.to_string("hmsdms", precision=1),
        )
    )
    return text + rng.choice(("", "", " within 30'", " r=0.5deg", " within 2 deg", ' 30"', " within 10 deg"))


def text_queries(targets: Targets, n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` seeded (kind, text) queries about the private rows, the kinds generator's among them."""
    rng = random.Random(seed)
    c = targets.corpus
    resolver = NameResolver.from_corpus(c)
    out = [(q.kind.split(":")[0], q.text) for q in generate_kind_queries(c, resolver, max(2, n // 40), seed)]
    placed = [i for i in range(len(c)) if math.isfinite(c.ra_deg[i]) and math.isfinite(c.dec_deg[i])]
    draws = {
        "name": lambda: rng.choice(("{}", "{}", "where is {}", "{} position", "find the {}")).format(
            spelling(rng.choice(targets.names), rng)
        ),
        "typo": lambda: typo(rng.choice(targets.private_names or targets.names), rng),
        "cone": lambda: position(float(c.ra_deg[i := rng.choice(placed)]), float(c.dec_deg[i]), rng),
        "near": lambda: rng.choice(("near {}", "objects near {}", "what is near {} within 2 deg")).format(
            spelling(rng.choice(targets.names), rng)
        ),
        "brightness": lambda: rng.choice(
            ("brightest {}", "bright {}", "faintest {}", "{} brighter than mag 9", "naked-eye {}")
        ).format(plural(rng.choice(targets.types))),
        "field": lambda: rng.choice(('type:"{}" mag<9', 'type:"{}"', 'type:"{}" con:And')).format(
            rng.choice(targets.types)
        ),
        "words": lambda: " ".join(rng.sample(targets.words, min(len(targets.words), rng.choice((1, 2))))),
        "free": lambda: f"{rng.choice(targets.words)} {plural(rng.choice(targets.types))}",
    }
    kinds = [k for k in draws if k not in ("words", "free") or targets.words]
    while len(out) < n:
        kind = kinds[len(out) % len(kinds)]
        text = draws[kind]().strip()
        if text:
            out.append((kind, text))
    return out[:n]


# --- requests -----------------------------------------------------------------------------------------


def web_asks(targets: Targets, n: int, seed: int, own: list[str] = ()) -> list[Ask]:
    """``n`` requests over every web route that returns rows (text searches the rest of the
    similar, clusters, image and upload requests); ``own``: private image ids the
    caller may see (asked like public ones)."""
    rng = random.Random(seed + 1)
    near = targets.near_images
    private = sorted(targets.private_images)
    asks = [
        Ask("GET /api/search", kind, "GET", "/api/search", params={"q": q, "k": rng.choice((5, 24, 100))})
        for kind, q in text_queries(targets, max(1, n - n // 8 - n // 16 - n // 8 - len(private)), seed)
    ]
    for _ in range(max(1, n // 8)):
        query = rng.choice([*near, *own, spelling(rng.choice(targets.names), rng)])
        body = {"image_id": query, "offset": rng.choice((0, 0, 3)), "limit": rng.choice((5, 24, 200))}
        if rng.random() < 0.4 and len(near + private) > 1:  # refine with a selection, forged ids too
            body["selected"] = rng.sample(near + private, rng.choice((1, 2)))
        asks.append(
            Ask(
                "POST /api/similar",
                "refine" if "selected" in body else "similar",
                "POST",
                "/api/similar",
                json=body,
            )
        )
    for _ in range(max(1, n // 16)):
        body = {
            "image_id": rng.choice([*near, *private[:2], spelling(rng.choice(targets.names), rng)]),
            "n_clusters": rng.choice((2, 3, 4)),
            "n_members": rng.choice((3, 10)),
            "pool": rng.choice((10, 40, 1000)),
        }
        asks.append(Ask("POST /api/clusters", "clusters", "POST", "/api/clusters", json=body))
    for _ in range(max(1, n // 8)):
        image_id = rng.choice([*near, *private, "nonexistent:image"])
        size = rng.choice(("thumb", "full"))
        asks.append(Ask("GET /api/images", "image", "GET", f"/api/images/{image_id}", params={"size": size}))
    for data in targets.private_images.values():  # every private image uploaded as a query
        asks.append(Ask("POST /api/search/image", "upload", "POST", "/api/search/image", content=data))
    return asks


def cli_asks(targets: Targets, n: int, seed: int, access: str = "public") -> list[Ask]:
    """About ``n`` CLI commands: ``search`` (text and ``--image``) and ``similar`` (ids, names,
    selections, image files); uploads are ``{uploads}/<n>.png`` (``write_uploads``)."""
    rng = random.Random(seed + 2)
    acc = ("--access", access)
    asks = [
        Ask("cli search", kind, argv=("search", q, "--index", "{index}", "--json", "-k", "20", *acc))
        for kind, q in text_queries(targets, max(1, n // 2), seed + 3)
    ]
    for n_upload in range(len(targets.private_images)):
        argv = ("search", "--image", f"{{uploads}}/{n_upload}.png", "--index", "{index}", "--json", *acc)
        asks.append(Ask("cli search", "upload", argv=argv))
    similar = ("--index", "{similarity}", "--json", "--sheet", "", "--pool", "40", *acc)
    for _ in range(max(1, n // 4)):
        query = rng.choice(targets.near_images + [spelling(rng.choice(targets.names), rng)])
        extra = ("--select", rng.choice(targets.near_images)) if rng.random() < 0.3 else ()
        argv = ("similar", query, *extra, "--clusters", str(rng.choice((0, 2, 3))), *similar)
        asks.append(Ask("cli similar", "refine" if extra else "similar", argv=argv))
    for n_upload in range(len(targets.private_images)):
        asks.append(Ask("cli similar", "upload", argv=("similar", f"{{uploads}}/{n_upload}.png", *similar)))
    return asks


def write_uploads(targets: Targets, folder: Path) -> Path:
    """The private images as files ``0.png``, ``1.png``, ... for the CLI's image queries."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, data in enumerate(targets.private_images.values()):
        Image.open(io.BytesIO(data)).save(folder / f"{n}.png")
    return folder


# --- answers and their comparison ---------------------------------------------------------------------


def first_difference(a, b, rel: float = 1e-6, where: str = "") -> str | None:
    """Where two JSON answers differ (None: equal): keys, lists and strings exactly, numbers to
    ``rel`` relative (at least ``rel`` absolute, for scores near 0), NaN equal to NaN."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = (set(a) | set(b)) - IGNORED_KEYS
        for key in sorted(keys):
            if key not in a or key not in b:
                return f"{where}.{key}: only on one side"
            found = first_difference(a[key], b[key], rel, f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where}: {len(a)} items against {len(b)}"
        for n, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, rel, f"{where}[{n}]")
            if found:
                return found
        return None
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool):
        if math.isnan(a) and math.isnan(b):
            return None
        if abs(a - b) <= rel * max(1.0, abs(a), abs(b)):
            return None
        return f"{where}: {a!r} against {b!r}"
    return None if a == b else f"{where}: {str(a)[:80]!r} against {str(b)[:80]!r}"


def web_answer(client, ask: Ask, headers: dict) -> dict:
    """A response as a comparable dict: status, media type and JSON body, or the bytes' digest."""
    import hashlib

    if ask.content is not None:
        headers = {**headers, "Content-Type": "image/png"}
    r = client.request(
        ask.method, ask.path, params=ask.params, json=ask.json, content=ask.content, headers=headers
    )
    media = r.headers.get("content-type", "")
    body = r.json() if "json" in media else hashlib.sha256(r.content).hexdigest()
    return {"status": r.status_code, "media": media, "cache": r.headers.get("cache-control"), "body": body}


def cli_answer(ask: Ask, dirs: dict[str, str]) -> dict:
    """``hubbleclip ARGV`` in-process: exit code, JSON output (or the error), with the side's own
    directories written as placeholders (``DATASET::split:row (id)`` pointers keep only the id)."""
    from hubbleclip.cli import main

    argv = [a.format(**dirs) for a in ask.argv]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    text = out.getvalue() if code == 0 else err.getvalue()
    for name, path in dirs.items():
        text = text.replace(path, "{" + name + "}")
    text = re.sub(r'"[^"]*::\w+:\d+ \(([^)"]*)\)"', r'"\1"', text)
    return {"code": code, "body": json.loads(text) if code == 0 else text.strip()}


@dataclass
class Tally:
    """Answers compared and differences, per route; the first few differences spelled out."""

    compared: Counter = field(default_factory=Counter)
    differ: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    rel: float = 1e-6

    def add(self, ask: Ask, mixed: dict, view: dict) -> None:
        self.compared[ask.route] += 1
        found = first_difference(mixed, view, self.rel)
        if found:
            self.differ[ask.route] += 1
            if len(self.examples) < 20:
                self.examples.append(f"{ask.describe()}: {found}")

    def web(self, asks: list[Ask], mixed, view, headers: dict | None = None) -> Tally:
        for ask in asks:
            self.add(ask, web_answer(mixed, ask, headers or {}), web_answer(view, ask, headers or {}))
        return self

    def cli(self, asks: list[Ask], mixed: dict[str, str], view: dict[str, str]) -> Tally:
        for ask in asks:
            self.add(ask, cli_answer(ask, mixed), cli_answer(ask, view))
        return self

    def to_dict(self) -> dict:
        return {
            route: {"compared": self.compared[route], "differences": self.differ[route]}
            for route in sorted(self.compared)
        }

    def table(self, title: str) -> str:
        rows = [
            f"{title}: {sum(self.compared.values())} answers compared, {sum(self.differ.values())} differ"
        ]
        rows += [
            f"  {r:<24} {v['compared']:6d} compared {v['differences']:6d} differ"
            for r, v in self.to_dict().items()
        ]
        return "\n".join(rows + [f"  e.g. {e}" for e in self.examples[:5]])


# --- worlds -------------------------------------------------------------------------------------------


def build_indexes(data: str, out: Path, model: str, encoder) -> dict[str, str]:
    """A retrieval index of the dataset ``data`` built with ``encoder`` (give every side the same
    :class:`MemoEncoder`, so identical rows get identical vectors) and a similarity index (one image
    at a time, for the same reason), under ``out``."""
    from hubbleclip.search.config import SearchIndexConfig
    from hubbleclip.search.index import build_retrieval_index
    from hubbleclip.similarity.config import SimilarityIndexConfig
    from hubbleclip.similarity.index import build_similarity_index

    dirs = {"dataset": data, "index": str(out / "index"), "similarity": str(out / "similarity")}
    build_retrieval_index(SearchIndexConfig(dataset=data, model=model, out=dirs["index"]), encoder)
    build_similarity_index(
        SimilarityIndexConfig(
            dataset=data, encoder=model, out=dirs["similarity"], batch_size=1, cache_dir=str(out / "cache")
        )
    )
    return dirs


def build_view(mixed: str, viewer: Viewer, today, out: Path, model: str, encoder) -> dict[str, str]:
    """The rows of the dataset ``mixed`` that ``viewer`` may see on ``today``, saved under ``out``
    with their indexes (:func:`build_indexes`)."""
    import datasets

    dd = datasets.load_from_disk(mixed)
    kept = {}
    for split, ds in dd.items():
        access = AccessTable.from_rows(ds["release_date"], ds["program_id"])
        kept[split] = ds.select(np.flatnonzero(access.mask(viewer, to_day(today))))
    datasets.DatasetDict(kept).save_to_disk(str(out / "dataset"))
    return build_indexes(str(out / "dataset"), out, model, encoder)


class MemoEncoder:
    """The retrieval encoder, remembering each text's and image's vector: a view's index then gets
    exactly the vectors of the same rows in the mixed index (a different batch composition would
    otherwise add last-bit float noise and blur the comparison)."""

    def __init__(self, encoder):
        self.encoder, self.spec = encoder, encoder.spec
        self.memo: dict = {}

    def _embed(self, keys, items, fn) -> np.ndarray:
        missing = {k: item for k, item in zip(keys, items) if k not in self.memo}
        if missing:
            for k, v in zip(missing, fn(list(missing.values()))):
                self.memo[k] = v
        return np.stack([self.memo[k] for k in keys]) if keys else np.zeros((0, 1), np.float32)

    def embed_texts(self, texts):
        texts = list(texts)
        return self._embed([("text", t) for t in texts], texts, self.encoder.embed_texts)

    def embed_images(self, images):
        images = list(images)
        keys = [("image", image_key(im)) for im in images]
        return self._embed(keys, images, self.encoder.embed_images)


def nudged(png: bytes) -> bytes:
    """The image with one pixel changed: a private near-copy, the public image's nearest neighbour."""
    im = Image.open(io.BytesIO(png)).convert("RGB")
    r, g, b = im.getpixel((0, 0))
    im.putpixel((0, 0), ((r + 1) % 256, g, b))
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


def add_private_rows(
    rows: list[dict], fraction: float, image_fraction: float, release: dict, seed: int
) -> list[dict]:
    """Private rows for a seeded ``image_fraction`` of the image rows of ``rows`` (dicts of the
    skyset columns, images undecoded) and ``fraction`` of the others: a near-copy of each chosen
    image, or a renamed copy of a chosen catalog row, under a unique name, in the programs of
    ``release`` (program -> release date) in turn."""
    rng = random.Random(seed)
    programs = sorted(release)
    out = []
    for row in rows:
        if rng.random() >= (image_fraction if row["image"] else fraction):
            continue
        program = programs[len(out) % len(programs)]
        n = len(out) + 1
        image = row["image"] and {"bytes": nudged(row["image"]["bytes"]), "path": None}
        out.append(
            row
            | {
                "id": f"private:{program}:{n}:{row['id']}",
                "image": image,
                "names": [f"Quixotl {program}{n}"],
                "text": f"Quixotl {program}{n}: {PRIVATE_CAPTION} of {row['text']}",
                "caption": f"quixotl {PRIVATE_CAPTION}, program {program}",
                "release_date": release[program],
                "program_id": program,
            }
        )
    return out
