"""The public Python API: a :class:`Project` is a database (any SQLAlchemy URL) plus a working folder
for run artefacts (checkpoints, posterior samples, audit reports).

    from theorycov import Project
    p = Project("sqlite:///theorycov.db")
    p.ingest(["papers/"], domain="sachs")            # papers -> grounded, indexed hypotheses
    run = p.train(domain="sachs", minutes=3)          # GFlowNet posterior with the coverage objective
    p.audit(run.run_id, html="audit.html")            # coverage audit of every human theory
    d = p.check("inhibit PKC", "Erk < q10")           # guard decision, stored
    print(p.explain(d.decision_id))                   # plain-language explanation
"""
from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from theorycov.datasets import data_hash, load_domain_data
from theorycov.errors import ProjectError

if TYPE_CHECKING:
    from theorycov.coverage.guard.explain import Decision
    from theorycov.coverage.guard.guard import Guard
    from theorycov.db.schemas import Theory

logger = logging.getLogger(__name__)

__all__ = ["Project", "ProjectError", "TrainResult"]


@dataclass(frozen=True)
class TrainResult:
    run_id: int
    run_dir: Path
    iterations: int
    seconds: dict[str, float]
    covered_share: float | None
    min_q_over_p: float | None
    html_path: Path | None


class Project:
    """Everything a user does, over one database.

    Args:
        db_url: SQLAlchemy URL or SQLite path (default: $THEORYCOV_DB_URL or sqlite:///theorycov.db).
        workdir: folder for run artefacts (default: ``theorycov-runs`` beside a SQLite file, else ./theorycov-runs).
    """

    def __init__(self, db_url: str | None = None, workdir: str | Path | None = None) -> None:
        from theorycov.db.session import default_url, init_db, normalize_url

        self.db_url = normalize_url(db_url) if db_url else default_url()
        self.engine = init_db(self.db_url)
        if workdir is None:
            db_file = self.engine.url.database if self.engine.url.get_backend_name() == "sqlite" else None
            workdir = _stored_workdir(self.engine) or (Path(db_file).resolve().parent if db_file else Path.cwd()) / "theorycov-runs"
        self.workdir = Path(workdir)
        self._guards: dict[tuple[int, str, float], Guard] = {}

    # ------------------------------------------------------------------ reading
    def ingest(self, paths: Iterable[str | Path] | str | Path, domain: str = "sachs", *, extractor: str = "auto", progress: bool = True):  # noqa: ANN201
        """Ingest papers; ``extractor`` is 'llm' (the local model), 'rules', or 'auto' (the model when the
        llm extra is installed, else the rules with a warning). Returns the IngestSummary."""
        from theorycov.corpus.pipeline import IngestConfig, ingest

        return ingest(paths, domain, self.db_url, extractor=_extractor(extractor), config=IngestConfig(progress=progress))

    def search(self, text: str, k: int = 5):  # noqa: ANN201
        """Hypotheses nearest in meaning to ``text`` (FAISS over renderings and evidence sentences)."""
        from theorycov.corpus.index import search

        return search(text, k, db_url=self.db_url)

    def hypotheses(self, domain: str = "sachs") -> list[Theory]:
        """The stored theories of a domain (id, hypothesis with its claims, citations)."""
        from theorycov.corpus.store import load_hypotheses
        from theorycov.db.session import session_scope

        with session_scope(self.engine) as s:
            return load_hypotheses(session=s, domain=domain)

    # ------------------------------------------------------------------ learning
    def train(self, domain: str = "sachs", *, data: str | Path | None = None, minutes: float = 3.0, iterations: int | None = None,
              use_coverage: bool = True, seed: int = 0, n_samples: int = 5_000, power: float = 1.0, progress: bool = True) -> TrainResult:
        """Fit the posterior over the domain's causal graphs with the human hypotheses as floor and
        coverage targets; stores a Run and its Audit; writes the run folder. The budget is ``minutes`` of
        wall time, or exactly ``iterations`` when given (reproducible whatever the machine's load).
        ``power`` < 1 tempers the likelihood (generalized Bayes for misspecified models; gfn.scores.tempered)."""
        from theorycov.corpus.domain import load_domain
        from theorycov.corpus.llm.backends import free_threads
        from theorycov.coverage.posterior import FitConfig, fit_posterior
        from theorycov.coverage.theories import TheorySet, evidence_weights
        from theorycov.db import crud
        from theorycov.db.session import session_scope
        from theorycov.gfn import TrainerConfig

        # torch's threads wait for each other; on a shared machine one stalled thread stalls them all
        torch.set_num_threads(free_threads())
        dom = load_domain(domain)
        table = load_domain_data(dom.name, data, dom.names)
        theories = TheorySet.select(evidence_weights(self.hypotheses(dom.name)), dom.names)
        if not len(theories):
            logger.warning("no usable hypotheses for domain %s: training without a human floor", dom.name)
        cfg = FitConfig(minutes=None if iterations is not None else minutes, use_coverage=use_coverage, n_samples=n_samples,
                        likelihood_power=power, progress=progress,
                        # time-budgeted: the horizon only sets the schedule; the progress bar counts seconds
                        trainer=TrainerConfig(seed=seed, num_iterations=iterations if iterations is not None else 1_000_000,
                                              progress=progress and iterations is not None))
        with session_scope(self.engine) as s:
            drow = crud.get_domain(dom.name, session=s)
            run_id = crud.add_run(session=s, config={"fit": _jsonable(cfg), "domain": dom.name,
                                                     "data": str(Path(data).resolve()) if data else "bundled",
                                                     "hypothesis_ids": theories.ids},
                                  domain_id=drow.id if drow else None, data_hash=data_hash(table)).id
        run_dir = (self.workdir / f"run-{run_id}").resolve()  # absolute: stored paths must work from any folder
        run_dir.mkdir(parents=True, exist_ok=True)
        fitted = fit_posterior(table, theories, config=cfg, run_dir=run_dir, domain=dom.name,
                               aliases={v.name: list(v.all_aliases()) for v in dom.variables})
        assert fitted.trainer is not None
        fitted.trainer.save(run_dir / "checkpoint.pt")
        fitted.save(run_dir)
        html, report = None, fitted.report
        metrics: dict[str, object] = {"iterations": fitted.iterations, "seconds": fitted.seconds, "distinct_graphs": int(fitted.sample.graphs.shape[0])}
        if report is not None:
            html = run_dir / "audit.html"
            html.write_text(report.to_html(), encoding="utf-8")
            (run_dir / "audit.json").write_text(report.to_json(), encoding="utf-8")
            metrics.update(covered_share=report.covered_share, min_q_over_p=report.min_q_over_p)
        with session_scope(self.engine) as s:
            crud.finish_run(run_id, metrics, session=s, checkpoint_path=str(run_dir / "checkpoint.pt"))
            if report is not None:
                crud.add_audit(json.loads(report.to_json()), session=s, run_id=run_id, html_path=str(html))
        return TrainResult(run_id, run_dir, fitted.iterations, fitted.seconds,
                           None if report is None else report.covered_share,
                           None if report is None else report.min_q_over_p, html)

    def latest_run(self) -> int:
        from theorycov.db import crud
        from theorycov.db.session import session_scope

        with session_scope(self.engine) as s:
            run = crud.latest_finished_run(session=s)
            if run is None:
                raise ProjectError("no finished training run in this database: run `theorycov train` first")
            return int(run.id)

    def audit(self, run_id: int | None = None, html: str | Path | None = None) -> dict:
        """The stored audit report of a run (latest by default); writes its HTML to ``html`` if given."""
        from theorycov.db import crud
        from theorycov.db.session import session_scope

        run_id = run_id or self.latest_run()
        with session_scope(self.engine) as s:
            row = crud.latest_audit(session=s, run_id=run_id)
            if row is None:
                raise ProjectError(f"run {run_id} has no audit (it was trained without hypotheses)")
            report, src = dict(row.report), row.html_path
        if html is not None and src:
            Path(html).write_text(Path(src).read_text(encoding="utf-8"), encoding="utf-8")
        return report

    # ------------------------------------------------------------------ guarding
    def guard(self, run_id: int | None = None, *, bound: str = "human", threshold: float = 0.5) -> Guard:
        """The guard over a run's fitted posterior (cached per run and settings)."""
        from theorycov.coverage.guard.guard import GuardConfig
        from theorycov.guarding import load_guard

        key = (run_id or self.latest_run(), bound, float(threshold))
        if key not in self._guards:
            self._guards[key] = load_guard(self.engine, key[0], self.workdir / f"run-{key[0]}", GuardConfig(bound=bound, threshold=threshold))
        return self._guards[key]

    def check(self, action: str, harm: str, *, bound: str = "human", threshold: float = 0.5, run_id: int | None = None, store: bool = True) -> Decision:
        """Decide whether ``action`` is allowed given ``harm``; stores the Decision (its id is set)."""
        from theorycov.guarding import store_decision

        run_id = run_id or self.latest_run()
        guard = self.guard(run_id, bound=bound, threshold=threshold)
        decision = guard.check(action, harm, bound=bound, threshold=threshold)
        return store_decision(self.engine, run_id, decision) if store else decision

    def explain(self, decision_id: int) -> str:
        """The plain-language explanation of a stored decision."""
        from theorycov.db import crud
        from theorycov.db.session import session_scope

        with session_scope(self.engine) as s:
            row = crud.get_decision(decision_id, session=s)
            if row is None:
                raise ProjectError(f"no decision with id {decision_id} in {self.db_url}")
            return str(row.explanation.get("text", ""))


