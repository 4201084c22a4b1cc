"""Class lists and prompt templates: the shipped ones by name, or any text file by path.

Format: one entry per line, blank lines and ``#`` comments ignored.  Templates contain ``{}``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from hubbleclip.errors import UserError

CLASS_LISTS = {
    "openngc": "openngc_types.txt",
    "first": "first_morphologies.txt",
    "descriptions": "descriptions.txt",
}
TEMPLATE_LISTS = {"default": "templates.txt"}


def _read_lines(name_or_path: str | Path, builtin: dict[str, str], what: str) -> tuple[list[str], str]:
    if str(name_or_path) in builtin:
        file = resources.files("hubbleclip") / "resources" / "classes" / builtin[str(name_or_path)]
        text, where = file.read_text(encoding="utf-8"), f"built-in {what} {name_or_path!r}"
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise FileNotFoundError(f"{what} file {path} not found (built-in names: {', '.join(builtin)})")
        text, where = path.read_text(encoding="utf-8"), str(path)
    lines = [line.strip() for line in text.splitlines()]
    entries = [line for line in lines if line and not line.startswith("#")]
    if not entries:
        raise UserError(f"{where}: no entries (expected one {what} per line)")
    duplicates = sorted({e for e in entries if entries.count(e) > 1})
    if duplicates:
        raise UserError(f"{where}: duplicate entries {duplicates}")
    return entries, where


def load_classes(name_or_path: str | Path) -> list[str]:
    """A class list: ``openngc``, ``first``, ``descriptions`` or a text file."""
    return _read_lines(name_or_path, CLASS_LISTS, "class list")[0]


def load_templates(name_or_path: str | Path = "default") -> list[str]:
    """Prompt templates (``default`` or a text file); each must contain one ``{}``."""
    templates, where = _read_lines(name_or_path, TEMPLATE_LISTS, "template list")
    bad = [t for t in templates if t.count("{}") != 1]
    if bad:
        raise UserError(f"{where}: every template needs exactly one '{{}}' for the class, not {bad[0]!r}")
    return templates
