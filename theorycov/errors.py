"""The face's own exception (the stages raise theirs: CorpusError, HypothesisError, GuardInputError,
GFNError, RunError); the CLI maps them to exit codes: 2 bad input, 3 a missing precondition."""
from __future__ import annotations

__all__ = ["ProjectError"]


class ProjectError(RuntimeError):
    """A project-level precondition failed (no hypotheses, no trained run, unknown decision id...)."""
