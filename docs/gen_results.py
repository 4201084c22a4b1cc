"""mkdocs hook: the Results page shows the demo's ``runs/demo/REPORT.md``, or says how to make one.

``HUBBLECLIP_DOCS_RUN`` names another run directory (relative to the repository root).  The
report's figures are copied into the site under ``results/``; its other links point at files of
the run that are not part of the site, so they become plain paths.  Without a run the page keeps
its own text, so the docs build on a fresh clone before any demo has run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

RUN_ENV = "HUBBLECLIP_DOCS_RUN"
PAGE = "results.md"
MARKER = "<!-- demo report -->"
SITE_DIR = "results"  # where the report's figures land in the site, next to results.md
LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


def _run_name() -> str:
    return os.environ.get(RUN_ENV, "runs/demo")


def _run_dir(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path).parent / _run_name()


def _local(target: str) -> bool:
    return "://" not in target and not target.startswith(("#", "/", "mailto:"))


def _report(config: MkDocsConfig) -> str | None:
    path = _run_dir(config) / "REPORT.md"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def on_files(files: Files, config: MkDocsConfig) -> Files:
    report = _report(config)
    if report is None:
        return files
    run = _run_dir(config)
    for image, _alt, target in LINK.findall(report):
        if image and _local(target) and (run / target).is_file():
            uri = f"{SITE_DIR}/{target}"
            if files.get_file_from_path(uri) is None:
                files.append(File.generated(config, uri, abs_src_path=str(run / target)))
    return files


def render(report: str, run: Path) -> str:
    """The report as a part of the Results page: its title dropped, its links made to work in the site."""

    def link(m: re.Match[str]) -> str:
        image, alt, target = m.groups()
        if not _local(target):
            return m.group(0)
        if image and (run / target).is_file():
            return f"![{alt}]({SITE_DIR}/{target})"
        return f"{alt} (`{_run_name()}/{target}`)"

    lines = report.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return LINK.sub(link, "\n".join(lines))


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    report = _report(config)
    if report is None:
        note = (
            f'!!! note "No demo run yet"\n    `{_run_name()}/REPORT.md` does not exist: '
            "run `make demo` (or `hubbleclip demo`) and build the docs again."
        )
        return markdown.replace(MARKER, note)
    return markdown.replace(MARKER, render(report, _run_dir(config)))
