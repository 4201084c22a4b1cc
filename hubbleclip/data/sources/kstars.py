"""Short AstroInfo articles on object types from KStars' handbook (Debian ``kstars-data``, GFDL)."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from hubbleclip.errors import UserError
from hubbleclip.io import cache_root

CREDIT = "KStars AstroInfo project (GFDL)"
# article file -> the normalised types it describes
ARTICLES = {
    "spiralgalaxies.docbook": ("spiral galaxy", "barred spiral galaxy"),
    "ellipticalgalaxies.docbook": ("elliptical galaxy", "lenticular galaxy"),
    "stars.docbook": ("star", "double star"),
}
SEARCH_PATHS = ("/usr/share/doc/HTML/en/kstars",)


def find_kstars_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    candidates = [Path(explicit)] if explicit else []
    if not explicit:
        candidates.append(cache_root("debian", "root", "usr", "share", "doc", "HTML", "en", "kstars"))
        candidates += [Path(p) for p in SEARCH_PATHS]
    for path in candidates:
        if (path / "astroinfo.docbook").is_file():
            return path
    return None


def article_text(path: Path, max_chars: int = 1200) -> str:
    """Plain text of a docbook article: its paragraphs, entities and markup removed."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    raw = re.sub(r"&[A-Za-z0-9.-]+;", " ", raw)  # docbook entities (&kstars;) are not defined here
    raw = re.sub(r"<!DOCTYPE.*?>", "", raw, flags=re.S)
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise UserError(f"{path}: not readable as docbook XML ({exc})") from exc
    paras = [" ".join("".join(p.itertext()).split()) for p in root.iter("para")]
    text = " ".join(p for p in paras if p)
    if len(text) > max_chars:
        text = text[:max_chars].rsplit(". ", 1)[0] + "."
    return text


def load_articles(kstars_dir: Path) -> dict[str, str]:
    """Normalised type -> article text, for the articles present."""
    out: dict[str, str] = {}
    for name, types in ARTICLES.items():
        path = kstars_dir / name
        if path.is_file():
            text = article_text(path)
            for t in types:
                out[t] = text
    return out
