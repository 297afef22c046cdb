"""theorycov.coverage: human theories as modes of the posterior, the coverage audit, and the guard.

    from theorycov.coverage import TheorySet, FitConfig, fit_posterior, FittedRun
    run = fit_posterior(data, TheorySet.select(theories, data.names), config=FitConfig(minutes=3))
    run.save("runs/run-1")                       # run.json + run.pt (tensors only)
    guard = FittedRun.load("runs/run-1").guard()
    guard.check("inhibit PKC", "Erk < q10")

Where each piece lives: ``theories`` (which stored theories are usable, their weights), ``constraints``
(G |= h for batches of graphs), ``prior`` (the human floor), ``objective`` and ``train`` (the coverage
objective and the running audit), ``masses`` (p(h|D), q(h), the refutation rule), ``audit`` and ``report``,
``posterior`` (one call from data and theories to a fitted run) and ``run`` (the artifact), ``mcmc`` (the
MC3 baseline), and ``guard/`` (harm model, bounds, decisions, explanations). Names load on first use.
"""
from __future__ import annotations

from theorycov.lazy import lazy_attributes

_LAZY = {
    "TheorySet": "theories", "Excluded": "theories", "evidence_weights": "theories",
    "ConstraintSet": "constraints", "HypothesisError": "constraints",
    "FloorPrior": "prior", "HypothesisPriorMass": "prior",
    "CoverageConfig": "objective", "CoverageObjective": "objective", "CoverageTraining": "train", "CoverageHistory": "train",
    "MassEstimate": "masses", "Verdict": "masses", "exact_masses": "masses", "importance_masses": "masses", "refuted": "masses",
    "AuditConfig": "audit", "audit": "audit", "AuditReport": "report",
    "FitConfig": "posterior", "fit_posterior": "posterior", "FittedRun": "run", "PosteriorSample": "run", "RunError": "run",
    "StructureMCMC": "mcmc",
    "Guard": "guard.guard", "GuardConfig": "guard.guard", "Bound": "guard.estimators", "Decision": "guard.explain",
}  # fmt: skip


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = sorted(_LAZY)
