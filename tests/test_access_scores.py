"""Scores an anonymous caller gets never count hidden rows: cone and catalogue queries that carry
free words are ranked with BM25 statistics of the visible rows only, exactly as an index built from
the public rows alone ranks them (issue 25, part 1)."""

from __future__ import annotations

import pytest
from access_world import Clock

# each reads as a cone or a catalogue (brightness, type) with words left for the ranker; the hidden
# rows' texts hold "observation" and the words of the public texts they copy
QUERIES = (
    "bright observation",
    "bright ring",
    "brightest galaxy observation",
    "observation near M42 5 deg",
    "andromeda observation near M31 10 deg",
    "ring observation near M57 20 deg",
)


@pytest.fixture(scope="module")
def searchers(access_world):
    from hubbleclip.search.searcher import Searcher

    return {name: Searcher.open(access_world.index[name]) for name in ("mixed", "public")}


def scored(result) -> list[tuple[str, float]]:
    return [(h.object_id, round(h.score, 5)) for h in result.hits]


@pytest.mark.parametrize("query", QUERIES)
def test_free_words_in_a_cone_or_catalogue_query_score_over_visible_rows_only(searchers, query):
    from hubbleclip.access.policy import ANONYMOUS, AccessPolicy

    mixed, public = searchers["mixed"], searchers["public"]
    visible = AccessPolicy(Clock()).visible(mixed.index.access, ANONYMOUS)
    assert not visible.all()  # the mixed index does hide rows from this caller
    a = mixed.search(text=query, k=50, visible=visible)
    b = public.search(text=query, k=50)
    assert "ranked by the learned ranker within these limits" in a.note, a.note  # the path under test
    assert a.hits, query
    assert scored(a) == scored(b)
