"""The fitted run: the one object that travels from training to the audit and the guard.

``fit_posterior`` returns a :class:`FittedRun`; ``FittedRun.save(run_dir)`` writes it and
``FittedRun.load(run_dir)`` brings it back, so that a decision made from a saved run is the decision made
from the run in memory. It holds

- the data the posterior was fitted on (a :class:`DataTable`: values, names, intervention mask), so that
  the guard's harm model never re-reads a file or a "bundled" data set by name;
- the theory set (ids, hypotheses, citations, weights, and the theories left out with their reason) and
  each theory's prior mass P(h) as the audit computed it (the refutation rule of audit and guard);
- the posterior sample (:class:`PosteriorSample`: distinct graphs with counts, log R and log P_T);
- the score kind and the likelihood power eta, the fit configuration, the audit report.

On disk a run is two files: ``run.json`` (everything that is text or numbers) and ``run.pt`` (tensors only,
read with ``torch.load(weights_only=True)``, which cannot execute code from a crafted file). The trainer's
own checkpoint stays beside them for resuming; the guard never reads it.
"""
from __future__ import annotations

import dataclasses
import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from theorycov.coverage.report import AuditReport
from theorycov.coverage.theories import TheorySet
from theorycov.gfn import DataTable

if TYPE_CHECKING:
    from theorycov.coverage.guard.guard import Guard, GuardConfig
    from theorycov.coverage.posterior import FitConfig
    from theorycov.coverage.train import CoverageHistory
    from theorycov.gfn import Reward, Trainer

__all__ = ["FittedRun", "PosteriorSample", "RunError"]

FORMAT = 1  # bumped when the files change shape; an older run is refused with a message, never misread
WEIGHTINGS = ("snis", "reward")


class RunError(ValueError):
    """A run folder is missing, incomplete, of another format, or not the run it claims to be."""