def _stored_workdir(engine) -> Path | None:  # noqa: ANN001 (SQLAlchemy engine)
    """The folder that holds the latest finished run's folder, when it still exists: a database written
    with another workdir (the demo's ``runs/``) must still find its posterior when opened later by URL
    alone (``theorycov check --db``, ``theorycov serve``)."""
    from theorycov.db import crud
    from theorycov.db.session import session_scope

    with session_scope(engine) as s:
        path = crud.latest_checkpoint_path(session=s)
    run_dir = Path(path).parent if path else None
    return run_dir.parent if run_dir is not None and run_dir.is_dir() else None


def _extractor(kind: str):  # noqa: ANN202
    from theorycov.corpus.rules import RuleExtractor

    if kind == "rules":
        return RuleExtractor()
    from theorycov.corpus.llm.translator import default_extractor, llm_available

    if kind == "llm":
        return default_extractor()
    if kind != "auto":
        raise ProjectError(f"extractor must be 'llm', 'rules' or 'auto', got {kind!r}")
    if llm_available():
        return default_extractor()
    logger.warning("the llm extra is not installed: ingesting with the rule-based extractor")
    return RuleExtractor()


def _jsonable(obj: object) -> object:
    return json.loads(json.dumps(dataclasses.asdict(obj), default=str))  # type: ignore[arg-type]
