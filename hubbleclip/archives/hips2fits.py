"""Cut-outs from CDS's hips2fits service (any HiPS survey, any position, fixed pixel size)."""

from __future__ import annotations

from hubbleclip.archives.cache import Response
from hubbleclip.archives.client import ArchiveClient


async def cutout(
    client: ArchiveClient,
    base_url: str,
    ra_deg: float,
    dec_deg: float,
    *,
    hips: str,
    size: int,
    fov_deg: float,
    service: str = "hips2fits",
) -> Response:
    params = {
        "hips": hips,
        "ra": f"{ra_deg:.6f}",
        "dec": f"{dec_deg:.6f}",
        "fov": f"{fov_deg:g}",
        "width": str(size),
        "height": str(size),
        "projection": "TAN",
        "coordsys": "icrs",
        "format": "jpg",
    }
    return await client.fetch(service, base_url, params=params)
