"""Data tables for a domain: the bundled Sachs data, or a user's CSV file.

A user CSV has one column per domain variable (named exactly as the domain's variables) and,
optionally, a column ``intervention_target`` naming the variable a perfect intervention set in that
row (empty for observational rows; several targets separated by ``;``). Continuous values are
log-transformed when asked and standardized on the observational rows.
"""
from __future__ import annotations

import csv
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from theorycov.gfn import DataTable, load_sachs
from theorycov.gfn.errors import DataError

__all__ = ["DataError", "data_hash", "load_csv", "load_domain_data"]

INTERVENTION_COLUMN = "intervention_target"


def load_csv(path: str | Path, variables: Sequence[str], *, log_transform: bool = False) -> DataTable:
    """Read a CSV whose columns are the domain's variables (plus an optional intervention column).

    Raises DataError naming missing or unknown columns, non-numeric cells (with row and column), and
    unknown intervention targets.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file {path} does not exist")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [v for v in variables if v not in header]
        unknown = [h for h in header if h not in variables and h != INTERVENTION_COLUMN]
        if missing or unknown:
            raise DataError(
                f"{path}: the columns must be the domain's variables ({', '.join(variables)}) and optionally "
                f"{INTERVENTION_COLUMN}; "
                f"missing: {', '.join(missing) or 'none'}; unknown: {', '.join(unknown) or 'none'}"
            )
        rows, targets = [], []
        for lineno, row in enumerate(reader, start=2):
            try:
                rows.append([float(row[v]) for v in variables])
            except (TypeError, ValueError):
                bad = next(v for v in variables if not _is_float(row.get(v)))
                raise DataError(f"{path}, line {lineno}: column {bad!r} is not a number ({row.get(bad)!r})") from None
            targets.append((row.get(INTERVENTION_COLUMN) or "").strip())
    if not rows:
        raise DataError(f"{path}: no data rows")
    values = np.asarray(rows, dtype=np.float64)
    intervened = np.zeros_like(values, dtype=bool)
    for r, t in enumerate(targets):
        for name in filter(None, (x.strip() for x in t.split(";"))):
            if name not in variables:
                raise DataError(f"{path}, line {r + 2}: intervention target {name!r} is not a variable of the domain")
            intervened[r, list(variables).index(name)] = True
    if log_transform:
        if np.any(values <= 0):
            raise DataError(f"{path}: log transform needs positive values")
        values = np.log(values)
    obs = ~intervened.any(1)
    mean, std = values[obs].mean(0), values[obs].std(0)
    if np.any(std == 0):
        raise DataError(f"{path}: a variable is constant on the observational rows: {[v for v, s in zip(variables, std) if s == 0]}")
    return DataTable((values - mean) / std, tuple(variables), intervened)


def _is_float(x: object) -> bool:
    try:
        float(x)  # type: ignore[arg-type]
        return True
    except (TypeError, ValueError):
        return False


def load_domain_data(domain: str, data: str | Path | None, variables: Sequence[str]) -> DataTable:
    """The data a domain trains on: a user file when given; for the shipped Sachs domain the 853
    observational cd3cd28 cells (log intensities, standardized)."""
    if data is not None:
        return load_csv(data, variables)
    if domain == "sachs":
        table = load_sachs(observational_only=True)
        if set(table.names) != set(variables):
            raise DataError(f"the Sachs data's variables {table.names} do not match the domain's {tuple(variables)}")
        order = [table.names.index(v) for v in variables]  # the domain's variable order everywhere
        return DataTable(table.values[:, order], tuple(variables), None if table.intervened is None else table.intervened[:, order])
    raise DataError(f"domain {domain!r} has no bundled data: pass --data FILE.csv with one column per variable")


def data_hash(table: DataTable) -> str:
    """SHA-256 of the values, intervention mask and names: the data version of a run."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(table.values).tobytes())
    h.update(np.ascontiguousarray(table.intervened).tobytes() if table.intervened is not None else b"")
    h.update("\x1f".join(table.names).encode())
    return h.hexdigest()
