"""The four parts install as theorycov subpackages and never as top-level modules."""
from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("part", ["gfn", "corpus", "coverage", "coverage.guard", "db"])
def test_parts_are_subpackages(part: str) -> None:
    mod = importlib.import_module(f"theorycov.{part}")
    assert mod.__name__ == f"theorycov.{part}"
    assert Path(mod.__file__).resolve().is_relative_to(REPO / part.replace(".", "/"))


@pytest.mark.parametrize("name", ["gfn", "coverage", "corpus", "db"])
def test_no_top_level_shadowing(name: str, tmp_path: Path) -> None:
    """Outside the checkout, a top-level import must not reach our folders (torchgfn, coverage.py)."""
    code = (
        "import importlib.util, sys\n"
        f"s = importlib.util.find_spec({name!r})\n"
        "print('' if s is None or s.origin is None else s.origin)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    origin = out.stdout.strip()
    assert not origin or not Path(origin).resolve().is_relative_to(REPO), origin
