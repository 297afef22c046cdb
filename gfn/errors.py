"""Exceptions raised by theorycov.gfn for bad input.

Every error is raised at the boundary (data tables, graphs, configs, checkpoints) with a message
that says what was wrong and how to fix it; nothing falls back to a silent default.

    GFNError (ValueError)
    ├── ShapeError            a tensor or array has the wrong shape or dtype
    ├── CyclicGraphError      an adjacency matrix that must be a DAG has a cycle
    ├── InvalidActionError    an action is not allowed in its state (duplicate edge, cycle, bad index)
    ├── UnknownVariableError  a variable name is not in the data table
    ├── DataError             a data table is malformed (NaN, wrong arity, missing file)
    ├── ConfigError           a configuration value is out of range
    └── CheckpointError       a checkpoint does not match the trainer that loads it
"""
from __future__ import annotations

__all__ = [
    "GFNError",
    "ShapeError",
    "CyclicGraphError",
    "InvalidActionError",
    "UnknownVariableError",
    "DataError",
    "ConfigError",
    "CheckpointError",
]


class GFNError(ValueError):
    """Base class of every input error raised by theorycov.gfn."""


class ShapeError(GFNError):
    """A tensor or array has the wrong shape or dtype."""


class CyclicGraphError(GFNError):
    """An adjacency matrix that must describe a DAG contains a directed cycle."""


class InvalidActionError(GFNError):
    """An action is not allowed in its state (edge already present, would close a cycle, out of range)."""


class UnknownVariableError(GFNError, KeyError):
    """A variable name is not one of the data table's variables."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataError(GFNError):
    """A data table is malformed or a data file is missing."""


class ConfigError(GFNError):
    """A configuration value is out of range or inconsistent."""


class CheckpointError(GFNError):
    """A checkpoint cannot be loaded into this trainer (different config, shapes or version)."""
