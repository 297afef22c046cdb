"""The face's own exceptions (the stages raise theirs: CorpusError, HypothesisError, GuardInputError,
GFNError, RunError; the database layer DatabaseOpenError). The CLI maps each class to one exit code::

    ValueError
     +-- InputError             an argument outside what it accepts (threshold, k, ids, choices)   exit 2
    RuntimeError
     +-- ProjectError           a precondition failed (no run, no decision, no audit)               exit 3
          +-- RunFolderError    a run's folder is missing or belongs to another database             exit 3

Exit code 1 is never an error: it means "the guard blocked the action".
"""
from __future__ import annotations

__all__ = ["InputError", "ProjectError", "RunFolderError"]


class InputError(ValueError):
    """An argument of the API or the command line is outside the values it accepts; the message names them."""


class ProjectError(RuntimeError):
    """A project-level precondition failed (no hypotheses, no trained run, unknown decision id...)."""


class RunFolderError(ProjectError):
    """A run's folder is missing, or holds the run of another database (a copy of this one, or the original)."""
