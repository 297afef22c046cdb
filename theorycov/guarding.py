"""Glue between a stored run and the guard: rebuild the guard from a run folder and the database, look
up the sentences behind each edge, and store decisions with their explanations."""
from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING

import torch

from theorycov.coverage.constraints import ConstraintSet
from theorycov.coverage.guard.explain import Decision, EvidenceRef, render_text
from theorycov.coverage.guard.guard import Guard, GuardConfig
from theorycov.coverage.posterior import PosteriorSample

if TYPE_CHECKING:
    from theorycov.project import Project

__all__ = ["build_guard", "edge_evidence", "store_decision"]


def edge_evidence(project: "Project", domain: str) -> dict[tuple[str, str], list[EvidenceRef]]:
    """Every stored, non-negated claim of a domain, keyed by (cause, effect), strongest first."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from theorycov.corpus.store import citation_of
    from theorycov.db import models as m
    from theorycov.db.session import session_scope

    out: dict[tuple[str, str], list[EvidenceRef]] = {}
    with session_scope(project.engine) as s:
        dom = s.scalar(select(m.Domain).where(m.Domain.name == domain))
        if dom is None:
            return out
        q = (select(m.Claim).join(m.Variable, m.Claim.cause_id == m.Variable.id).where(m.Variable.domain_id == dom.id)
             .options(selectinload(m.Claim.paper), selectinload(m.Claim.cause), selectinload(m.Claim.effect)))  # fmt: skip
        for c in s.scalars(q):
            if c.negated or c.relation == "no_effect":
                continue
            cit = citation_of(c.paper)
            ref = EvidenceRef(cit.short(), c.sentence, c.paper.pmid, c.paper.doi, c.id, c.relation)
            out.setdefault((c.cause.name, c.effect.name), []).append(ref)
    return out


def build_guard(project: "Project", run_id: int, *, bound: str = "human", threshold: float = 0.5) -> Guard:
    """The guard of a finished run (cached per project, run and settings)."""
    return _cached(project, run_id, bound, threshold)


@lru_cache(maxsize=8)
def _cached(project: "Project", run_id: int, bound: str, threshold: float) -> Guard:
    from theorycov.corpus.domain import load_domain
    from theorycov.datasets import load_domain_data
    from theorycov.db import models as m
    from theorycov.db.session import session_scope
    from theorycov.project import ProjectError

    with session_scope(project.engine) as s:
        run = s.get(m.Run, run_id)
        if run is None or run.status != "finished":
            raise ProjectError(f"run {run_id} does not exist or has not finished")
        config = dict(run.config)
    run_dir = project.workdir / f"run-{run_id}"
    if not (run_dir / "posterior.pt").is_file():
        raise ProjectError(f"the posterior sample of run {run_id} is missing ({run_dir / 'posterior.pt'}); retrain with `theorycov train`")
    dom = load_domain(config.get("domain_spec", config["domain"]))
    data_arg = None if config.get("data") in (None, "bundled") else config["data"]
    table = load_domain_data(dom.name, data_arg, dom.names)
    post = PosteriorSample.load(run_dir / "posterior.pt")
    ids = list(config.get("hypothesis_ids", []))
    by_id = {i: (h, cites) for i, h, cites in project.hypotheses(dom.name)}
    hyps = [by_id[i] for i in ids if i in by_id]
    cs, p_min = None, None
    if hyps and (run_dir / "floor.pt").is_file():
        cs = ConstraintSet([h for h, _ in hyps], dom.names)
        p_min = torch.load(run_dir / "floor.pt", weights_only=False)["p_min"]
    evidence = edge_evidence(project, dom.name)
    citations = [[c.short() for c in cites] for _, cites in hyps]
    guard = Guard(
        dom.names, torch.as_tensor(table.values), torch.as_tensor(table.intervened), post.graphs, post.log_reward, post.log_weight,
        constraints=cs, p_min=p_min, aliases={v.name: v.all_aliases() for v in dom.variables},
        evidence=lambda a, b: evidence.get((a, b), []), citations=lambda h: citations[h],
        exact=post.exact, config=GuardConfig(bound=bound, threshold=threshold),
    )
    guard.hypothesis_ids = [i for i in ids if i in by_id]  # type: ignore[attr-defined]
    guard.run_id = run_id  # type: ignore[attr-defined]
    return guard


def store_decision(project: "Project", run_id: int, guard: Guard, decision: Decision) -> Decision:
    """Persist a decision (inputs, every estimate, deciding theory, explanation) and return it with its id."""
    import dataclasses

    from theorycov.db import crud
    from theorycov.db import models as m
    from theorycov.db.session import session_scope

    ids = getattr(guard, "hypothesis_ids", [])
    deciding = None
    if decision.deciding_theory is not None and guard.constraints is not None:
        renders = [h.render() for h in guard.constraints.hypotheses]
        deciding = ids[renders.index(decision.deciding_theory)] if decision.deciding_theory in renders else None
    explanation = json.loads(decision.to_json())
    explanation["text"] = render_text(decision)
    with session_scope(project.engine) as s:
        run = s.get(m.Run, run_id)
        row = crud.add_decision(
            decision.status.value, session=s,
            inputs={"action": decision.action, "harm": decision.harm, "bound": decision.bound, "threshold": decision.threshold},
            estimates=decision.estimates, explanation=explanation, deciding_hypothesis_id=deciding, run_id=run_id,
            model_version=f"run-{run_id}", data_version=(run.data_hash or "")[:16] if run else "",
        )
        new_id = row.id
    out = dataclasses.replace(decision, decision_id=new_id, versions={"model": f"run-{run_id}"})
    return out
