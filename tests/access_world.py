"""A dataset that mixes public and proprietary rows, with indexes over it and over its public rows
alone, for the leak tests (imported by test modules like tests/fake_services.py).

Proprietary rows are near-copies (one pixel changed) of public Stellarium and FIRST images, so
they are the nearest neighbours of public images, plus a catalog-only object; all carry the secret
word ``zorblax`` in their names and texts.  Program ``A`` is released on 2030-06-01, program
``B`` on 2031-01-01; the injected clock starts at 2030-01-01.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness.differential import MemoEncoder, nudged

TODAY = dt.date(2030, 1, 1)
RELEASE = {"A": dt.date(2030, 6, 1), "B": dt.date(2031, 1, 1)}
SECRET = "zorblax"
PRIVATE_STEMS = ("m31", "m42", "m57dumont", "m51-vasey", "n7293", "m13")


class Clock:
    """A settable UTC 'today' for :class:`hubbleclip.access.policy.AccessPolicy`."""

    def __init__(self, today: dt.date = TODAY):
        self.today = today

    def __call__(self) -> dt.date:
        return self.today


@dataclass
class World:
    root: Path
    mixed: str  # dataset with public and private rows
    public: str  # the same public rows only (the tiny skyset)
    index: dict[str, str]  # "mixed"/"public" -> retrieval index dir
    similarity: dict[str, str]  # "mixed"/"public" -> similarity index dir
    tokens_file: str
    tokens: dict[str, str]  # "A", "B", "all" -> bearer token
    private: dict[str, dict] = field(default_factory=dict)  # private row id -> row (with image bytes)
    encoder: MemoEncoder | None = None  # the indexes' encoder: more views get the same vectors

    def private_ids(self, program: str | None = None) -> list[str]:
        return sorted(i for i, r in self.private.items() if program in (None, r["program_id"]))

    def private_images(self) -> dict[str, bytes]:
        return {i: r["image"]["bytes"] for i, r in self.private.items() if r["image"] is not None}


def build_world(tiny_skyset: str, root: Path, model: str) -> World:
    import datasets

    from hubbleclip.access.tokens import add_token
    from hubbleclip.data.schema import COLUMNS, FEATURES
    from hubbleclip.models.embed import ClipEncoder
    from hubbleclip.search.config import SearchIndexConfig
    from hubbleclip.search.index import build_retrieval_index
    from hubbleclip.similarity.config import SimilarityIndexConfig
    from hubbleclip.similarity.index import build_similarity_index

    dd = datasets.load_from_disk(tiny_skyset)
    splits = {s: dd[s].cast_column("image", datasets.Image(decode=False)).to_list() for s in dd}
    private: dict[str, dict] = {}
    n = 0
    for split, rows in splits.items():
        extra = []
        for row in rows:
            stem = row["id"].split(":", 1)[1]
            wanted = (row["source"] == "stellarium" and stem in PRIVATE_STEMS) or (
                row["source"] == "first" and not any(r["source"] == "first" for r in private.values())
            )
            if not wanted:
                continue
            program = "AB"[n % 2]
            n += 1
            extra.append(
                row
                | {
                    "id": f"secret:{program}:{stem}",
                    "image": {"bytes": nudged(row["image"]["bytes"]), "path": None},
                    "names": [f"Zorblax {program}{n}"],
                    "text": f"Zorblax {program}{n}: proprietary {SECRET} observation of {row['text']}",
                    "caption": f"{SECRET} quasar jet; proprietary program {program}",
                    "credit": f"{SECRET} team",
                    "release_date": RELEASE[program],
                    "program_id": program,
                }
            )
        if split == "train":
            extra.append(
                {
                    "id": "secret:A:catalog",
                    "source": "openngc",
                    "image": None,
                    "object_id": "SECRET-OBJ-1",
                    "names": ["Zorblax Nebula", "ZRB 1"],
                    "type": "emission nebula",
                    "ra_deg": 10.7,
                    "dec_deg": 41.3,
                    "mag": 4.0,
                    "text": f"The Zorblax Nebula is a proprietary {SECRET} emission nebula near M31.",
                    "caption": f"bright {SECRET} emission nebula in Andromeda",
                    "credit": "",
                    "release_date": RELEASE["A"],
                    "program_id": "A",
                }
            )
        for row in extra:
            private[row["id"]] = row
        rows.extend(extra)
    mixed = root / "mixed"
    datasets.DatasetDict(
        {
            s: datasets.Dataset.from_dict({c: [r[c] for r in rows] for c in COLUMNS}, features=FEATURES)
            for s, rows in splits.items()
        }
    ).save_to_disk(str(mixed))
    encoder = MemoEncoder(ClipEncoder(model))  # identical vectors for identical rows
    index, similarity = {}, {}
    for name, data in (("mixed", str(mixed)), ("public", tiny_skyset)):
        index[name] = str(root / f"index-{name}")
        build_retrieval_index(SearchIndexConfig(dataset=data, model=model, out=index[name]), encoder)
        similarity[name] = str(root / f"similarity-{name}")
        # one image at a time: a private row's vector never depends on its batch neighbours
        build_similarity_index(
            SimilarityIndexConfig(
                dataset=data,
                encoder=model,
                out=similarity[name],
                batch_size=1,
                cache_dir=str(root / "cache"),
            )
        )
    tokens_file = root / "tokens.json"
    tokens = {p: add_token(tokens_file, f"program-{p}", p) for p in ("A", "B")}
    tokens["all"] = add_token(tokens_file, "staff", "all")
    return World(root, str(mixed), tiny_skyset, index, similarity, str(tokens_file), tokens, private, encoder)
