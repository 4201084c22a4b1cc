"""The one table writer of the package: markdown for reports, rich for the terminal."""

from __future__ import annotations

from collections.abc import Sequence

from hubbleclip.metrics.compare import Comparison


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub markdown table (no trailing newline); cells are written as given."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def comparison_table(comparison: Comparison, metrics: Sequence[str] | None = None, digits: int = 3) -> str:
    """One row per system (``value [low, high]`` per metric), then one per paired difference to the
    reference; ``metrics`` defaults to the reference's, in its order."""
    metrics = list(comparison.estimates[comparison.reference]) if metrics is None else list(metrics)
    rows = [
        [system, *(per[m].format(digits) for m in metrics)] for system, per in comparison.estimates.items()
    ]
    rows += [
        [f"{system} − {comparison.reference}", *(per[m].format(digits) for m in metrics)]
        for system, per in comparison.differences.items()
    ]
    return markdown_table(["system", *metrics], rows)


def _numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return cell == ""
    return True


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None) -> None:
    """Print a table to the terminal; columns of numbers are right-aligned."""
    from rich.console import Console  # kept out of import time: only commands that print need it
    from rich.table import Table

    table = Table(title=title)
    for i, name in enumerate(header):
        numeric = bool(rows) and all(_numeric(row[i]) for row in rows)
        table.add_column(name, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*row)
    Console().print(table)
