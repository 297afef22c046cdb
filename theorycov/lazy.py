"""Lazy package attributes (PEP 562): a package's public names load their module on first use.

One helper for the stage packages (``theorycov.coverage``, ``.coverage.guard``, ``.corpus``, ``.db``), so that
``import theorycov.coverage`` does not pay for torch and SQLAlchemy imports it may never need, and so that each
``__init__`` is only its table of names. The module must not import anything from theorycov: every package
``__init__`` imports it.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, table: Mapping[str, str | None]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: ``table[name]`` is the submodule (relative to the package) that
    defines ``name``, or None when ``name`` is itself a submodule."""

    def __getattr__(name: str) -> Any:
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = table[name]
        if module is None:
            return importlib.import_module(f"{package}.{name}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return __getattr__
