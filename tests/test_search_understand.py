"""The resolver stage of text search: designations, typos, positions, "near X", brightness and
query fields; parsers on their own, then searches over every OpenNGC object (``catalog_skyset``)."""

import re

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from rapidfuzz.distance import OSA

from hubbleclip.data.designations import name_key
from hubbleclip.search.brightness import parse_brightness
from hubbleclip.search.cone import cone
from hubbleclip.search.coordinates import Position, parse_position, take_radius
from hubbleclip.search.kinds_eval import EXAMPLES, expected_ids, passed
from hubbleclip.search.syntax import QuerySyntaxError, parse_fields, split_words

M51 = SkyCoord(202.4695833 * u.deg, 47.1952778 * u.deg)


@pytest.mark.parametrize(
    "spellings",
    [
        ("M 42", "M42", "Messier 42", "messier42", "m 42"),
        ("NGC 224", "NGC0224", "ngc224", "ngc 0224"),
        ("IC 434", "IC434", "ic 434"),
        ("UGC 00454", "ugc454", "UGC 454"),
        ("PGC 002557", "LEDA 2557", "pgc2557"),
        ("ESO 545-008", "eso 545-8"),
        ("MCG -07-28-004", "MCG-07-28-004", "mcg -7-28-4"),
        ("C 005", "Caldwell 5", "C5"),
        ("Eps Ori", "epsilon Orion", "ε Ori", "eps ori", "epsilon Orionis", "ε Orionis"),
        ("50 Cas", "50 Cassiopeia", "50 Cassiopeiae"),
        ("alf Cen", "alpha Centauri", "Alpha Cen", "α Centauri"),
        ("61 Cyg", "61 Cygni"),
        ("bet Cyg", "Beta Cygni", "β Cygni"),
        ("Tau CMa", "tau Canis Majoris", "τ CMa"),
        ("ω Cen Cluster", "omega Centauri cluster", "Ome Cen Cluster"),
        ("Sh2-155", "Sh 2-155", "sharpless 155"),
        ("Hubble's Nebula", "hubbles nebula", "the Hubble's Nebula"),
    ],
)
def test_every_spelling_of_an_identifier_has_one_key(spellings):
    assert len({name_key(s) for s in spellings}) == 1


def test_different_identifiers_keep_different_keys():
    texts = ("M 42", "M 43", "NGC 42", "IC 42", "C 42", "NGC 5195", "NGC 5195A", "Ring Nebula", "eps Ori")
    assert len({name_key(t) for t in texts}) == len(texts)
    stars = ("alpha Centauri", "alpha1 Centauri", "beta Cygni", "61 Cygni", "61 Cancri", "ω Cen Cluster")
    assert len({name_key(t) for t in stars}) == len(stars)


def test_every_constellation_has_a_genitive():
    from hubbleclip.data.designations import constellation_genitives
    from hubbleclip.data.text import constellation_names

    genitives = constellation_genitives()
    assert set(genitives) == set(constellation_names())  # astropy's 88 IAU abbreviations
    assert (genitives["Cyg"], genitives["CVn"], genitives["PsA"]) == (
        "Cygni",
        "Canum Venaticorum",
        "Piscis Austrini",
    )


@pytest.mark.parametrize(
    "text",
    [
        "13 29 52.7 +47 11 43",
        "13h29m52.7s +47d11m43s",
        "13:29:52.7 +47:11:43",
        "202.46958 47.19528",
        "202.46958, +47.19528",
        "ra=202.46958 dec=47.19528",
        "RA=202.46958, Dec=+47.19528",
        "dec=47.19528 ra=202.46958",
        "ra=13:29:52.7 dec=+47:11:43",
        "ra=13h29m52.7s dec=47d11m43s",
        "ra=13 29 52.7 dec=+47 11 43",
        "ra = 202.46958 dec = 47.19528",
        "ra=202d28m10.5s dec=47.19528",
    ],
)
def test_positions_in_every_format(text):
    assert parse_position(text.split()).coord.separation(M51).arcsec < 0.5


def test_galactic_positions_are_converted_by_astropy():
    want = SkyCoord(l=121.17 * u.deg, b=-21.57 * u.deg, frame="galactic").icrs
    for text in ("l=121.17 b=-21.57", "galactic 121.17 -21.57"):
        position = parse_position(text.split())
        assert position.frame == "galactic" and position.coord.separation(want).arcsec < 1e-6


