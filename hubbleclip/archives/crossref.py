"""Titles and abstracts of papers by DOI from the Crossref REST API, many DOIs per request.

``/works?filter=doi:A,doi:B,...`` ORs the DOIs, so one request answers a whole batch: this is
what keeps ~13k objects x 6 papers inside Crossref's rate limit.
"""

from __future__ import annotations

import html
import re

from hubbleclip.archives.client import ArchiveClient, FetchError

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def jats_to_text(abstract: str | None) -> str:
    """Crossref abstracts are JATS XML fragments: drop the tags and a leading 'Abstract' heading."""
    text = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", abstract or ""))).strip()
    return re.sub(r"^(abstract|summary)\b[:.]?\s*", "", text, flags=re.IGNORECASE)


async def fetch_works(
    client: ArchiveClient,
    base_url: str,
    dois: list[str],
    mailto: str | None = None,
    service: str = "crossref",
) -> dict[str, dict[str, str]]:
    """{doi (lower case): {"title", "abstract"}} for the DOIs Crossref knows; items without a title
    are left out (the caller reports them)."""
    params = {
        "filter": ",".join(f"doi:{d}" for d in dois),
        "rows": str(len(dois)),
        "select": "DOI,title,abstract",
    }
    if mailto:
        params["mailto"] = mailto
    resp = await client.fetch(service, f"{base_url.rstrip('/')}/works", params=params)
    if not resp.ok:
        raise FetchError(f"{service}: {resp.url} answered HTTP {resp.status}")
    try:
        items = resp.json()["message"]["items"]
    except (ValueError, KeyError, TypeError) as exc:
        raise FetchError(f"{service}: {resp.url}: not a Crossref works list ({exc})") from exc
    out = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        titles = item.get("title") or []
        doi = str(item.get("DOI") or "").lower()
        if doi and titles and isinstance(titles, list):
            out[doi] = {
                "title": _SPACE.sub(" ", str(titles[0])).strip(),
                "abstract": jats_to_text(item.get("abstract")),
            }
    return out
