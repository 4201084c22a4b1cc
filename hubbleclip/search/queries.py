"""Graded text queries generated from catalog facts, by a fixed, seeded procedure.

``generate_queries(corpus, seed)`` writes four kinds of query (every choice below is drawn with
``random.Random(seed)`` from lists sorted by object id, so the same corpus and seed give the
same file; ``COUNTS`` caps each kind, a small pool caps it lower, see ``eligible_counts``):

* **name**: a common name (no digits) of a deep-sky object or a named bright star, in one of a
  few phrasings ("where is the ...", lower case or not).  Grade 5: every object carrying that
  name; 3: other objects within 30 arcmin (same field); 2: same type in the same constellation.
* **type_constellation**: "<types> in <constellation>" for (type, constellation) pairs with
  3-60 members.  Grade 5: member that is bright (V ≤ 10) or well known (Messier number or a
  common name); 4: other members; 2: same type family in that constellation.
* **bright_type**: "bright / brightest / naked-eye <types>" (magnitude limits 9 / 8 / 6) for
  types with at most 700 objects.  Grade 5: that type within the limit; 4: up to 2 mag fainter;
  2: fainter or no magnitude.
* **use_case**: the science use case of a type ("objects to study <use case>").  Grade 5: a
  bright or well-known member; 4: other members, and members of any type the use case names
  outright ("interacting galaxies, galaxy groups" makes galaxy groups relevant).

Unlisted objects have grade 1 (not relevant).  **Held-out split, by object** (so the ranker never
trains on a query whose relevant objects, grade ≥ 4, are a held-out query's): a seeded choice of
``HELD_OUT_FRACTION`` of the constellations and of the query types is held out.

* location kinds (name, type_constellation): ``split: "test"`` when all the query's relevant
  objects lie in held-out constellations, ``"train"`` when none does;
* type kinds (bright_type, use_case): ``"test"`` when all its relevant objects are of held-out
  types, ``"train"`` when none is;
* a query that straddles (some relevant objects held out, some not) is dropped.

So within a family a test query's relevant objects are never relevant in a training query.
Across families they can be: a held-out "Ring Nebula" (Lyra held out) is a planetary nebula, a
type that may train "bright planetary nebulae".  ``cross_family_overlap`` measures that share.
Queries are reported as "name" (the name kind) or "descriptive" (the others).
"""

from __future__ import annotations

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
from hubbleclip.io import atomic_write_json, read_json
from hubbleclip.metrics.graded import RELEVANT_GRADE
from hubbleclip.search.corpus import Corpus, corpus_from_dataset
from hubbleclip.search.index import dataset_fingerprint
from hubbleclip.search.relevance import separation_arcsec
from hubbleclip.search.text import plural, tokenize, type_family, type_mention

FORMAT, VERSION = "hubbleclip-text-queries", 2
SKIP_TYPES = {"galaxy", "other", "star", "nonexistent", "duplicate", "deep field source", "double star"}
COUNTS = {"name_deep_sky": 150, "name_star": 40, "type_constellation": 120, "bright_type": 22, "use_case": 14}
FAMILY = {"name": "location", "type_constellation": "location", "bright_type": "type", "use_case": "type"}
HELD_OUT_FRACTION = 0.4
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

    @property
    def relevant_objects(self) -> set[str]:
        """Object ids judged relevant (grade >= RELEVANT_GRADE)."""
        return {o for o, g in self.judgments.items() if g >= RELEVANT_GRADE}


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


def _name_pools(corpus: Corpus) -> tuple[dict[str, set[int]], list[str], list[str]]:
    by_name: dict[str, set[int]] = defaultdict(set)
    for i, names in enumerate(corpus.names):
        if corpus.source[i] not in ("openngc", "stellarium", "star"):
            continue
        for n in common_names(names):
            by_name[n.lower()].add(i)
    deep = sorted(n for n, objs in by_name.items() if all(corpus.source[i] != "star" for i in objs))
    stars = sorted(n for n, objs in by_name.items() if all(corpus.source[i] == "star" for i in objs))
    return by_name, deep, stars


def _name_queries(corpus: Corpus, rng: random.Random, xyz: np.ndarray) -> list[tuple[str, str, dict]]:
    by_name, deep, stars = _name_pools(corpus)
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


def _type_constellation_pool(corpus: Corpus) -> tuple[dict[tuple[str, str], list[int]], list]:
    groups = defaultdict(list)
    for i, (label, const) in enumerate(zip(corpus.type, corpus.constellation)):
        if label not in SKIP_TYPES and corpus.source[i] in ("openngc", "stellarium"):
            groups[(label, const)].append(i)
    return groups, sorted(k for k, v in groups.items() if 3 <= len(v) <= 60)


def _type_constellation_queries(corpus: Corpus, rng: random.Random) -> list[tuple[str, str, dict]]:
    groups, eligible = _type_constellation_pool(corpus)
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


def _bright_type_options(corpus: Corpus, members: dict[str, list[int]]) -> list[tuple[str, str, float]]:
    options = []
    for label in sorted(members):
        if label in SKIP_TYPES or len(members[label]) > 700:
            continue
        mags = corpus.mag[members[label]]
        for template, limit in BRIGHT:
            if int((mags <= limit).sum()) >= 3:
                options.append((label, template, limit))
    return options


