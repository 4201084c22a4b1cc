"""Package attributes imported on first use.

A package's ``__init__`` may re-export its heavy entry points (``run_evaluation``, ``train``, ...)
without importing them: importing one of its torch-free config modules (for ``--help``) runs that
``__init__``, which must stay light.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_attributes(package: str, where: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``package.<where[name]>`` when ``name`` is first used."""

    def __getattr__(name: str) -> Any:
        if name in where:
            return getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
