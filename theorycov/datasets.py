"""Data tables for a domain: the bundled Sachs data, or a user's CSV file.

A user CSV has one column per domain variable (named exactly as the domain's variables) and,
optionally, a column ``intervention_target`` naming the variable a perfect intervention set in that
row (empty for observational rows; several targets separated by ``;``). Continuous values are
log-transformed when asked and standardized on the observational rows.
"""
from __future__ import annotations

import csv
import hashlib
import io
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from theorycov.gfn import DataTable, load_sachs
from theorycov.gfn.errors import DataError

__all__ = ["DataError", "INTERVENTION_COLUMN", "MIN_ROWS_PER_VARIABLE", "data_hash", "load_csv", "load_domain_data"]

INTERVENTION_COLUMN = "intervention_target"
MIN_ROWS_PER_VARIABLE = 10  # below this many observational rows per variable a warning says the data are too few

logger = logging.getLogger(__name__)


def load_csv(path: str | Path, variables: Sequence[str], *, log_transform: bool = False) -> DataTable:
    """Read a CSV whose columns are the domain's variables (plus an optional intervention column).

    Raises DataError for every problem, naming the line and the column: undecodable bytes, a header with a
    duplicate, unnamed, missing or unknown column (and a column that differs from a variable only in case),
    a row with the wrong number of fields, an empty, non-numeric or non-finite cell, an unknown intervention
    target, and data with fewer than two observational rows. Logs a warning when the table is too small to
    learn from (fewer than :data:`MIN_ROWS_PER_VARIABLE` observational rows per variable).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file {path} does not exist" + (" (it is a folder)" if path.is_dir() else ""))
    text = _decode(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise DataError(f"{path}: the file is empty; the first line must name the columns ({', '.join(variables)})") from None
    except csv.Error as err:
        raise DataError(f"{path}, line 1: not CSV ({err})") from None
    cols = _columns(path, header, variables)
    rows, targets = [], []
    try:
        for fields in reader:
            line = reader.line_num
            if not fields or all(not f.strip() for f in fields):
                continue  # blank lines (a trailing newline, spacing) are not rows
            if len(fields) != len(header):
                raise DataError(f"{path}, line {line}: {len(fields)} fields, but the header has {len(header)} columns")
            rows.append([_cell(path, line, cols[v], v, fields[cols[v]]) for v in variables])
            targets.append((line, fields[cols[INTERVENTION_COLUMN]].strip() if INTERVENTION_COLUMN in cols else ""))
    except csv.Error as err:
        raise DataError(f"{path}, line {reader.line_num}: not CSV ({err})") from None
    if not rows:
        raise DataError(f"{path}: no data rows under the header")
    values = np.asarray(rows, dtype=np.float64)
    intervened = np.zeros_like(values, dtype=bool)
    for r, (line, t) in enumerate(targets):
        for name in filter(None, (x.strip() for x in t.split(";"))):
            if name not in variables:
                raise DataError(f"{path}, line {line}, column {cols[INTERVENTION_COLUMN] + 1} ({INTERVENTION_COLUMN}): intervention "
                                f"target {name!r} is not a variable of the domain ({', '.join(variables)})")
            intervened[r, list(variables).index(name)] = True
    if log_transform:
        bad = np.argwhere(values <= 0)
        if len(bad):
            r, j = bad[0]
            raise DataError(f"{path}, line {targets[r][0]}, column {cols[variables[j]] + 1} ({variables[j]!r}): the log transform "
                            f"needs positive values, got {values[r, j]:g}")
        values = np.log(values)
    obs = ~intervened.any(1)
    n_obs = int(obs.sum())
    if n_obs < 2:
        raise DataError(
            f"{path}: {n_obs} observational row(s) (rows with an empty {INTERVENTION_COLUMN}) of {len(rows)}; the data are "
            "standardized on the observational rows and the guard's percentiles are observational, so at least 2 are needed"
            + ("; every row names an intervention target" if n_obs == 0 else ""))
    mean, std = values[obs].mean(0), values[obs].std(0)
    if np.any(std == 0):
        raise DataError(f"{path}: a variable is constant on the observational rows: {[v for v, s in zip(variables, std) if s == 0]}")
    if n_obs < MIN_ROWS_PER_VARIABLE * len(variables):
        logger.warning("%s: only %d observational rows for %d variables (fewer than %d per variable): the posterior will mostly "
                       "repeat the prior and the literature; collect more data before trusting its decisions",
                       path, n_obs, len(variables), MIN_ROWS_PER_VARIABLE)
    return DataTable((values - mean) / std, tuple(variables), intervened)


def _decode(path: Path) -> str:
    """The file as text (UTF-8, with or without a byte-order mark); DataError naming the line of a bad byte."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DataError(f"{path}, line {line}, byte {col}: not UTF-8 (byte 0x{data[exc.start]:02x}); save the file as "
                        "UTF-8 (e.g. iconv -f latin1 -t utf-8)") from None


def _columns(path: Path, header: list[str], variables: Sequence[str]) -> dict[str, int]:
    """Column name -> 0-based position, after checking the header: no unnamed or duplicate column, every
    variable present, nothing unknown (a column that matches a variable only up to case is named as such)."""
    for i, h in enumerate(header):
        if not h:
            raise DataError(f"{path}, line 1, column {i + 1}: the column has no name")
    seen: dict[str, int] = {}
    for i, h in enumerate(header):
        if h in seen:
            raise DataError(f"{path}, line 1: column {h!r} appears twice (columns {seen[h] + 1} and {i + 1})")
        seen[h] = i
    allowed = (*variables, INTERVENTION_COLUMN)
    missing = [v for v in variables if v not in seen]
    unknown = [h for h in header if h not in allowed]
    if missing or unknown:
        by_case = {a.casefold(): a for a in allowed}
        hints = [f"column {h!r} (column {seen[h] + 1}) differs from {by_case[h.casefold()]!r} only in case"
                 for h in unknown if h.casefold() in by_case]
        raise DataError(
            f"{path}, line 1: the columns must be the domain's variables ({', '.join(variables)}) and optionally "
            f"{INTERVENTION_COLUMN}; missing: {', '.join(missing) or 'none'}; unknown: {', '.join(unknown) or 'none'}"
            + (f"; {'; '.join(hints)}: variable names are case-sensitive" if hints else ""))
    return seen


def _cell(path: Path, line: int, col: int, name: str, raw: str) -> float:
    """One value, or DataError naming line, column and what is wrong with it."""
    where = f"{path}, line {line}, column {col + 1} ({name!r})"
    text = raw.strip()
    if not text:
        raise DataError(f"{where}: the cell is empty; every variable needs a value in every row")
    try:
        x = float(text)
    except ValueError:
        raise DataError(f"{where}: is not a number ({raw!r})") from None
    if not math.isfinite(x):
        raise DataError(f"{where}: is not a finite number ({raw!r}); remove or impute the row")
    return x


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
