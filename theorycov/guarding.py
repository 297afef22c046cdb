"""Glue between a stored run and the guard: load the fitted run, attach the sentences behind each edge,
and store decisions with their explanations. Takes the engine, never the Project (no import cycle)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from sqlalchemy.engine import Engine

from theorycov.coverage.guard.explain import Decision, render_text
from theorycov.coverage.guard.guard import Guard, GuardConfig
from theorycov.coverage.run import FittedRun, RunError
from theorycov.errors import ProjectError

__all__ = ["load_guard", "store_decision"]


def load_guard(engine: Engine, run_id: int, run_dir: Path, config: GuardConfig) -> Guard:
    """The guard of a finished run: its saved FittedRun plus the domain's stored evidence sentences."""
    from theorycov.corpus.store import edge_evidence
    from theorycov.db import crud
    from theorycov.db.session import session_scope

    with session_scope(engine) as s:
        run = crud.get_run(run_id, session=s)
        if run is None or run.status != "finished":
            raise ProjectError(f"run {run_id} does not exist or has not finished")
    try:
        fitted = FittedRun.load(run_dir)
    except RunError as err:
        raise ProjectError(f"the posterior of run {run_id} cannot be used: {err}; retrain with `theorycov train`") from err
    excluded = [e.theory.id for e in fitted.theories.excluded if e.theory.id is not None] if fitted.theories is not None else []
    with session_scope(engine) as s:
        evidence = edge_evidence(session=s, domain=fitted.domain, excluded=excluded)
    return fitted.guard(evidence=lambda a, b: evidence.get((a, b), []), config=config)


def store_decision(engine: Engine, run_id: int, decision: Decision) -> Decision:
    """Persist a decision (inputs, every estimate, deciding theory, explanation) and return it with its id."""
    from theorycov.db import crud
    from theorycov.db.session import session_scope

    explanation = json.loads(decision.to_json())
    explanation["text"] = render_text(decision)
    with session_scope(engine) as s:
        run = crud.get_run(run_id, session=s)
        row = crud.add_decision(
            decision.status.value, session=s,
            inputs={"action": decision.action, "harm": decision.harm, "bound": decision.bound, "threshold": decision.threshold},
            estimates=decision.estimates, explanation=explanation, deciding_hypothesis_id=decision.deciding_theory_id, run_id=run_id,
            model_version=f"run-{run_id}", data_version=(run.data_hash or "")[:16] if run else "",
        )
        new_id = row.id
    return dataclasses.replace(decision, decision_id=new_id, versions={"model": f"run-{run_id}"})
