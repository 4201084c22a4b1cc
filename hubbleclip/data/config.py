"""Configuration of the skyset build, its export and folder datasets (torch-free, so config files and
``--help`` load fast)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ALL_SOURCES = ("openngc", "stellarium", "first", "hdf")


@dataclass
class SkysetConfig:
    out: str = field(default="data/skyset", metadata={"help": "output directory (a datasets.DatasetDict)"})
    sources: list[str] = field(
        default_factory=lambda: list(ALL_SOURCES), metadata={"help": "comma-separated sources"}
    )
    stellarium_dir: str | None = field(
        default=None,
        metadata={"help": "Stellarium data dir (holds nebulae/default); default: search the usual places"},
    )
    kstars_dir: str | None = field(
        default=None, metadata={"help": "KStars handbook dir with the AstroInfo *.docbook articles"}
    )
    first_zip: str | None = field(
        default=None, metadata={"help": "galaxy_data.zip; default: the one inside the firstgalaxydata wheel"}
    )
    catalog: Literal["all", "imaged", "none"] = field(
        default="all", metadata={"help": "OpenNGC catalog rows without images: all, imaged or none"}
    )
    catalog_max_mag: float | None = field(
        default=None, metadata={"help": "keep only catalog-only objects at least this bright"}
    )
    hdf_cutouts: int = field(
        default=64, metadata={"help": "number of Hubble Deep Field source cut-outs (0 = none)"}
    )
    max_image_size: int = field(default=512, metadata={"help": "longest image side after resizing (pixels)"})
    seed: int = field(default=0, metadata={"help": "seed of the by-object split"})
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    workers: int = field(default=2, metadata={"help": "processes decoding images"})


@dataclass
class ExportConfig:
    """``hubbleclip data export``: a saved dataset as WebDataset shards or as open_clip_train's CSV."""

    dataset: str = field(default="data/skyset", metadata={"help": "saved DatasetDict to export"})
    out: str = field(default="data/shards", metadata={"help": "output directory (one folder per split)"})
    format: Literal["webdataset", "csv"] = field(
        default="webdataset",
        metadata={
            "help": "webdataset = tar shards (open_clip, img2dataset, clip-retrieval); "
            "csv = image files + a tab-separated SPLIT.csv (open_clip_train --dataset-type csv)"
        },
    )
    splits: list[str] = field(default_factory=list, metadata={"help": "splits to export (default: all)"})
    shard_size: int = field(default=1000, metadata={"help": "webdataset: samples per shard"})
    captions: Literal["auto", "caption_llm", "caption"] = field(
        default="auto",
        metadata={"help": "caption column of txt: auto = caption_llm where that column exists, else caption"},
    )


@dataclass
class FolderConfig:
    """``hubbleclip data build --source folder``: your own images and a CSV of captions."""

    images: str | None = field(default=None, metadata={"help": "folder holding the images"})
    captions: str | None = field(
        default=None,
        metadata={"help": "CSV with file,caption[,text,object_id,...] (default: IMAGES/captions.csv)"},
    )
    credit: str = field(default="", metadata={"help": "credit line for rows whose CSV has none"})
    max_image_size: int = field(default=512, metadata={"help": "longest image side after resizing (pixels)"})
    seed: int = field(default=0, metadata={"help": "seed of the by-object split"})
