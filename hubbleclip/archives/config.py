"""Configuration of the archive builders and their shared HTTP client (torch-free, so config files
and ``--help`` load fast)."""

from __future__ import annotations

from dataclasses import dataclass, field

BANDS = ("B", "V", "R", "G")
GALAXY10_DOWNLOAD = "https://zenodo.org/records/10845026/files/Galaxy10_DECals.h5"


@dataclass
class ServiceLimits:
    rate_per_s: float = field(
        default=5.0, metadata={"help": "request starts per second (the service's published limit)"}
    )
    concurrency: int = field(default=4, metadata={"help": "requests in flight at once"})


@dataclass
class HttpConfig:
    cache_dir: str | None = field(
        default=None,
        metadata={"help": "response cache (default: $HUBBLECLIP_CACHE/archives/SOURCE)"},
    )
    timeout_s: float = field(default=120.0, metadata={"help": "per-request timeout"})
    max_retries: int = field(
        default=6, metadata={"help": "retries of a throttled/failed request before giving up"}
    )
    backoff_s: float = field(default=1.0, metadata={"help": "first back-off delay; doubles on each retry"})
    backoff_max_s: float = field(default=120.0, metadata={"help": "longest back-off delay"})
    user_agent: str = field(
        default="hubbleclip/0.1 (https://github.com/hubbleclip)", metadata={"help": "User-Agent header"}
    )
    mailto: str | None = field(default=None, metadata={"help": "contact e-mail (Crossref's polite pool)"})


@dataclass
class HSTConfig:
    cycles: str | None = field(
        default=None,
        metadata={"help": "proposal cycles to take from the abstracts catalogue: 25-26, 1-30 or 24,26"},
    )
    abstracts_file: str | None = field(
        default=None,
        metadata={"help": "STScI's abstracts.cat, if you have it (else it is fetched from abstracts_url)"},
    )
    abstracts_url: str = field(
        default="https://archive.stsci.edu/hst/abstracts.cat",
        metadata={"help": "where the abstracts catalogue is fetched from when abstracts_file is unset"},
    )
    proposal_ids: list[int] = field(default_factory=list, metadata={"help": "HST proposal IDs to include"})
    proposal_id_file: str | None = field(
        default=None, metadata={"help": "text file with one proposal ID per line"}
    )
    stsci_url: str = field(
        default="https://www.stsci.edu/hst/phase2-public",
        metadata={"help": "where <id>.pro Phase II files live"},
    )
    mast_url: str = field(default="https://mast.stsci.edu", metadata={"help": "MAST portal API server"})
    images_per_proposal: int = field(
        default=20, metadata={"help": "preview images kept per proposal (random)"}
    )
    preview_name_contains: str | None = field(
        default=None,
        metadata={"help": "only previews whose file name contains this (PAPERCLIP: total)"},
    )
    image_size: int = field(default=512, metadata={"help": "side of the padded square images"})
    page_size: int = field(default=2000, metadata={"help": "rows per MAST page"})
    products_batch: int = field(default=50, metadata={"help": "observations per MAST product query"})
    seed: int = field(default=0, metadata={"help": "seed of the image choice and the by-proposal split"})
    http: HttpConfig = field(default_factory=HttpConfig)
    stsci: ServiceLimits = field(default_factory=lambda: ServiceLimits(rate_per_s=2.0, concurrency=2))
    mast: ServiceLimits = field(default_factory=lambda: ServiceLimits(rate_per_s=5.0, concurrency=4))


@dataclass
class SimbadConfig:
    tap_url: str = field(
        default="https://simbad.cds.unistra.fr/simbad/sim-tap/sync",
        metadata={"help": "SIMBAD TAP sync endpoint"},
    )
    crossref_url: str = field(default="https://api.crossref.org", metadata={"help": "Crossref REST API"})
    hips2fits_url: str = field(
        default="https://alasky.cds.unistra.fr/hips-image-services/hips2fits",
        metadata={"help": "hips2fits endpoint"},
    )
    mag_limit: float = field(default=6.5, metadata={"help": "keep objects brighter than this in any band"})
    bands: list[str] = field(
        default_factory=lambda: list(BANDS), metadata={"help": "SIMBAD allfluxes bands to test"}
    )
    max_objects: int | None = field(
        default=None, metadata={"help": "stop after this many objects (None = all)"}
    )
    page_size: int = field(default=2000, metadata={"help": "objects per TAP page"})
    refs_batch: int = field(default=50, metadata={"help": "objects per reference query"})
    papers_per_object: int = field(default=6, metadata={"help": "papers kept per object"})
    max_objects_per_paper: int = field(
        default=3, metadata={"help": "only papers about at most this many objects (specific ones)"}
    )
    doi_batch: int = field(default=40, metadata={"help": "DOIs per Crossref request"})
    hips: str = field(default="CDS/P/DSS2/red", metadata={"help": "HiPS survey for the cut-outs"})
    image_size: int = field(default=500, metadata={"help": "cut-out side in pixels (grey)"})
    fov_deg: float = field(default=0.25, metadata={"help": "cut-out field of view"})
    seed: int = field(default=0, metadata={"help": "seed of the by-object split"})
    http: HttpConfig = field(default_factory=HttpConfig)
    # CDS asks for at most ~5-10 queries/s per client; Crossref's polite pool allows 10/s, 3 in flight
    tap: ServiceLimits = field(default_factory=lambda: ServiceLimits(rate_per_s=5.0, concurrency=2))
    crossref: ServiceLimits = field(default_factory=lambda: ServiceLimits(rate_per_s=10.0, concurrency=3))
    hips2fits: ServiceLimits = field(default_factory=lambda: ServiceLimits(rate_per_s=5.0, concurrency=10))


@dataclass
class Galaxy10Config:
    path: str | None = field(
        default=None, metadata={"help": f"Galaxy10_DECals.h5 (download: {GALAXY10_DOWNLOAD})"}
    )
    max_images: int | None = field(default=None, metadata={"help": "use only the first N galaxies"})
    chunk: int = field(default=256, metadata={"help": "images read from the file at a time"})
    seed: int = field(default=0, metadata={"help": "seed of the by-galaxy split"})
    http: HttpConfig = field(
        default_factory=HttpConfig, metadata={"help": "only http.cache_dir is used (PNG cache)"}
    )
