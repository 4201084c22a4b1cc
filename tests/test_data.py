"""The offline skyset: sources, lenient parsing, matching, splits, atomic writes, the CLI."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import datasets
import numpy as np
import pytest
from conftest import FIRST_ZIP, KSTARS_DIR, STELLARIUM_DIR
from PIL import Image

from hubbleclip.cli import main
from hubbleclip.data.build import SkysetConfig, build_skyset, encode_image, save_skyset
from hubbleclip.data.sources import first, kstars, openngc, stellarium
from hubbleclip.data.splits import assign_splits

# ---------------------------------------------------------------- OpenNGC


@pytest.fixture(scope="module")
def catalog():
    return {o.object_id: o for o in openngc.load_catalog()}


@pytest.mark.parametrize(
    "oid, messier, ra, dec, label, common",
    [
        # SIMBAD/NED J2000 positions: M31 00h42m44.3s +41d16m09s, M42 05h35m17s -05d23m28s,
        # M51 13h29m52.7s +47d11m43s
        ("NGC0224", 31, 10.68479, 41.26906, "spiral galaxy", "Andromeda Galaxy"),
        ("NGC1976", 42, 83.81875, -5.38972, "star cluster with nebula", "Orion Nebula"),
        ("NGC5194", 51, 202.46958, 47.19526, "spiral galaxy", "Whirlpool Galaxy"),
    ],
)
def test_openngc_lookups(catalog, oid, messier, ra, dec, label, common):
    obj = catalog[oid]
    assert obj.messier == messier and f"M{messier}" in obj.names and common in obj.names
    assert obj.ra_deg == pytest.approx(ra, abs=2e-3) and obj.dec_deg == pytest.approx(dec, abs=2e-3)
    assert obj.type == label
    assert obj.constellation in {"Andromeda", "Orion", "Canes Venatici"}


def test_openngc_drops_duplicates_and_describes(catalog):
    assert len(catalog) == 13371  # 14,033 rows less Dup/NonEx
    assert all(o.code not in ("Dup", "NonEx") for o in catalog.values())
    m51 = catalog["NGC5194"]
    text = openngc.describe(m51)
    assert "SABb" in text and "Canes Venatici" in text and "V 8.36" in text and "13:29:5" in text
    assert openngc.caption(m51).startswith("large bright spiral galaxy SABb in Canes Venatici; ")
    assert catalog["NGC6611"].constellation == "Serpens"  # M16; OpenNGC writes Se2 (Serpens Cauda)


def test_display_name():
    assert openngc.display_name("NGC0224") == "NGC 224"
    assert openngc.display_name("IC0418") == "IC 418"
    assert openngc.display_name("NGC5195A") == "NGC 5195A"


# ---------------------------------------------------------------- Stellarium


def test_lenient_json_parser():
    text = '{"a": [[-.9794, .5], [1, -2.5e-3]], "url": "m.png -.5 stays", "b": [1, 2,],}'
    assert stellarium.loads_lenient(text) == {
        "a": [[-0.9794, 0.5], [1, -0.0025]],
        "url": "m.png -.5 stays",
        "b": [1, 2],
    }
    with pytest.raises(ValueError, match=r"bad\.json.*line 1"):
        stellarium.loads_lenient('{"a": [1, 2}', "bad.json")


def test_stellarium_textures_and_matching(catalog):
    images = stellarium.read_textures(STELLARIUM_DIR)
    assert len(images) == 12
    m31 = next(i for i in images if i.file.name == "m31.png")
    assert m31.credit.startswith("LEE ang HG731GZ")
    assert m31.center.ra.deg == pytest.approx(10.7, abs=0.3) and m31.center.dec.deg == pytest.approx(
        41.2, abs=0.3
    )
    matcher = stellarium.Matcher(openngc.load_catalog())
    found = {i.file.name: matcher.match(i) for i in images}
    assert found["m31.png"][0].object_id == "NGC0224" and found["m31.png"][1] == "name"
    assert found["m51-vasey.png"][0].object_id == "NGC5194"
    assert found["n7293.png"][0].object_id == "NGC7293"
    assert found["ic418.png"][0].object_id == "IC0418"
    assert found["sh2-1-1.png"][0] is None  # Sharpless objects are not in OpenNGC
    names = stellarium.read_names_dat(STELLARIUM_DIR)
    assert stellarium.unmatched_names("sh2-1-1", names)[0] == "Sh 2-1"


def test_names_dat_names_reach_objects_with_or_without_images(catalog):
    names = stellarium.read_names_dat(STELLARIUM_DIR)
    named = {o.object_id: o for o in stellarium.with_common_names(tuple(catalog.values()), names)}
    assert "Great Nebula in Andromeda" in named["NGC0224"].names  # keyed by its own NGC number
    # keyed by the Messier number of an object OpenNGC files under Melotte; no Stellarium image
    assert named["Mel022"].names[:5] == ["Mel 22", "M45", "Pleiades", "Seven Sisters", "Subaru"]
    assert "χ Persei" in named["NGC0884"].names and "75 Tucanae" in named["NGC0362"].names
    assert named["NGC0224"].names.count("Andromeda Galaxy") == 1  # OpenNGC has it already
    assert named["NGC0001"] is catalog["NGC0001"]  # objects without a names.dat line are unchanged


def test_skyset_catalog_rows_carry_names_dat_names(tmp_path):
    cfg = SkysetConfig(
        out=str(tmp_path / "sky"),
        sources=["openngc", "stellarium"],
        stellarium_dir=str(STELLARIUM_DIR),
        kstars_dir=str(KSTARS_DIR),
        catalog_max_mag=3.0,
        hdf_cutouts=0,
        max_image_size=32,
        workers=1,
    )
    build_skyset(cfg)
    rows = datasets.concatenate_datasets(list(datasets.load_from_disk(cfg.out).values()))
    pleiades = [r for r in rows if r["object_id"] == "Mel022"]
    assert len(pleiades) == 1 and pleiades[0]["image"] is None
    assert {"Pleiades", "Seven Sisters", "Subaru"} <= set(pleiades[0]["names"])
    assert "Seven Sisters" in pleiades[0]["text"]


DEBIAN_STELLARIUM = stellarium.find_stellarium_dir()


@pytest.mark.skipif(
    DEBIAN_STELLARIUM is None or not (DEBIAN_STELLARIUM / "stars" / "default" / "name.fab").is_file(),
    reason="Stellarium's star data is not installed (make debian-data)",
)
def test_star_designations_from_stellarium():
    found = stellarium.read_star_designations(DEBIAN_STELLARIUM)
    assert found["albireo"] == ["β1 Cyg", "6 Cyg", "β Cyg"]  # the plain letter stands for β1
    assert found["rigil kentaurus"] == ["α1 Cen", "α Cen"]  # Proxima ('α Cen C') takes nothing
    assert found["vega"] == ["α Lyr", "3 Lyr"]
    assert found["alcor"] == ["80 UMa"]  # the star most of Stellarium's sources call Alcor


def test_find_stellarium_dir(tmp_path):
    assert stellarium.find_stellarium_dir(STELLARIUM_DIR) == STELLARIUM_DIR
    assert stellarium.find_stellarium_dir(tmp_path) is None


# ---------------------------------------------------------------- FIRST, KStars


def test_first_zip_listing_and_dedup(tmp_path):
    images = first.list_images(FIRST_ZIP)
    assert sorted({i.label for i in images}) == ["Bent", "Compact", "FRI", "FRII"] and len(images) == 12
    # the wheel's train/valid/test copies overlap: the same image under two folders counts once
    dup = tmp_path / "dup.zip"
    import zipfile

    with zipfile.ZipFile(FIRST_ZIP) as src, zipfile.ZipFile(dup, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
            dst.writestr(name.replace("/train/", "/test/"), src.read(name))
    assert len(first.list_images(dup)) == 12


def test_kstars_articles():
    articles = kstars.load_articles(KSTARS_DIR)
    assert articles["spiral galaxy"].startswith("Spiral galaxies are")
    assert "<" not in articles["elliptical galaxy"]


# ---------------------------------------------------------------- splits


def test_splits_by_object_deterministic_and_stratified():
    oids = [f"obj{i % 50}" for i in range(200)]  # 4 rows per object
    groups = ["a" if i % 50 < 30 else "b" for i in range(200)]
    s1 = assign_splits(oids, seed=3, groups=groups)
    assert s1 == assign_splits(oids, seed=3, groups=groups)
    assert s1 != assign_splits(oids, seed=4, groups=groups)
    per_object = {}
    for o, s in zip(oids, s1):
        per_object.setdefault(o, set()).add(s)
    assert all(len(v) == 1 for v in per_object.values())
    for g, n in (("a", 30), ("b", 20)):
        objs = {o: next(iter(per_object[o])) for o, gg in zip(oids, groups) if gg == g}
        assert sum(v == "test" for v in objs.values()) == round(0.1 * n)
    with pytest.raises(ValueError, match="fractions"):
        assign_splits(oids, fractions=(0.5, 0.5, 0.5))


# ---------------------------------------------------------------- the build


def test_tiny_skyset_build(tiny_skyset):
    dd = datasets.load_from_disk(tiny_skyset)
    assert set(dd) == {"train", "val", "test"}
    rows = [r | {"split": s} for s, ds in dd.items() for r in ds.remove_columns("image")]
    by_split = {}
    for r in rows:
        by_split.setdefault(r["object_id"], set()).add(r["split"])
    assert all(len(s) == 1 for s in by_split.values()), "an object leaked into two splits"
    sources = {r["source"] for r in rows}
    assert sources == {"stellarium", "first", "hdf", "openngc"}
    m31 = [r for r in rows if r["object_id"] == "NGC0224"]
    assert {r["source"] for r in m31} == {"stellarium", "openngc"}
    assert "Andromeda Galaxy" in m31[0]["names"] and m31[0]["type"] == "spiral galaxy"
    assert "Spiral galaxies are" in m31[0]["text"]  # the AstroInfo article joined in
    assert all(r["credit"] for r in rows)
    img = next(r for r in dd["train"] if r["image"] is not None)["image"]
    assert isinstance(img, Image.Image) and max(img.size) <= 96
    report = json.loads((Path(tiny_skyset) / "build_report.json").read_text())
    assert report["by_source"]["stellarium"] and report["skipped_images"] == []
    assert report["stellarium_matches"]["name"] >= 10


def test_corrupt_image_is_skipped_and_reported(tmp_path):
    src = tmp_path / "stellarium"
    shutil.copytree(STELLARIUM_DIR, src)
    (src / "nebulae" / "default" / "m13.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    cfg = SkysetConfig(
        out=str(tmp_path / "out"),
        sources=["stellarium"],
        stellarium_dir=str(src),
        kstars_dir=str(KSTARS_DIR),
        workers=1,
    )
    report = build_skyset(cfg)
    assert report["images"] == 11
    assert [Path(s["file"]).name for s in report["skipped_images"]] == ["m13.png"]
    assert "UnidentifiedImageError" in report["skipped_images"][0]["reason"]


def test_missing_source_is_skipped_with_hint(tmp_path):
    cfg = SkysetConfig(
        out=str(tmp_path / "out"),
        sources=["stellarium", "first"],
        stellarium_dir=str(tmp_path / "nope"),
        first_zip=str(FIRST_ZIP),
        kstars_dir=str(KSTARS_DIR),
        workers=1,
    )
    report = build_skyset(cfg)
    assert "--stellarium_dir" in report["missing_sources"]["stellarium"]
    assert report["images"] == 12


def test_atomic_write_leaves_nothing_on_failure(tmp_path, monkeypatch):
    rows = [openngc.to_record(o) for o in openngc.load_catalog()[:20]]
    out = tmp_path / "ds"

    def boom(self, *a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(datasets.DatasetDict, "save_to_disk", boom)
    with pytest.raises(KeyboardInterrupt):
        save_skyset(rows, out)
    assert list(tmp_path.iterdir()) == []  # no half dataset, no temp dir
    monkeypatch.undo()
    save_skyset(rows, out)
    first_version = (out / "build_report.json").read_text()
    with pytest.raises(FileExistsError):
        save_skyset(rows, out)
    assert (out / "build_report.json").read_text() == first_version


def test_save_rejects_bad_rows(tmp_path):
    with pytest.raises(ValueError, match="missing columns"):
        save_skyset([{"id": "x"}], tmp_path / "ds")
    with pytest.raises(ValueError, match="nothing to save"):
        save_skyset([], tmp_path / "ds")


def test_encode_image_flattens_alpha_and_resizes(tmp_path):
    rgba = np.zeros((300, 200, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[:, :100, 3] = 255  # left half opaque red, right half transparent
    path = tmp_path / "a.png"
    Image.fromarray(rgba).save(path)
    out = Image.open(__import__("io").BytesIO(encode_image(path, 150)))
    assert out.mode == "RGB" and max(out.size) == 150
    arr = np.asarray(out)
    assert arr[75, 10, 0] > 200 and arr[75, 90, 0] < 30  # transparent sky becomes black


# ---------------------------------------------------------------- CLI


def test_cli_build_and_info(tmp_path, capsys):
    out = tmp_path / "cli"
    rc = main(
        [
            "data",
            "build",
            "--out",
            str(out),
            "--sources",
            "stellarium,first",
            "--stellarium_dir",
            str(STELLARIUM_DIR),
            "--kstars_dir",
            str(KSTARS_DIR),
            "--first-zip",
            str(FIRST_ZIP),
            "--workers",
            "1",
        ]
    )
    assert rc == 0 and "24 images" in capsys.readouterr().out
    assert main(["data", "info", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert sum(s["images"] for s in summary["splits"].values()) == 24
    assert main(["data", "info", str(tmp_path / "missing")]) == 2
    assert "not a saved dataset" in capsys.readouterr().err
    assert main(["data", "build", "--out", str(out), "--sources", "first"]) == 2  # exists, no --overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert main(["data", "build", "--out", str(tmp_path / "x"), "--catalog", "some"]) == 2
    assert "catalog" in capsys.readouterr().err


def test_hdf_cutouts_are_real_sources():
    from hubbleclip.data.sources import hdf

    cuts = hdf.detect_cutouts(5, size=32)
    assert len(cuts) == 5
    fluxes = [f for _, _, f in cuts]
    assert fluxes == sorted(fluxes, reverse=True)
    for stamp, (_r, _c), _ in cuts:
        assert stamp.shape == (32, 32, 3)
        assert stamp[12:20, 12:20].mean() > stamp.mean() * 0.9  # the source sits at the centre
    assert not math.isnan(fluxes[0])


def _user_folder(tmp_path, lines: list[str]) -> Path:
    folder = tmp_path / "my_images"
    (folder / "sub").mkdir(parents=True)
    for name in ("m31.png", "m42.png", "m13.png"):
        shutil.copy(
            STELLARIUM_DIR / "nebulae" / "default" / name,
            folder / ("sub" if name == "m13.png" else "") / name,
        )
    (folder / "captions.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_bring_your_own_folder_of_images_with_captions(tmp_path):
    """An image folder + CSV becomes a dataset in the skyset's format that training and evaluation read."""
    from hubbleclip.data.load import caption_column, imaged_rows

    folder = _user_folder(
        tmp_path,
        [
            "file,caption,object_id,type,names,ra_deg,mag",
            'm31.png,"spiral galaxy; galaxy evolution",andromeda,'
            "spiral galaxy,M31|Andromeda Galaxy,10.68,3.4",
            "m42.png,emission nebula; star formation,,emission nebula,,83.8,",
            "sub/m13.png,globular cluster; stellar populations,,,,,",
        ],
    )
    out = tmp_path / "mine"
    assert main(["data", "build", "--source", "folder", "--set", f"images={folder}", "--out", str(out)]) == 0
    dd = datasets.load_from_disk(str(out))
    rows = {r["id"]: r for split in dd.values() for r in split}
    assert set(rows) == {"folder:m31.png", "folder:m42.png", "folder:sub/m13.png"}
    m31 = rows["folder:m31.png"]
    assert m31["names"] == ["M31", "Andromeda Galaxy"] and m31["object_id"] == "andromeda"
    assert (
        m31["ra_deg"] == pytest.approx(10.68)
        and math.isnan(m31["dec_deg"])
        and m31["mag"] == pytest.approx(3.4)
    )
    assert m31["text"] == m31["caption"] == "spiral galaxy; galaxy evolution"
    assert (
        rows["folder:sub/m13.png"]["type"] == "unknown"
        and rows["folder:sub/m13.png"]["object_id"] == "sub/m13.png"
    )
    with Image.open(STELLARIUM_DIR / "nebulae" / "default" / "m42.png") as original:
        assert rows["folder:m42.png"]["image"].size == original.size  # under max_image_size: untouched
    split = next(s for s in dd.values() if len(s))
    assert caption_column(split.column_names, "auto") == "caption"
    assert imaged_rows(split).tolist() == list(range(len(split)))


