"""MAST portal API (``/api/v0/invoke``): CAOM observations and products, with paging.

These are the requests ``astroquery.mast.Observations.query_criteria`` / ``get_product_list``
send, made through the shared client so they are rate limited, retried and cached.
"""

from __future__ import annotations

import json

from hubbleclip.archives.cache import Response
from hubbleclip.archives.client import ArchiveClient, FetchError

SERVICE = "mast"


def _still_running(resp: Response) -> str | None:
    try:
        status = resp.json().get("status")
    except (ValueError, AttributeError):
        return None
    return "query still executing" if status == "EXECUTING" else None


async def invoke(
    client: ArchiveClient, base_url: str, service: str, params: dict, page_size: int
) -> list[dict]:
    """Every row of a MAST service request, following ``paging.pagesFiltered``."""
    url = f"{base_url.rstrip('/')}/api/v0/invoke"
    rows: list[dict] = []
    page = 1
    while True:
        request = {
            "service": service,
            "params": params,
            "format": "json",
            "pagesize": page_size,
            "page": page,
        }
        resp = await client.fetch(
            SERVICE, url, data={"request": json.dumps(request, sort_keys=True)}, retry_if=_still_running
        )
        try:
            body = resp.json()
        except ValueError as exc:
            raise FetchError(f"{SERVICE}: {service} page {page}: not JSON") from exc
        if body.get("status") != "COMPLETE":
            raise FetchError(
                f"{SERVICE}: {service} page {page}: {body.get('status')} {body.get('msg', '')}".strip()
            )
        rows.extend(body.get("data") or [])
        pages = int((body.get("paging") or {}).get("pagesFiltered") or 1)
        if page >= pages:
            return rows
        page += 1


async def hst_image_observations(
    client: ArchiveClient, base_url: str, proposal_id: int, page_size: int
) -> list[dict]:
    filters = [
        {"paramName": "obs_collection", "values": ["HST"]},
        {"paramName": "proposal_id", "values": [str(proposal_id)]},
        {"paramName": "dataproduct_type", "values": ["image"]},
    ]
    return await invoke(
        client,
        base_url,
        "Mast.Caom.Filtered",
        {
            "columns": "obsid,obs_id,target_name,s_ra,s_dec,instrument_name,filters,t_obs_release",
            "filters": filters,
        },
        page_size,
    )


async def products(client: ArchiveClient, base_url: str, obsids: list[str], page_size: int) -> list[dict]:
    return await invoke(client, base_url, "Mast.Caom.Products", {"obsid": ",".join(obsids)}, page_size)


def is_jpeg_preview(product: dict) -> bool:
    uri = str(product.get("dataURI") or "").lower()
    return product.get("productType") == "PREVIEW" and uri.endswith((".jpg", ".jpeg"))


async def download(client: ArchiveClient, base_url: str, data_uri: str) -> Response:
    return await client.fetch(
        SERVICE, f"{base_url.rstrip('/')}/api/v0.1/Download/file", params={"uri": data_uri}
    )