@pytest.mark.parametrize(
    "tail,deg", [("30'", 0.5), ('45"', 45 / 3600), ("r=0.5deg", 0.5), ("r=2", 2.0), ("within 2 deg", 2.0)]
)
def test_a_radius_after_a_position(tail, deg):
    radius, rest = take_radius(f"10.684 41.269 {tail}".split())
    assert radius.deg == pytest.approx(deg) and rest == ["10.684", "41.269"]


@pytest.mark.parametrize(
    "text",
    [
        "m 31",
        "3 Mon",
        "andromeda galaxy",
        "400 20",
        "10 95",
        "NGC 224",
        "ra=10 dec=95",
        "ra=10 ra=20",
        "ra=10",
    ],
)
def test_names_and_impossible_positions_are_not_positions(text):
    assert parse_position(text.split()) is None


def test_a_key_value_position_takes_a_radius_field():
    fields, rest = parse_fields(split_words("ra=05:35:17.3 dec=-05:23:28 radius=30'"))
    assert fields.radius_deg == pytest.approx(0.5) and rest == ["ra=05:35:17.3", "dec=-05:23:28"]
    m42 = SkyCoord("05h35m17.3s -05d23m28s")
    assert parse_position(rest).coord.separation(m42).arcsec < 1e-6


def test_query_fields_and_free_words():
    fields, rest = parse_fields(split_words('type:"planetary nebula" con:Lyr mag<10 ring'))
    assert fields.types == {"planetary nebula"} and fields.constellation == "Lyra"
    assert fields.mag_max == 10 and not fields.mag_max_inclusive and rest == ["ring"]
    fields, rest = parse_fields(split_words('type:GCl con:"canes venatici" mag >= 7 near:M3 r=30\''))
    assert fields.types == {"globular cluster"} and fields.constellation == "Canes Venatici"
    assert fields.mag_min == 7 and fields.mag_min_inclusive and fields.near == "M3"
    assert fields.radius_deg == pytest.approx(0.5) and rest == []


@pytest.mark.parametrize(
    "bad", ["type:foo", "con:Xyz", "mag<bright", "r=wide", "ra=east", "dec=95", "RA=400"]
)
def test_bad_fields_name_the_word(bad):
    with pytest.raises(QuerySyntaxError, match=re.escape(repr(bad))):
        parse_fields([bad])


@pytest.mark.parametrize(
    "text,order,mag_max,mag_min,rest",
    [
        ("brightest globular clusters", "brightest", None, None, ["globular", "clusters"]),
        ("faint galaxies", "faintest", None, None, ["galaxies"]),
        ("galaxies brighter than mag 8.5", None, 8.5, None, ["galaxies"]),
        ("nebulae fainter than 12", None, None, 12.0, ["nebulae"]),
        ("naked-eye open clusters", "brightest", 6.0, None, ["open", "clusters"]),
    ],
)
def test_brightness_words(text, order, mag_max, mag_min, rest):
    brightness, left = parse_brightness(text.split())
    assert (brightness.order, brightness.mag_max, brightness.mag_min, left) == (order, mag_max, mag_min, rest)


# ------------------------------------------------------------------ on every OpenNGC object


@pytest.fixture(scope="module")
def catalog_index(tiny, catalog_skyset, tmp_path_factory):
    from hubbleclip.search.config import SearchIndexConfig
    from hubbleclip.search.index import build_retrieval_index

    out = tmp_path_factory.mktemp("catalog-index") / "index"
    return build_retrieval_index(
        SearchIndexConfig(dataset=catalog_skyset, model=tiny["tiny-lit"], out=str(out), batch_size=256)
    )


@pytest.fixture(scope="module")
def searcher(catalog_index):
    from hubbleclip.search.searcher import Searcher

    return Searcher.open(catalog_index)


def _ids(result):
    return [h.object_id for h in result.hits]


