"""theorycov: literature-grounded causal posteriors and a harm guard no worse than any human theory.

The four parts are installed as subpackages: ``theorycov.gfn`` (posterior over causal graphs),
``theorycov.corpus`` (papers to hypotheses), ``theorycov.coverage`` (human theories as modes, the guard)
and ``theorycov.db`` (storage). This module is the face: the public API and the command line.
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
