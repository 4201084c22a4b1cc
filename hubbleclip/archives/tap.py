"""Synchronous TAP/ADQL queries (IVOA TAP 1.1 ``/sync``) answered as VOTables.

The HTTP request pyvo and astroquery's TAP make, sent through the shared client so it is rate
limited, retried and cached; the VOTable is parsed with ``astropy.io.votable``.
"""

from __future__ import annotations

import io
import warnings

from hubbleclip.archives.client import ArchiveClient, FetchError


def parse_votable(body: bytes, where: str):
    """First table of a VOTable as an astropy Table; a TAP error document raises FetchError."""
    from astropy.io import votable
    from astropy.io.votable.exceptions import VOWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VOWarning)
        try:
            doc = votable.parse(io.BytesIO(body))
        except Exception as exc:  # astropy raises many types for a broken document
            raise FetchError(f"{where}: not a VOTable ({type(exc).__name__}: {exc})") from exc
    for resource in doc.resources:
        for info in resource.infos:
            if info.name == "QUERY_STATUS" and info.value == "ERROR":
                raise FetchError(f"{where}: TAP error: {(info.content or '').strip()}")
    try:
        return doc.get_first_table().to_table(use_names_over_ids=True)
    except IndexError as exc:
        raise FetchError(f"{where}: VOTable without a table") from exc


async def tap_query(client: ArchiveClient, service: str, sync_url: str, adql: str):
    resp = await client.fetch(
        service, sync_url, data={"REQUEST": "doQuery", "LANG": "ADQL", "FORMAT": "votable", "QUERY": adql}
    )
    if not resp.ok:
        raise FetchError(f"{service}: {sync_url} answered HTTP {resp.status}")
    return parse_votable(resp.body, sync_url)