def _bright_type_queries(
    corpus: Corpus, rng: random.Random, members: dict[str, list[int]]
) -> list[tuple[str, str, dict]]:
    options = _bright_type_options(corpus, members)
    out = []
    for label, template, limit in rng.sample(options, min(COUNTS["bright_type"], len(options))):
        judgments = {}
        for j in members[label]:
            mag = float(corpus.mag[j])
            judgments[j] = 5 if mag <= limit else 4 if mag <= limit + 2 else 2
        out.append(("bright_type", template.format(t=plural(label)), judgments))
    return out


def _use_case_labels(members: dict[str, list[int]]) -> list[str]:
    return sorted(
        t for t in members if t in USE_CASES and t not in SKIP_TYPES and 20 <= len(members[t]) <= 700
    )


def _use_case_queries(
    corpus: Corpus, rng: random.Random, members: dict[str, list[int]]
) -> list[tuple[str, str, dict]]:
    labels = _use_case_labels(members)
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


def eligible_counts(corpus: Corpus) -> dict[str, int]:
    """How many queries of each ``COUNTS`` entry the corpus can give (the pools before sampling)."""
    members = _members(corpus)
    _, deep, stars = _name_pools(corpus)
    return {
        "name_deep_sky": len(deep),
        "name_star": len(stars),
        "type_constellation": len(_type_constellation_pool(corpus)[1]),
        "bright_type": len(_bright_type_options(corpus, members)),
        "use_case": len(_use_case_labels(members)),
    }


def held_out_keys(corpus: Corpus, seed: int) -> dict[str, set[str]]:
    """The seeded held-out constellations (location kinds) and types (type kinds)."""
    rng = random.Random(f"held-out-{seed}")
    out = {}
    for family, values, skip in (
        ("location", corpus.constellation, set()),
        ("type", corpus.type, SKIP_TYPES),
    ):
        pool = sorted(set(values) - skip - {""})  # "": position unknown
        out[family] = set(rng.sample(pool, round(HELD_OUT_FRACTION * len(pool))))
    return out


def query_split(
    corpus: Corpus, kind: str, judgments: dict[int, int], held_out: dict[str, set[str]]
) -> str | None:
    """The query's split: "test", "train", or None when its relevant objects straddle held-out and kept."""
    family = FAMILY[kind]
    keys = corpus.constellation if family == "location" else corpus.type
    relevant = {keys[j] for j, g in judgments.items() if g >= RELEVANT_GRADE}
    inside = relevant & held_out[family]
    if relevant and inside == relevant:
        return "test"
    return None if inside else "train"


def generate_queries(corpus: Corpus, seed: int = 0) -> list[TextQuery]:
    rng = random.Random(seed)
    members = _members(corpus)
    held_out = held_out_keys(corpus, seed)
    raw = (
        _name_queries(corpus, rng, corpus.unit_vectors())
        + _type_constellation_queries(corpus, rng)
        + _bright_type_queries(corpus, rng, members)
        + _use_case_queries(corpus, rng, members)
    )
    queries, per_kind = [], defaultdict(int)
    for kind, text, judgments in raw:
        split = query_split(corpus, kind, judgments, held_out)
        if split is None:
            continue
        n = per_kind[kind]
        per_kind[kind] += 1
        queries.append(
            TextQuery(
                id=f"{kind}-{n:03d}",
                text=text,
                kind=kind,
                split=split,
                judgments={corpus.object_id[j]: int(g) for j, g in sorted(judgments.items())},
            )
        )
    return queries


def cross_family_overlap(queries: list[TextQuery]) -> dict[str, float]:
    """Per family: the share of test queries with a relevant object that is relevant in a training query
    (one of the other family: within a family the split keeps them apart)."""
    train_relevant = set().union(*(q.relevant_objects for q in queries if q.split == "train"))
    out = {}
    for family in sorted(set(FAMILY.values())):
        test = [q for q in queries if q.split == "test" and FAMILY[q.kind] == family]
        hit = [q for q in test if q.relevant_objects & train_relevant]
        out[family] = len(hit) / len(test) if test else 0.0
    return out


def save_queries(queries: list[TextQuery], path: str | Path, seed: int, source: str) -> Path:
    return atomic_write_json(
        path,
        {
            "format": FORMAT,
            "version": VERSION,
            "seed": seed,
            "source": source,
            "procedure": "hubbleclip.search.queries.generate_queries (see its docstring)",
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
    data = read_json(path)
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
) -> tuple[Path, list[TextQuery], dict[str, int]]:
    """Regenerate the query file from a skyset (plus the named stars), as the index corpus sees it;
    also returns ``eligible_counts`` of that corpus."""
    dsd = load_dataset_dict(dataset)
    corpus = corpus_from_dataset(dsd, include_stars=include_stars)
    queries = generate_queries(corpus, seed)
    path = save_queries(
        queries,
        out or default_queries_path(),
        seed,
        source=f"skyset fingerprint {dataset_fingerprint(dsd)}, stars {'on' if include_stars else 'off'}",
    )
    return path, queries, eligible_counts(corpus)