@pytest.mark.parametrize(
    "lines, message",
    [
        (["file,text", "m31.png,x"], r"captions\.csv: missing column\(s\) \['caption'\]"),
        (
            ["file,caption", "m31.png,a; b", "gone.png,a; b"],
            r"captions\.csv line 3: image .*gone\.png does not exist",
        ),
        (["file,caption", "m31.png,"], r"captions\.csv line 2: empty caption"),
        (
            ["file,caption,mag", "m31.png,a; b,bright"],
            r"captions\.csv line 2, column mag: 'bright' is not a number",
        ),
        (
            ["file,caption", "m31.png,a; b", "m31.png,c; d"],
            r"line 3: file 'm31\.png' is listed twice \(first on line 2\)",
        ),
        (["file,caption", "captions.csv,a; b"], r"line 2: .*captions\.csv is not a readable image"),
    ],
)
def test_folder_errors_name_the_line_and_write_nothing(tmp_path, lines, message):
    from hubbleclip import archives

    folder = _user_folder(tmp_path, lines)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        archives.build("folder", tmp_path / "mine", None, [f"images={folder}"])
    assert not (tmp_path / "mine").exists()


def test_other_sources_refuse_skyset_flags_and_default_to_their_own_dir(tmp_path, capsys, monkeypatch):
    folder = _user_folder(tmp_path, ["file,caption", "m31.png,spiral galaxy; galaxy evolution"])
    assert main(["data", "build", "--source", "folder", "--set", f"images={folder}", "--seed", "3"]) == 2
    assert "--seed is a skyset option; for --source folder use --set KEY=VALUE" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)
    assert main(["data", "build", "--source", "folder", "--set", f"images={folder}"]) == 0
    assert "wrote data/folder: 1 rows" in capsys.readouterr().out
    assert (tmp_path / "data" / "folder" / "dataset_dict.json").is_file()