@pytest.mark.parametrize("text,expect,rule", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_the_issue_queries_come_back_as_expected(searcher, text, expect, rule):
    top = _ids(searcher.search(text=text, k=5))
    assert passed(top, expected_ids(searcher, expect, rule), rule), top


def test_a_cone_search_is_sorted_by_separation_and_shows_it(searcher):
    result = searcher.search(text="objects near M31 within 45'", k=50)
    assert result.ranking == "separation" and "NGC 224" in result.note
    seps = [h.separation_arcsec for h in result.hits]
    assert seps == sorted(seps) and seps[0] == 0.0 and seps[-1] <= 45 * 60
    m31 = SkyCoord(result.hits[0].ra_deg * u.deg, result.hits[0].dec_deg * u.deg)
    for h in result.hits:
        want = SkyCoord(h.ra_deg * u.deg, h.dec_deg * u.deg).separation(m31).arcsec
        assert h.separation_arcsec == pytest.approx(want, abs=0.02)


def test_a_small_cone_finds_the_object_at_its_centre(searcher):
    # the index keeps float32 unit vectors, whose lengths are off by ~5e-8: a 2" cone around any
    # object's own catalogued position still holds it
    index = searcher.index
    rows = np.flatnonzero(np.isfinite(index.corpus.ra_deg))[::50]
    for i in rows:
        center = Position.at(float(index.corpus.ra_deg[i]), float(index.corpus.dec_deg[i])).xyz()
        found, sep = cone(index.xyz, center, 2.0 / 3600.0)
        assert i in found and sep[list(found).index(i)] < 0.1, index.corpus.object_id[i]


def test_type_words_filter_a_cone_and_brightness_orders_it(searcher):
    galaxies = searcher.search(text="galaxies near M81", k=20)
    assert galaxies.hits and all("galaxy" in h.type for h in galaxies.hits)
    assert {"NGC3031", "NGC3034", "NGC3077"} <= set(_ids(galaxies)[:3])
    clusters = searcher.search(text="brightest globular clusters in Sagittarius", k=20)
    mags = [h.mag for h in clusters.hits]
    assert len(mags) > 5 and mags == sorted(mags)
    assert all(h.type == "globular cluster" and h.constellation == "Sagittarius" for h in clusters.hits)
    faint = searcher.search(text="faintest open clusters in Cygnus", k=5)
    assert [h.mag for h in faint.hits] == sorted((h.mag for h in faint.hits), reverse=True)


def test_fields_filter_and_free_words_go_to_the_ranker(searcher):
    hits = searcher.search(text='type:"planetary nebula" con:Lyr mag<10', k=10).hits
    assert hits and all(h.type == "planetary nebula" and h.constellation == "Lyra" for h in hits)
    assert all(h.mag < 10 for h in hits)
    ranked = searcher.search(text="type:galaxy con:UMa spiral arms", k=10)
    assert ranked.ranking == "fallback" and all(h.constellation == "Ursa Major" for h in ranked.hits)
    with pytest.raises(ValueError, match="type:foo"):
        searcher.search(text="type:foo con:Lyr")


def test_a_resolved_name_says_so_and_nothing_else(searcher):
    note = searcher.search(text="messier42", k=1).note
    assert note.startswith("'messier42' is the name of NGC 1976") and "no word" not in note


def test_a_fuzzy_name_never_outranks_an_exact_one(searcher):
    resolver = searcher.resolver
    # two real names one edit apart: the exact spelling of either wins, never its neighbour
    names = sorted(k for k in resolver.fuzzy_names if len(resolver.table[k]) == 1)
    pairs = [
        (a, b)
        for a in names
        for b in names
        if a < b and resolver.table[a] != resolver.table[b] and OSA.distance(a, b) == 1
    ]
    assert pairs, "the catalog has names one edit apart"
    for a, b in pairs[:5]:
        for name, other in ((a, b), (b, a)):
            first = searcher.search(text=resolver.label(name), k=3).hits[0]
            row = searcher.index.row_of[first.object_id]
            assert (
                first.match == "exact name"
                and row in resolver.table[name]
                and row not in resolver.table[other]
            )


def test_a_typo_ranks_like_the_name_it_reads_as(searcher):
    # names.dat calls NGC 5195 (M51's companion) the Whirlpool Galaxy too: the typo must not tie them
    typo = searcher.search(text="wirlpool galaxy", k=3)
    exact = searcher.search(text="whirlpool galaxy", k=3)
    assert _ids(typo)[:2] == _ids(exact)[:2] == ["NGC5194", "NGC5195"]
    assert [h.match for h in typo.hits[:2]] == ["fuzzy name"] * 2


def test_names_dat_names_find_objects_without_images(searcher):
    # names.dat keys the Pleiades by M 45; OpenNGC files them as Mel 22, and Stellarium has no image
    for text in ("Seven Sisters", "where is subaru"):
        first = searcher.search(text=text, k=3).hits[0]
        assert (first.object_id, first.match) == ("Mel022", "exact name")
        assert not searcher.index.corpus.image_rows[searcher.index.row_of["Mel022"]]


@pytest.mark.parametrize(
    "text,object_ids",
    [
        # OpenNGC writes 'gam Cyg' (and the star Sadr has it too where Stellarium's star data is)
        ("gamma Cygni", {"IC1318", "star:Sadr"}),
        ("epsilon Orionis", {"NGC1990", "star:Alnilam"}),  # 'Eps Ori'
        ("Tau Canis Majoris", {"NGC2362"}),  # 'Tau CMa'
        ("chi Per", {"NGC0884"}),  # names.dat writes 'χ Persei'
        ("75 Tuc", {"NGC0362"}),  # '75 Tucanae'
        ("omega Centauri cluster", {"NGC5139"}),  # 'ω Cen Cluster'
    ],
)
def test_star_names_match_across_genitive_and_abbreviation(searcher, text, object_ids):
    first = searcher.search(text=text, k=3).hits[0]
    assert first.object_id in object_ids and first.match == "exact name"


def test_a_star_name_that_is_not_in_the_catalog_is_no_typo(searcher):
    assert searcher.resolver.resolve("61 Cygni") is None  # not 'a neighbour one edit away'
    assert searcher.resolver.resolve("xi Orionis") is None


def test_a_key_value_position_is_the_same_cone_as_the_other_forms(searcher):
    key_value = searcher.search(text="ra=13:29:52.7 dec=+47:11:43 radius=30'", k=20)
    plain = searcher.search(text="13 29 52.7 +47 11 43 30'", k=20)
    assert key_value.ranking == plain.ranking == "separation"
    assert _ids(key_value) == _ids(plain) and _ids(key_value)[0] == "NGC5194"
    degrees = searcher.search(text="RA=202.46958, Dec=47.19528", k=1)
    assert _ids(degrees) == ["NGC5194"]
    with pytest.raises(ValueError, match="dec=95"):
        searcher.search(text="ra=10 dec=95")


def test_generated_query_kinds_old_vs_new(searcher, tmp_path):
    from hubbleclip.metrics.config import BootstrapConfig
    from hubbleclip.search.config import KindsConfig
    from hubbleclip.search.kinds_eval import run_kinds
    from hubbleclip.search.kinds_results import KindsResults

    cfg = KindsConfig(out=str(tmp_path), per_kind=24, bootstrap=BootstrapConfig(samples=100))
    results = run_kinds(cfg, searcher=searcher)
    assert KindsResults.load(tmp_path / "results.json") == results
    # exact-name-first over the whole generated set
    exact = results.exact_name_first
    assert exact["queries"] >= 24 and exact["violations"] == []
    test = results.metrics["test"]
    for kind in ("designation", "typo", "coordinates", "common_name", "genitive", "key_value"):
        top1 = test[kind].estimates["resolver_first"]["top1"].value
        assert results.counts["test"][kind] >= 10 and top1 >= 0.95, kind
    for kind in ("coordinates", "near", "brightness", "fields"):
        assert test[kind].differences["resolver_first"]["map@10"].low > 0, kind


def test_cli_shows_separations_and_rejects_bad_fields(catalog_index, capsys):
    from hubbleclip.cli import main

    assert main(["search", "13h29m52.7s +47d11m43s 5'", "--index", str(catalog_index), "-k", "3"]) == 0
    out = capsys.readouterr().out
    assert "ranked by separation" in out and out.splitlines()[2].split()[-1] == "sep"
    assert "NGC 5194" in out.splitlines()[3]
    assert main(["search", "type:comet", "--index", str(catalog_index)]) == 2
    assert "type:comet" in capsys.readouterr().err