@dataclass(frozen=True)
class PosteriorSample:
    """Distinct sampled graphs with their counts, log R and log P_T: what the guard and the audit read.

    graphs (N, d, d) bool, counts (N,) int64, log_reward (N,), log_pt (N,) float64.
    """

    names: tuple[str, ...]
    graphs: torch.Tensor
    counts: torch.Tensor
    log_reward: torch.Tensor
    log_pt: torch.Tensor
    exact: bool = False  # every DAG (d <= 5) with log_pt = 0: the weights are the exact posterior
    # "snis": the draws weighted by R / P_T (candidates with count 0 weigh nothing); "reward": every row is a
    # member of the support found (sampler draws, MC3 visits, theory completions) weighted by R, i.e. the
    # posterior restricted to the graphs found (coverage.posterior explains when each is used)
    weighting: str = "snis"

    def __post_init__(self) -> None:
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {self.weighting!r}")

    @property
    def log_weight(self) -> torch.Tensor:
        """Log weights of the distinct graphs. "snis": log count + log R - log P_T, i.e. SNIS over the draws,
        merged per graph, -inf for graphs that are candidates but not draws (count 0); "reward": log R of
        every row (R normalized over the distinct graphs found)."""
        if self.weighting == "reward":
            return self.log_reward.to(torch.float64)
        return self.counts.to(torch.float64).log() + self.log_reward - self.log_pt

    @property
    def weight_counts(self) -> torch.Tensor | None:
        """The draws each row stands for, as the SNIS variance counts them (None: one each, for an exact or a
        reward-weighted set, whose rows are graphs rather than draws)."""
        return None if self.exact or self.weighting == "reward" else self.counts

    @property
    def draws(self) -> torch.Tensor:
        """(N,) bool: the graph was drawn by the sampler (count > 0), not only a candidate completion."""
        return self.counts > 0

    def expanded(self) -> torch.Tensor:
        """(sum counts, d, d) the draws with repetitions."""
        return self.graphs.repeat_interleave(self.counts, dim=0)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"graphs": self.graphs, "counts": self.counts, "log_reward": self.log_reward, "log_pt": self.log_pt}

    def save(self, path: str | Path) -> None:
        torch.save({**self.tensors(), "exact": torch.tensor(self.exact), "weighting": self.weighting}, Path(path))
        Path(path).with_suffix(".names.json").write_text(json.dumps(list(self.names)), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "PosteriorSample":
        t = torch.load(Path(path), weights_only=True)
        names = json.loads(Path(path).with_suffix(".names.json").read_text(encoding="utf-8"))
        return cls(tuple(names), t["graphs"], t["counts"], t["log_reward"], t["log_pt"], bool(t["exact"]), t.get("weighting", "snis"))


@dataclass(frozen=True)
class FittedRun:
    """A trained, sampled and audited posterior with everything needed to use it later (module docstring).

    prior_mass, p_min: (H,) P(h) as the audit computed it (exact at d <= 5, else its lower bound
    lam w_h + (1 - lam) P0(h)) and the floor lam w_h; None without theories.
    """

    data: DataTable
    sample: PosteriorSample
    theories: TheorySet | None
    prior_mass: torch.Tensor | None
    p_min: torch.Tensor | None
    score: str  # "bge" | "bdeu"
    likelihood_power: float
    config: "FitConfig"
    report: AuditReport | None = None
    domain: str = ""
    aliases: dict[str, list[str]] = field(default_factory=dict)
    iterations: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    # What only the process that trained has (never saved): for benchmarks and resuming.
    trainer: "Trainer | None" = field(default=None, repr=False, compare=False)
    reward: "Reward | None" = field(default=None, repr=False, compare=False)
    history: "CoverageHistory | None" = field(default=None, repr=False, compare=False)

    @property
    def names(self) -> tuple[str, ...]:
        return self.data.names

    def guard(self, *, evidence: "Any" = None, config: "GuardConfig | None" = None) -> "Guard":
        """The guard over this run (Guard.from_run): the harm model at the run's likelihood power."""
        from theorycov.coverage.guard.guard import Guard, GuardConfig

        return Guard.from_run(self, evidence=evidence, config=config or GuardConfig())

    # ------------------------------------------------------------------ files
    def save(self, run_dir: str | Path) -> Path:
        """Write ``run.json`` and ``run.pt`` into ``run_dir`` (created); returns the folder."""
        out = Path(run_dir)
        out.mkdir(parents=True, exist_ok=True)
        tensors = {**{f"sample.{k}": v for k, v in self.sample.tensors().items()},
                   "data.values": torch.as_tensor(self.data.values), "data.intervened": torch.as_tensor(self.data.intervened)}
        if self.prior_mass is not None and self.p_min is not None:
            tensors |= {"prior_mass": self.prior_mass, "p_min": self.p_min}
        meta = {
            "format": FORMAT, "domain": self.domain, "names": list(self.data.names),
            "arities": None if self.data.arities is None else list(self.data.arities), "score": self.score,
            "likelihood_power": self.likelihood_power, "exact": self.sample.exact, "weighting": self.sample.weighting, "aliases": self.aliases,
            "iterations": self.iterations, "seconds": self.seconds, "config": _jsonable(self.config),
            "theories": None if self.theories is None else self.theories.to_dict(),
            "report": None if self.report is None else json.loads(self.report.to_json()),
        }
        torch.save(tensors, out / "run.pt")
        # run.json last: a folder with run.json is complete (a crash mid-save leaves no half-run to load)
        (out / "run.json").write_text(json.dumps(meta, indent=1, default=str), encoding="utf-8")
        return out

    @classmethod
    def load(cls, run_dir: str | Path) -> "FittedRun":
        """The run saved in ``run_dir``; RunError when the folder holds no complete run of this format."""
        from theorycov.coverage.posterior import FitConfig

        folder = Path(run_dir)
        if not (folder / "run.json").is_file() or not (folder / "run.pt").is_file():
            raise RunError(f"{folder} holds no saved run (run.json and run.pt); train one with `theorycov train`")
        try:
            meta = json.loads((folder / "run.json").read_text(encoding="utf-8"))
            t = torch.load(folder / "run.pt", weights_only=True)
        except pickle.UnpicklingError as err:  # weights_only refuses anything but tensors and plain containers
            raise RunError(f"the run in {folder} is not a plain tensor file and was not loaded: {err}") from err
        except (OSError, ValueError, RuntimeError, EOFError) as err:
            raise RunError(f"the run in {folder} cannot be read ({type(err).__name__}: {err})") from err
        if meta.get("format") != FORMAT:
            raise RunError(f"the run in {folder} has format {meta.get('format')!r}; this version reads format {FORMAT}: retrain it")
        arities = meta.get("arities")
        values = t["data.values"].numpy()
        data = DataTable(values.astype(np.int64) if arities else values, tuple(meta["names"]), t["data.intervened"].numpy(),
                         tuple(arities) if arities else None)
        sample = PosteriorSample(tuple(meta["names"]), t["sample.graphs"], t["sample.counts"], t["sample.log_reward"],
                                 t["sample.log_pt"], bool(meta["exact"]), meta.get("weighting", "snis"))
        theories = None if meta.get("theories") is None else TheorySet.from_dict(meta["theories"])
        return cls(
            data=data, sample=sample, theories=theories, prior_mass=t.get("prior_mass"), p_min=t.get("p_min"),
            score=meta["score"], likelihood_power=float(meta["likelihood_power"]), config=_rebuild(FitConfig, meta["config"]),
            report=None if meta.get("report") is None else AuditReport.from_dict(meta["report"]), domain=meta.get("domain", ""),
            aliases={k: list(v) for k, v in (meta.get("aliases") or {}).items()}, iterations=int(meta.get("iterations", 0)),
            seconds={k: float(v) for k, v in (meta.get("seconds") or {}).items()},
        )


def _jsonable(obj: object) -> Any:
    return json.loads(json.dumps(dataclasses.asdict(obj), default=str))  # type: ignore[arg-type]


def _rebuild(cls: type, d: dict[str, Any]) -> Any:
    """A (nested) frozen config dataclass from its asdict() form; fields the file lacks keep their defaults,
    and fields the class no longer has are ignored (a run written by an older version still loads)."""
    base = cls()
    kw: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in d:
            continue
        default, value = getattr(base, f.name), d[f.name]
        if dataclasses.is_dataclass(default) and isinstance(value, dict):
            kw[f.name] = _rebuild(type(default), value)
        elif isinstance(default, tuple) and isinstance(value, list):
            kw[f.name] = tuple(value)
        elif isinstance(default, float) and isinstance(value, str):  # 'inf' / 'nan' written by default=str
            kw[f.name] = float(value)
        else:
            kw[f.name] = value
    return dataclasses.replace(base, **kw)
