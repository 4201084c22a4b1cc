"""HST proposals with MAST preview images (the PAPERCLIP dataset).

The proposals are those of ``cycles`` in STScI's abstracts catalogue (``abstracts_file``, else
fetched from ``abstracts_url``), as PAPERCLIP takes them, plus any IDs given by hand.  Per
proposal: its title, program type, cycle, PI and abstract (from the catalogue, else from the
public Phase II file) and up to ``images_per_proposal`` randomly chosen greyscale preview JPEGs of
its image observations from MAST, each padded to a white square and resized to ``image_size``.
Colour previews are excluded: by name (``color``, as PAPERCLIP does) before download, and by
their pixels after.
Every image of a proposal shares its ``object_id`` (``hst:<id>``), so splits are by proposal.
Access: ``program_id`` is the proposal ID and ``release_date`` the latest MAST ``t_obs_release``
(CAOM, MJD) of the proposal's chosen observations, so a proposal's rows are released together,
never before any of them is public.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import random
import re
from pathlib import Path

from hubbleclip.archives import abstracts, images, mast
from hubbleclip.archives.cache import ResponseCache
from hubbleclip.archives.client import ArchiveClient
from hubbleclip.archives.common import BuildReport, cache_dir, check_output, image_path, save, skip_on_error
from hubbleclip.archives.config import HSTConfig
from hubbleclip.archives.interrupt import run_async
from hubbleclip.errors import UserError

log = logging.getLogger(__name__)

CREDIT = "NASA/ESA Hubble Space Telescope preview via MAST (STScI); proposal {pid}, PI {pi}"
_RULE = r"\n-{20,}[ \t]*\n"
MJD_EPOCH = dt.date(1858, 11, 17)
_PAGE_HEADER = re.compile(r"^\s*\d+\(\s*\d+\) - .* - \[\s*\d+\]\s*$", re.MULTILINE)


def proposal_ids(cfg: HSTConfig) -> list[int]:
    """The IDs given by hand (``proposal_ids`` and ``proposal_id_file``)."""
    ids = list(cfg.proposal_ids)
    if cfg.proposal_id_file:
        path = Path(cfg.proposal_id_file).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"proposal_id_file {path} does not exist")
        for n, line in enumerate(path.read_text().splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if line:
                if not line.isdigit():
                    raise UserError(f"{path}:{n}: expected a proposal ID (an integer), got {line!r}")
                ids.append(int(line))
    return sorted(set(ids))


def release_date(mjds) -> dt.date | None:
    """The UTC date on which the last of the observations (MAST ``t_obs_release``, MJD) is public;
    None when MAST gives no release date."""
    days = [float(m) for m in mjds if m not in (None, "") and math.isfinite(float(m))]
    return MJD_EPOCH + dt.timedelta(days=math.ceil(max(days))) if days else None


def parse_phase2(text: str) -> dict[str, str]:
    """Title, category, cycle, PI and abstract of a Phase II ``.pro`` file; ValueError if it has
    no title or abstract."""
    text = _PAGE_HEADER.sub("", text.replace("\r\n", "\n"))

    def section(name: str) -> str:
        m = re.search(rf"^{name}[ \t]*\n(.*?)(?:{_RULE}|\Z)", text, re.MULTILINE | re.DOTALL)
        return " ".join(m.group(1).split()) if m else ""

    kind = re.search(r"^Type\s+Cycle[ \t]*\n\s*(\S+)\s+(\S+)", text, re.MULTILINE)
    pi = re.search(r"^\s*PI:\s*(.+?)(?:\s{2,}|$)", text, re.MULTILINE)
    out = {
        "title": section("Title"),
        "abstract": section("Abstract"),
        "category": kind.group(1) if kind else "",
        "cycle": kind.group(2) if kind else "",
        "pi": pi.group(1).strip() if pi else "",
    }
    missing = [k for k in ("title", "abstract") if not out[k]]
    if missing:
        raise ValueError(f"Phase II file without {' and '.join(missing)}")
    return out


async def fetch_preview(
    cfg: HSTConfig, client: ArchiveClient, uri: str, root: Path, report: BuildReport
) -> str | None:
    """Path of the processed preview, or None when it is missing, broken or in colour."""
    resp = await skip_on_error(mast.download(client, cfg.mast_url, uri), report, uri)
    if resp is None:
        return None
    if not resp.ok:
        report.skip(uri, f"MAST answered HTTP {resp.status}")
        return None
    path = image_path(root, f"{uri}@{cfg.image_size}")
    if path.exists():
        return str(path)
    try:
        im = await asyncio.to_thread(images.decode, resp.body)
    except (OSError, SyntaxError, ValueError) as exc:
        report.skip(uri, f"undecodable preview ({exc})")
        return None
    if await asyncio.to_thread(images.is_colour, im):
        report.notes["colour_previews_excluded"] = report.notes.get("colour_previews_excluded", 0) + 1
        return None
    return await asyncio.to_thread(
        images.save_png, images.square(im.convert("L"), cfg.image_size, fill=255), path
    )


async def phase2_info(cfg: HSTConfig, client: ArchiveClient, pid: int, report: BuildReport) -> dict | None:
    resp = await client.fetch("stsci", f"{cfg.stsci_url.rstrip('/')}/{pid}.pro")
    if not resp.ok:
        report.skip(f"proposal {pid}", f"no public Phase II file (HTTP {resp.status})")
        return None
    try:
        return parse_phase2(resp.text)
    except ValueError as exc:
        report.skip(f"proposal {pid}", str(exc))
        return None


def observation_of(product: dict) -> str:
    """The obsid a product was listed for: MAST's products carry it as ``parent_obsid`` (a
    combined product's own ``obsID`` can be a member's)."""
    return str(product.get("parent_obsid") or product.get("obsID") or product.get("obsid"))


def wanted_preview(cfg: HSTConfig, product: dict, report: BuildReport) -> bool:
    name = str(product["dataURI"]).rsplit("/", 1)[-1].lower()
    if "color" in name:  # a colour composite by name: not worth a download
        report.notes["colour_previews_excluded"] = report.notes.get("colour_previews_excluded", 0) + 1
        return False
    return not cfg.preview_name_contains or cfg.preview_name_contains.lower() in name


async def proposal_rows(
    cfg: HSTConfig, client: ArchiveClient, pid: int, info: dict | None, root: Path, report: BuildReport
) -> list[dict]:
    """The rows of one proposal; ``info`` is its catalogue record (else its Phase II file is read)."""
    if info is None:
        info = await phase2_info(cfg, client, pid, report)
        if info is None:
            return []
    elif not info["abstract"]:
        report.skip(f"proposal {pid}", "no abstract in the abstracts catalogue")
        return []
    observations = await mast.hst_image_observations(client, cfg.mast_url, pid, cfg.page_size)
    by_obsid = {str(o.get("obsid")): o for o in observations if o.get("obsid") is not None}
    if not by_obsid:
        report.skip(f"proposal {pid}", "no HST image observations in MAST")
        return []
    obsids = sorted(by_obsid)
    previews = []
    for i in range(0, len(obsids), cfg.products_batch):
        found = await mast.products(client, cfg.mast_url, obsids[i : i + cfg.products_batch], cfg.page_size)
        previews += [p for p in found if observation_of(p) in by_obsid and mast.is_jpeg_preview(p)]
    previews = sorted({p["dataURI"]: p for p in previews}.values(), key=lambda p: p["dataURI"])
    previews = [p for p in previews if wanted_preview(cfg, p, report)]
    random.Random(f"{cfg.seed}:{pid}").shuffle(previews)
    chosen: list[tuple[dict, str]] = []
    # take previews in shuffled order until enough greyscale ones are in
    while previews and len(chosen) < cfg.images_per_proposal:
        batch, previews = (
            previews[: cfg.images_per_proposal - len(chosen)],
            previews[cfg.images_per_proposal - len(chosen) :],
        )
        paths = await asyncio.gather(*(fetch_preview(cfg, client, p["dataURI"], root, report) for p in batch))
        chosen += [(p, path) for p, path in zip(batch, paths) if path]
    if not chosen:
        report.skip(f"proposal {pid}", "no greyscale preview images in MAST")
        return []
    text = f"{info['title']}\n\n{info['abstract']}"
    caption = f"{info['title']}; {info['category']} program, cycle {info['cycle']}".strip()
    released = release_date(by_obsid[observation_of(p)].get("t_obs_release") for p, _ in chosen)
    rows = []
    for product, path in chosen:
        obs = by_obsid[observation_of(product)]
        name = product["dataURI"].rsplit("/", 1)[-1]
        rows.append(
            {
                "id": f"hst:{pid}:{name}",
                "source": "hst",
                "image": path,
                "object_id": f"hst:{pid}",
                "names": [f"HST proposal {pid}", str(obs.get("target_name") or "")],
                "type": "hst observation",
                "ra_deg": float(obs.get("s_ra") or "nan"),
                "dec_deg": float(obs.get("s_dec") or "nan"),
                "mag": float("nan"),
                "text": text,
                "caption": caption,
                "credit": CREDIT.format(pid=pid, pi=info["pi"] or "unknown"),
                "release_date": released,
                "program_id": str(pid),
            }
        )
    return rows


async def listed_proposals(
    cfg: HSTConfig,
    client: ArchiveClient,
    cycles: list[int] | None,
    hand: list[int],
    local: list[abstracts.Abstract] | None,
    report: BuildReport,
) -> dict[int, dict | None]:
    """Proposal ID -> its catalogue fields (None: read its Phase II file): the catalogue's
    proposals of ``cycles`` and the IDs given by hand."""
    catalogue = local
    if catalogue is None and cycles:
        catalogue = await abstracts.fetch_catalogue(client, cfg.abstracts_url)
    by_id = {r.proposal_id: r for r in catalogue or []}
    chosen = abstracts.of_cycles(catalogue or [], cycles or [])
    ids = sorted({r.proposal_id for r in chosen} | set(hand))
    if catalogue is not None:
        report.notes["catalogue"] = {
            "source": str(cfg.abstracts_file or cfg.abstracts_url),
            "records": len(catalogue),
            "in_cycles": len(chosen),
        }
    if not ids:
        where = f"cycles {cfg.cycles} of the abstracts catalogue" if cycles else "the config"
        raise UserError(
            f"hst: no proposals in {where}; set cycles=25-26 (with abstracts_file=PATH, or online), "
            "proposal_ids=[...] or proposal_id_file=FILE"
        )
    return {pid: by_id[pid].info() if pid in by_id else None for pid in ids}


def build(cfg: HSTConfig, out_dir: Path, overwrite: bool = False) -> dict:
    check_output(out_dir, overwrite)
    # every input a user can get wrong is checked before the first request
    cycles = abstracts.parse_cycles(cfg.cycles) if cfg.cycles is not None else None
    hand = proposal_ids(cfg)
    local = abstracts.read_catalogue(cfg.abstracts_file) if cfg.abstracts_file else None
    if cycles is None and local is None and not hand:
        raise UserError(
            "hst: no proposals: set cycles=25-26 (with abstracts_file=PATH, or online), "
            "proposal_ids=[...] or proposal_id_file=FILE (one ID per line)"
        )
    root = cache_dir(cfg.http, "hst")
    cache = ResponseCache(root / "responses.sqlite")
    report = BuildReport("hst")

    async def run():
        async with ArchiveClient(cache, cfg.http, {"stsci": cfg.stsci, "mast": cfg.mast}) as client:
            proposals = await listed_proposals(cfg, client, cycles, hand, local, report)
            per = await asyncio.gather(
                *(
                    skip_on_error(
                        proposal_rows(cfg, client, pid, info, root, report),
                        report,
                        f"proposal {pid}",
                        default=[],
                    )
                    for pid, info in proposals.items()
                )
            )
            return proposals, [row for rows in per for row in rows], client.report()

    try:
        proposals, rows, stats = run_async(run())
    finally:
        cache.close()
    report.notes["cycles"] = cycles
    report.notes["proposals"] = {
        "requested": len(proposals),
        "with_images": len({r["object_id"] for r in rows}),
    }
    return save(rows, out_dir, report.as_dict(stats), cfg.seed, overwrite, cfg)
