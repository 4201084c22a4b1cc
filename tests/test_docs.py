"""The docs stay true to the code: every `hubbleclip ...` line in a fenced shell block parses with
today's CLI, the architecture page shows the layers import-linter enforces, and the README stays a
front page."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from hubbleclip.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 250
# a line the docs mean as a pattern, not a runnable command, carries this comment
PLACEHOLDER = "# placeholder"
SHELL_LANGS = {"bash", "sh", "shell", "console"}  # every line is a command
PROMPT_LANGS = {"text", ""}  # only `$ ` lines are commands; the rest is output
FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)")
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class CommandLine:
    file: str
    line: int  # 1-based line of the command's first physical line
    text: str  # the logical line, continuations joined

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.text}"


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _logical_lines(block: list[tuple[int, str]], lang: str):
    """(line number, text) of each command in a fenced block: `\\` continuations joined, `$ ` dropped."""
    pending: tuple[int, str] | None = None
    for number, raw in block:
        if pending is None:
            stripped = raw.strip()
            if lang in PROMPT_LANGS:
                if not stripped.startswith("$ "):
                    continue
                stripped = stripped[2:]
            elif stripped.startswith("$ "):
                stripped = stripped[2:]
            pending = (number, stripped)
        else:
            pending = (pending[0], pending[1] + " " + raw.strip())
        if pending[1].endswith("\\"):
            pending = (pending[0], pending[1][:-1].rstrip())
            continue
        yield pending
        pending = None
    if pending is not None:
        yield pending


def command_lines(markdown: str, name: str) -> list[CommandLine]:
    """Every `hubbleclip ...` command in the shell blocks of one Markdown text."""
    found: list[CommandLine] = []
    fence: str | None = None
    lang = ""
    block: list[tuple[int, str]] = []
    for number, raw in enumerate(markdown.splitlines(), start=1):
        m = FENCE.match(raw)
        if fence is None:
            if m:
                fence, lang, block = m.group(1), m.group(2).lower(), []
            continue
        if m and m.group(1).startswith(fence) and not m.group(2):
            if lang in SHELL_LANGS | PROMPT_LANGS:
                for start, text in _logical_lines(block, lang):
                    if PLACEHOLDER in text:
                        continue
                    # `a && hubbleclip ...`: each command of a list on its own
                    for part in re.split(r"\s(?:&&|\|\||;|\|)\s", text):
                        words = part.split()
                        while words and ENV_ASSIGNMENT.match(words[0]):
                            words.pop(0)
                        if words and words[0] == "hubbleclip":
                            found.append(CommandLine(name, start, " ".join(words)))
            fence = None
            continue
        block.append((number, raw))
    return found


ALL_COMMANDS = [
    cmd
    for path in doc_files()
    for cmd in command_lines(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
]


def test_the_docs_show_commands():
    # the README's tour alone has several; an empty list means the collector broke
    assert sum(cmd.file == "README.md" for cmd in ALL_COMMANDS) >= 5
    assert len({cmd.file for cmd in ALL_COMMANDS}) >= 5


def test_every_documented_command_parses():
    parser = build_parser()
    failures = []
    for cmd in ALL_COMMANDS:
        try:
            argv = shlex.split(cmd.text, comments=True)[1:]
        except ValueError as exc:
            failures.append(f"{cmd}\n    not shell syntax: {exc}")
            continue
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                parser.parse_args(argv)
        except SystemExit as exc:
            if exc.code not in (0, None):  # `--help` exits 0
                failures.append(f"{cmd}\n    {err.getvalue().strip().splitlines()[-1]}")
    assert not failures, "documented commands the CLI rejects:\n" + "\n".join(failures)


def test_readme_is_a_front_page():
    n = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    assert n <= README_MAX_LINES, f"README.md has {n} lines; move the detail into docs/ (at most 250)"


def _layers(layers: Iterable[str]) -> list[str]:
    """Each layer as `a | b`, whatever the spacing around its bars."""
    return [" | ".join(part.strip() for part in layer.split("|")) for layer in layers]


def test_the_architecture_page_shows_the_enforced_layers():
    # the import-linter contract (`lint-imports` in `make lint`) is the truth; the page's picture follows it
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    contract = re.search(r"^layers = \[(.*?)^\]", pyproject, re.S | re.M)
    assert contract, "pyproject.toml: no layers = [...] under [tool.importlinter]"
    enforced = _layers(re.findall(r'"([^"]+)"', contract.group(1)))
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = re.search(r"## The layers\n.*?```text\n(.*?)```", page, re.S)
    assert block, "docs/architecture.md: no ```text block under '## The layers'"
    shown = _layers(re.split(r"\s{2,}", line.strip())[0] for line in block.group(1).splitlines())
    assert shown == enforced


def test_readme_links_point_at_files():
    # mkdocs checks the links inside docs/; the README sits outside it
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    missing = [t for t in targets if "://" not in t and not (ROOT / t).exists()]
    assert targets and not missing, f"README.md links to missing files: {missing}"


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        (
            "```bash\nhubbleclip search M31 \\\n    -k 3   # a comment\n```\n",
            ["hubbleclip search M31 -k 3 # a comment"],
        ),
        ("```text\n$ hubbleclip similar M51\nhubbleclip similar: output\n```\n", ["hubbleclip similar M51"]),
        (
            "```bash\nKEY=1 hubbleclip demo && hubbleclip serve\n```\n",
            ["hubbleclip demo", "hubbleclip serve"],
        ),
        ("```python\nhubbleclip = 1\n```\n", []),
        ("```bash\nhubbleclip search NAME  # placeholder\n```\n", []),
    ],
)
def test_the_collector_reads_shell_blocks(markdown, expected):
    assert [c.text for c in command_lines(markdown, "page.md")] == expected
