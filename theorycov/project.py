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

from theorycov import boundary
from theorycov.datasets import data_hash, load_domain_data
from theorycov.errors import InputError, ProjectError

if TYPE_CHECKING:
    from theorycov.coverage.guard.explain import Decision
    from theorycov.coverage.guard.guard import Guard
    from theorycov.db.schemas import Theory

logger = logging.getLogger(__name__)

__all__ = ["EXTRACTORS", "InputError", "Project", "ProjectError", "TrainResult"]

EXTRACTORS = ("llm", "rules", "auto")


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
        workdir: folder new runs are written into (default: ``<stem>-runs`` beside a SQLite file, else
            ./theorycov-runs; see :mod:`theorycov.runfolders`). Stored runs are read from the folder their
            row names, and only when that folder belongs to this database.
        must_exist: refuse a database that does not exist yet instead of creating it (the commands that
            only read pass it: a mistyped path is an error, not a new empty database).

    Raises:
        DatabaseOpenError: the URL names a folder, a file that is not SQLite, an unreachable server, a
            malformed URL, or (with ``must_exist``) no database.
    """

    def __init__(self, db_url: str | None = None, workdir: str | Path | None = None, *, must_exist: bool = False) -> None:
        from theorycov.db.session import default_url, normalize_url, open_db
        from theorycov.runfolders import default_workdir

        self.db_url = normalize_url(db_url) if db_url else default_url()
        self.engine = open_db(self.db_url, must_exist=must_exist)
        self._explicit_workdir = workdir is not None
        self.workdir = Path(workdir) if workdir is not None else default_workdir(self.engine)
        self._guards: dict[tuple[int, str, float], Guard] = {}

    # ------------------------------------------------------------------ reading
    def ingest(self, paths: Iterable[str | Path] | str | Path, domain: str = "sachs", *, extractor: str = "auto", progress: bool = True,
               workers: int | None = None, ray_address: str | None = None, llm_url: str | None = None):  # noqa: ANN201
        """Ingest papers; ``extractor`` is 'llm' (the local model), 'rules', or 'auto' (the model when the
        llm extra is installed or ``llm_url`` is given, else the rules with a warning). Returns the IngestSummary.

        ``llm_url``: the model translator asks this model server (``theorycov model-server``) instead of
        loading the model here. ``workers``: read on a Ray cluster with this many workers (the scale extra;
        ``ray_address`` names a running cluster, else a local one is started); without it, in this process.
        SQLite does not take parallel writers: with workers the driver alone writes (theorycov.corpus.distributed)."""
        from theorycov.corpus.pipeline import IngestConfig, ingest

        extractor = boundary.choice(extractor, "extractor", EXTRACTORS)
        if llm_url is not None and extractor == "rules":
            raise InputError("--llm-url names a model server for the model translator; drop it, or use --extractor llm")
        if ray_address is not None and workers is None:
            raise InputError("--ray-address needs --workers N: how many Ray workers read the papers")
        config = IngestConfig(progress=progress)
        if workers is None:
            return ingest(paths, domain, self.db_url, extractor=_extractor(extractor, llm_url), config=config)
        from theorycov.corpus.distributed import ScaleConfig, WorkerSpec, ingest_ray

        workers = boundary.positive_int(workers, "workers", maximum=10_000)
        kind = "llm" if extractor == "llm" or llm_url is not None else extractor
        if kind == "auto":
            from theorycov.corpus.llm.translator import llm_available

            kind = "llm" if llm_available() else "rules"
            if kind == "rules":
                logger.warning("the llm extra is not installed: the workers ingest with the rule-based extractor")
        return ingest_ray(paths, domain, self.db_url, spec=WorkerSpec(kind, llm_url=llm_url),
                          scale=ScaleConfig(workers=workers, ray_address=ray_address), config=config)

    def search(self, text: str, k: int = 5):  # noqa: ANN201
        """Hypotheses nearest in meaning to ``text`` (FAISS over renderings and evidence sentences)."""
        from theorycov.corpus.index import search

        if not isinstance(text, str) or not text.strip():
            raise InputError("give a search text, e.g. 'what activates Akt'")
        return search(text, boundary.hits(k), db_url=self.db_url)

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

        minutes = boundary.positive_float(minutes, "minutes")
        if iterations is not None:
            iterations = boundary.positive_int(iterations, "iterations", maximum=10**9)
        n_samples = boundary.positive_int(n_samples, "n_samples", maximum=10**7)
        power = boundary.power(power)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise InputError(f"seed must be a whole number from 0 to {2**63 - 1}; got {seed!r}")
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
        from theorycov.runfolders import start_run_folder

        run_dir = start_run_folder(self.engine, run_id, self.workdir)  # this database's own folder, claimed
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

        run_id = self.latest_run() if run_id is None else boundary.record_id(run_id, "run id")
        with session_scope(self.engine) as s:
            if crud.get_run(run_id, session=s) is None:
                raise ProjectError(f"there is no run {run_id} in this database; `theorycov audit` without --run shows the latest")
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
        from theorycov.runfolders import run_folder

        bound, threshold = boundary.bound_name(bound), boundary.threshold(threshold)
        key = (self.latest_run() if run_id is None else boundary.record_id(run_id, "run id"), bound, threshold)
        if key not in self._guards:
            folder = run_folder(self.engine, key[0], self.workdir if self._explicit_workdir else None)
            self._guards[key] = load_guard(self.engine, key[0], folder, GuardConfig(bound=bound, threshold=threshold))
        return self._guards[key]

    def check(self, action: str, harm: str, *, bound: str = "human", threshold: float = 0.5, run_id: int | None = None, store: bool = True) -> Decision:
        """Decide whether ``action`` is allowed given ``harm``; stores the Decision (its id is set).

        Every argument is checked before anything is computed or stored: InputError names the accepted
        values (a threshold strictly between 0 and 1, a Bound name, a run id from 1 to 2^63 - 1)."""
        from theorycov.guarding import store_decision

        bound, threshold = boundary.bound_name(bound), boundary.threshold(threshold)
        for name, phrase in (("action", action), ("harm", harm)):
            if not isinstance(phrase, str) or not phrase.strip():
                raise InputError(f"give the {name} as a phrase, e.g. {'inhibit Raf' if name == 'action' else 'Mek < q10'!r}")
        run_id = self.latest_run() if run_id is None else boundary.record_id(run_id, "run id")
        guard = self.guard(run_id, bound=bound, threshold=threshold)
        decision = guard.check(action, harm, bound=bound, threshold=threshold)
        return store_decision(self.engine, run_id, decision) if store else decision

    def explain(self, decision_id: int) -> str:
        """The plain-language explanation of a stored decision."""
        from theorycov.db import crud
        from theorycov.db.session import session_scope

        decision_id = boundary.record_id(decision_id, "decision id")
        with session_scope(self.engine) as s:
            row = crud.get_decision(decision_id, session=s)
            if row is None:
                raise ProjectError(f"no decision with id {decision_id} in {self.db_url}")
            return str(row.explanation.get("text", ""))


def _extractor(kind: str, llm_url: str | None = None):  # noqa: ANN202
    from theorycov.corpus.rules import RuleExtractor

    if kind == "rules":
        return RuleExtractor()
    if llm_url is not None:
        from theorycov.corpus.llm import LLMTranslator
        from theorycov.corpus.llm.http import OpenAIBackend, OpenAIConfig

        backend = OpenAIBackend(OpenAIConfig(llm_url))
        backend.probe()  # an unreachable URL fails before the run starts
        return LLMTranslator(backend)
    from theorycov.corpus.llm.translator import default_extractor, llm_available

    if kind == "llm":
        return default_extractor()
    if llm_available():
        return default_extractor()
    logger.warning("the llm extra is not installed: ingesting with the rule-based extractor")
    return RuleExtractor()


def _jsonable(obj: object) -> object:
    return json.loads(json.dumps(dataclasses.asdict(obj), default=str))  # type: ignore[arg-type]
