"""theorycov: literature-grounded causal posteriors and a harm guard no worse than any human theory.

The four parts are installed as subpackages: ``theorycov.gfn`` (posterior over causal graphs),
``theorycov.corpus`` (papers to hypotheses), ``theorycov.coverage`` (human theories as modes, the guard)
and ``theorycov.db`` (storage). This module is the face: the public API (:class:`Project`) and the
command line (``theorycov``). Names load on first use, so ``import theorycov`` stays fast.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Project", "ProjectError", "TrainResult", "__version__"]

if TYPE_CHECKING:
    from theorycov.project import Project, ProjectError, TrainResult


def __getattr__(name: str) -> Any:
    if name in ("Project", "ProjectError", "TrainResult"):
        from theorycov import project

        return getattr(project, name)
    raise AttributeError(f"module 'theorycov' has no attribute {name!r}")
