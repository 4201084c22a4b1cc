"""Graded text queries generated from catalog facts, by a fixed, seeded procedure.

``generate_queries(corpus, seed)`` writes four kinds of query (every choice below is drawn with
``random.Random(seed)`` from lists sorted by object id, so the same corpus and seed give the
same file):

* **name** (30): a common name (no digits) of a deep-sky object (22) or a named bright star (8), in one of a
  few phrasings ("where is the ...", lower case or not).  Grade 5: every object carrying that
  name; 3: other objects within 30 arcmin (same field); 2: same type in the same constellation.
* **type_constellation** (16): "<types> in <constellation>" for (type, constellation) pairs with
  3-60 members.  Grade 5: member that is bright (V ≤ 10) or well known (Messier number or a
  common name); 4: other members; 2: same type family in that constellation.
* **bright_type** (10): "bright / brightest / naked-eye <types>" (magnitude limits 9 / 8 / 6) for
  types with at most 700 objects.  Grade 5: that type within the limit; 4: up to 2 mag fainter;
  2: fainter or no magnitude.
* **use_case** (8): the science use case of a type ("objects to study <use case>").  Grade 5: a
  bright or well-known member; 4: other members, and members of any type the use case names
  outright ("interacting galaxies, galaxy groups" makes galaxy groups relevant).

Unlisted objects have grade 1 (not relevant).  Every third query of each kind (by id) is
``split: "test"``, held out from training; the rest are ``"train"``.  Queries are reported as
"name" (the name kind) or "descriptive" (the others).
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hubbleclip.data.load import load_dataset_dict
from hubbleclip.data.text import USE_CASES
from hubbleclip.errors import UserError
from hubbleclip.io import atomic_write_json
from hubbleclip.retrieval.corpus import Corpus, corpus_from_dataset
from hubbleclip.retrieval.index import dataset_fingerprint
from hubbleclip.retrieval.relevance import separation_arcsec
from hubbleclip.retrieval.text import plural, tokenize, type_family, type_mention

FORMAT, VERSION = "hubbleclip-text-queries", 1
SKIP_TYPES = {"galaxy", "other", "star", "nonexistent", "duplicate", "deep field source", "double star"}
COUNTS = {"name_deep_sky": 22, "name_star": 8, "type_constellation": 16, "bright_type": 10, "use_case": 8}
BRIGHT = (("bright {t}", 9.0), ("brightest {t}", 8.0), ("naked-eye {t}", 6.0))
NAME_TEMPLATES = ("{n}", "where is the {n}", "{n} position", "find the {n}")
STAR_TEMPLATES = ("{n}", "where is {n}", "the star {n}")
TYPE_CONST_TEMPLATES = ("{t} in {c}", "{t} in the constellation {c}", "show me {t} in {c}")


@dataclass
class TextQuery:
    id: str
    text: str
    kind: str  # name | type_constellation | bright_type | use_case
    split: str  # train | test
    judgments: dict[str, int]  # object_id -> grade 2-5 (unlisted: 1)

    @property
    def group(self) -> str:
        return "name" if self.kind == "name" else "descriptive"


def common_names(names: list[str]) -> list[str]:
    """Names that are words, not catalogue designations ("Ring Nebula", not "M57" or "MWSC 3171")."""
    return [n for n in names if not re.search(r"\d", n) and len(n) > 2]


def _famous(corpus: Corpus, i: int) -> bool:
    mag = float(corpus.mag[i])
    return (
        (math.isfinite(mag) and mag <= 10.0)
        or any(re.fullmatch(r"M\d+", n) for n in corpus.names[i])
        or bool(common_names(corpus.names[i]))
    )


def _name_queries(corpus: Corpus, rng: random.Random, xyz: np.ndarray) -> list[tuple[str, str, dict]]:
    by_name: dict[str, set[int]] = defaultdict(set)
    for i, names in enumerate(corpus.names):
        if corpus.source[i] not in ("openngc", "stellarium", "star"):
            continue
        for n in common_names(names):
            by_name[n.lower()].add(i)
    deep = sorted(n for n, objs in by_name.items() if all(corpus.source[i] != "star" for i in objs))
    stars = sorted(n for n, objs in by_name.items() if all(corpus.source[i] == "star" for i in objs))
    out = []
    for pool, count, templates in (
        (deep, COUNTS["name_deep_sky"], NAME_TEMPLATES),
        (stars, COUNTS["name_star"], STAR_TEMPLATES),
    ):
        for name in rng.sample(pool, min(count, len(pool))):
            targets = sorted(by_name[name])
            first = targets[0]
            shown = next(n for n in corpus.names[first] if n.lower() == name)
            shown = shown.lower() if rng.random() < 0.5 else shown
            template = rng.choice(templates)
            if shown.lower().startswith("the "):
                template = template.replace("the {n}", "{n}")
            judgments = {}
            near = np.flatnonzero(separation_arcsec(xyz, xyz[first]) <= 1800.0)
            for j in range(len(corpus)):
                if (
                    corpus.type[j] == corpus.type[first]
                    and corpus.constellation[j] == corpus.constellation[first]
                ):
                    judgments[j] = 2
            for j in near:
                judgments[int(j)] = 3
            for j in targets:
                judgments[j] = 5
            out.append(("name", template.format(n=shown), judgments))
    return out


def _members(corpus: Corpus) -> dict[str, list[int]]:
    members = defaultdict(list)
    for i, label in enumerate(corpus.type):
        if corpus.source[i] != "star":
            members[label].append(i)
    return members


def _type_constellation_queries(corpus: Corpus, rng: random.Random) -> list[tuple[str, str, dict]]:
    groups = defaultdict(list)
    for i, (label, const) in enumerate(zip(corpus.type, corpus.constellation)):
        if label not in SKIP_TYPES and corpus.source[i] in ("openngc", "stellarium"):
            groups[(label, const)].append(i)
    eligible = sorted(k for k, v in groups.items() if 3 <= len(v) <= 60)
    out = []
    for label, const in rng.sample(eligible, min(COUNTS["type_constellation"], len(eligible))):
        family = type_family(label)
        judgments = {
            j: 2
            for j in range(len(corpus))
            if corpus.constellation[j] == const and family and type_family(corpus.type[j]) == family
        }
        for j in groups[(label, const)]:
            judgments[j] = 5 if _famous(corpus, j) else 4
        text = rng.choice(TYPE_CONST_TEMPLATES).format(t=plural(label), c=const)
        out.append(("type_constellation", text, judgments))
    return out


def _bright_type_queries(
    corpus: Corpus, rng: random.Random, members: dict[str, list[int]]
) -> list[tuple[str, str, dict]]:
    options = []
    for label in sorted(members):
        if label in SKIP_TYPES or len(members[label]) > 700:
            continue
        mags = corpus.mag[members[label]]
        for template, limit in BRIGHT:
            if int((mags <= limit).sum()) >= 3:
                options.append((label, template, limit))
    out = []
    for label, template, limit in rng.sample(options, min(COUNTS["bright_type"], len(options))):
        judgments = {}
        for j in members[label]:
            mag = float(corpus.mag[j])
            judgments[j] = 5 if mag <= limit else 4 if mag <= limit + 2 else 2
        out.append(("bright_type", template.format(t=plural(label)), judgments))
    return out


def _use_case_queries(
    corpus: Corpus, rng: random.Random, members: dict[str, list[int]]
) -> list[tuple[str, str, dict]]:
    labels = sorted(
        t for t in members if t in USE_CASES and t not in SKIP_TYPES and 20 <= len(members[t]) <= 700
    )
    out = []
    for label in rng.sample(labels, min(COUNTS["use_case"], len(labels))):
        text = f"objects to study {USE_CASES[label]}"
        tokens = tokenize(text)
        # types the use case names outright ("... galaxy groups") are relevant too
        judgments = {
            j: 4 for t, objs in members.items() if t != label and type_mention(tokens, t) == 1.0 for j in objs
        }
        for j in members[label]:
            judgments[j] = 5 if _famous(corpus, j) else 4
        out.append(("use_case", text, judgments))
    return out


def generate_queries(corpus: Corpus, seed: int = 0) -> list[TextQuery]:
    rng = random.Random(seed)
    members = _members(corpus)
    raw = (
        _name_queries(corpus, rng, corpus.unit_vectors())
        + _type_constellation_queries(corpus, rng)
        + _bright_type_queries(corpus, rng, members)
        + _use_case_queries(corpus, rng, members)
    )
    queries, per_kind = [], defaultdict(int)
    for kind, text, judgments in raw:
        n = per_kind[kind]
        per_kind[kind] += 1
        queries.append(
            TextQuery(
                id=f"{kind}-{n:03d}",
                text=text,
                kind=kind,
                split="test" if n % 3 == 2 else "train",
                judgments={corpus.object_id[j]: int(g) for j, g in sorted(judgments.items())},
            )
        )
    return queries


def save_queries(queries: list[TextQuery], path: str | Path, seed: int, source: str) -> Path:
    return atomic_write_json(
        path,
        {
            "format": FORMAT,
            "version": VERSION,
            "seed": seed,
            "source": source,
            "procedure": "hubbleclip.retrieval.queries.generate_queries (see its docstring)",
            "queries": [asdict(q) for q in queries],
        },
        indent=1,
    )


def default_queries_path() -> Path:
    return Path(__file__).resolve().parent.parent / "resources" / "queries" / "text_queries.json"


def load_queries(path: str | Path | None = None) -> list[TextQuery]:
    path = Path(path) if path else default_queries_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: query file not found (regenerate it with data_prep/make_queries.py)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from exc
    if (
        not isinstance(data, dict)
        or data.get("format") != FORMAT
        or not isinstance(data.get("queries"), list)
    ):
        raise UserError(f'{path}: expected {{"format": "{FORMAT}", "queries": [...]}}')
    out = []
    for i, q in enumerate(data["queries"]):
        try:
            out.append(
                TextQuery(
                    id=str(q["id"]),
                    text=str(q["text"]),
                    kind=str(q["kind"]),
                    split=str(q["split"]),
                    judgments={str(k): int(v) for k, v in q["judgments"].items()},
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UserError(
                f"{path}: queries[{i}] malformed ({exc}); expected id, text, kind, split, judgments"
            ) from exc
    return out


def make_queries_file(
    dataset: str | Path, out: str | Path | None = None, seed: int = 0, include_stars: bool = True
) -> tuple[Path, list[TextQuery]]:
    """Regenerate the query file from a skyset (plus the named stars), as the index corpus sees it."""
    dsd = load_dataset_dict(dataset)
    queries = generate_queries(corpus_from_dataset(dsd, include_stars=include_stars), seed)
    path = save_queries(
        queries,
        out or default_queries_path(),
        seed,
        source=f"skyset fingerprint {dataset_fingerprint(dsd)}, stars {'on' if include_stars else 'off'}",
    )
    return path, queries
