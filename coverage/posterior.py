"""One call from (data, human theories) to a trained, audited posterior sample: the step the face,
the benchmarks and the guard share.

``fit_posterior`` builds the human-floor prior and the reward (BGe for continuous data, BDeu for
discrete), trains the GFlowNet with the coverage objective and a running audit, draws a posterior
sample with log P_T from backward trajectories (for importance weights R / P_T), runs the audit, and
returns one :class:`~theorycov.coverage.run.FittedRun` (what the guard and the audit read; it saves to and
loads from a run folder).
"""
from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from theorycov.coverage.audit import AuditConfig, audit
from theorycov.coverage.guard.harm import HarmModel, HarmModelConfig
from theorycov.coverage.objective import CoverageConfig, CoverageObjective
from theorycov.coverage.prior import FloorPrior, HypothesisPriorMass
from theorycov.coverage.run import WEIGHTINGS, FittedRun, PosteriorSample
from theorycov.coverage.signs import SignSpec, signed_prior_mass
from theorycov.coverage.theories import TheorySet
from theorycov.coverage.train import CoverageTraining
from theorycov.db.schemas import Hypothesis, Theory
from theorycov.gfn import BDeuScore, BGeScore, DataTable, Reward, Trainer, TrainerConfig, enumerate_dags
from theorycov.gfn.candidates import candidate_parents
from theorycov.gfn.graphs import equivalent_walk
from theorycov.gfn.occam import OccamConfig, occam_window
from theorycov.gfn.sampling import log_pt_backward, sample
from theorycov.gfn.warmstart import GuideConfig, MCMCGuide, combine_starts, combine_transitions

logger = logging.getLogger(__name__)

__all__ = ["FitConfig", "FittedRun", "PosteriorSample", "fit_posterior"]


@dataclass(frozen=True)
class FitConfig:
    """How a posterior is fitted."""

    minutes: float | None = 3.0  # wall-time budget for training (None: run trainer.num_iterations)
    trainer: TrainerConfig = field(default_factory=lambda: TrainerConfig(num_iterations=20_000, progress=True))
    coverage: CoverageConfig = field(default_factory=CoverageConfig)
    use_coverage: bool = True  # False: the plain GFlowNet (for comparisons)
    lam: float = 0.1  # the human floor's share of prior mass
    beta: float = 1.0  # P0 ∝ beta^|E| (1: uniform over DAGs)
    n_samples: int = 5_000  # posterior sample kept for the guard
    # backward trajectories per distinct graph for log P_T (an unbiased estimate of P_T). The audit's and the
    # guard's importance weights R/P_T inherit this estimate's noise. bench/audit_ess.py re-estimates the same
    # 5,000 draws of one trained demo posterior: ESS 84 / 693 / 991 at 4 / 16 / 32 trajectories in one run, 116 /
    # 429 / 160 / 595 at 4 / 16 / 32 / 64 in another (heavy-tailed weights make the ESS itself noisy), for
    # about 4 / 20 / 41 / 86 s on one thread. 16 was at least 3.7x the ESS of 4 in both; the demo's audit had ESS
    # 2.7 to 24 at 4.
    n_traj: int = 16
    prior_samples: int = 5_000  # exact P0 draws estimating P0(h) when d > 5 (Wilson intervals reported)
    audit_every: int = 500
    audit: AuditConfig = field(default_factory=AuditConfig)
    bdeu_ess: float = 1.0  # equivalent sample size for discrete data
    progress: bool = True  # a time-based progress bar while training for ``minutes``
    likelihood_power: float = 1.0  # eta: log R = log P(G) + eta log P(D|G) (gfn.scores.tempered); 1 = exact Bayes
    # From d = scale_from on, where no exact check reaches and the trainer alone does not converge in minutes
    # (issue 16: at d = 46 after 3 min, E-SHD 136 against 70 true arcs, ESS 1), the fit restricts the edges to a
    # candidate-parent screen (gfn/candidates.py: k = candidates per node, every theory's required pairs kept, so
    # each theory stays buildable) and feeds the replay buffer from MC3 chains on the same reward (gfn/warmstart.py,
    # ``guide``). The posterior is then P(G | D, G inside the candidates); bench/guard_networks.py measures both.
    scale_from: int = 12
    candidates: int = 8
    guide: GuideConfig = field(default_factory=lambda: GuideConfig(
        chains=20, temperatures=(1.0, 0.9, 0.8, 0.7, 0.6), steps=5, per_iteration=32, burn_in=2000))
    # How the guard weighs the graphs from d = scale_from on. "snis": the GFlowNet's draws by R / P_T, as below
    # scale_from. Its log P_T comes from random backward orders, and at d = 46 the trained policy follows so few
    # edge orders that these miss it by tens of thousands of nats (stop 22: ESS 1.0, the top-weight graph at SHD
    # 124 while the best graph found, SHD 14, weighed nothing). "reward": the distinct graphs found by any sampler
    # (GFlowNet draws, the MC3 guide's cold-chain visits, each theory's completions) weighted by R, i.e. the
    # posterior restricted to what was found. No P_T is needed, and a score-equivalent class the chains walk
    # through is averaged instead of one of its members picked. The weights are exact on that set; what it
    # misses is missing mass, not noise. Graphs more than ``support_nats`` below the best are dropped (a weight
    # below e^-support_nats), and at most ``support_max`` visits are kept, best first.
    # The best ``equivalents`` graphs found also walk ``equivalent_steps`` covered-edge reversals inside their Markov
    # equivalence class (gfn.graphs.equivalent_walk): every member has the same likelihood, so a class is averaged
    # by its prior weights instead of represented by the member a chain happened to stop at. Off by default: on the
    # tuning seed (bench/guard_networks.py, ecoli70 n = 1,000, seed 10) it helped (ESS 1.3 -> 68.7, posterior-mean
    # Brier 0.0034 -> 0.0019 against MAP 0.0037 -> 0.0034); on seeds 0 and 1 the posterior mean went 0.0033 -> 0.0007
    # and 0.0006 -> 0.0017 while MAP, picked from the larger set, went 0.0033 -> 0.0003 and 0.0006 -> 0.0002, and the
    # human guarantee at the 1 - delta reading fell 0.989 -> 0.907 and 0.972 -> 0.915. The walk spreads weight over
    # orientations the data cannot tell apart and only the true theories' prior floor can; with ESS above 30 the
    # false theories are refuted (right), while the true ones' own risks, averaged over more orientations, fall
    # below the truth more often.
    weights: str = "reward"
    support_nats: float = 50.0
    support_max: int = 2_000
    equivalents: int = 0
    equivalent_steps: int = 64
    # Occam's window (gfn/occam.py, Madigan & Raftery 1994): with "reward" weights, every single-edge neighbour of
    # the best graphs found, within occam.window nats of the best, joins the support (rounds of neighbours'
    # neighbours; Markov-equivalent members among them): the chains' visits are a thin, uneven sample of the graphs
    # near the mode (None: off). On by default since the harm model draws each graph's parameters independently
    # and the guard reads theories at 1 - delta/2 (GuardConfig.theory_level). Picked on tuning seeds 10 and 11
    # (bench/guard_networks.py, ecoli70 n = 1,000): ESS ~2 -> ~500, posterior Brier 0.0030 against MAP 0.0063,
    # human guarantee 0.963 at 1 - delta and 0.977 at 1 - delta/2, false allows 0, false blocks 0.043 / 0.058,
    # ~10 s at d = 46. History: stop 24 measured it on the reported seeds with parameter draws shared across graphs
    # (posterior Brier 0.0017 against MAP 0.0022, but guarantee 0.897 < 0.9: the 0.9-quantile of a theory's risk
    # was the largest of 8 shared draws) and left it off.
    occam: OccamConfig | None = OccamConfig()


class _TimeBar:
    """Progress of a time-budgeted run in seconds (the trainer's own bar counts towards an iteration
    horizon that a time budget never reaches), with iterations, speed and loss as postfix."""

    def __init__(self, seconds: float | None, trainer: Trainer, *, enabled: bool) -> None:
        from tqdm.auto import tqdm

        self.t0, self.trainer, self.covered = time.perf_counter(), trainer, None
        self.bar = tqdm(total=int(seconds or 0), unit="s", desc="train", disable=not enabled)

    def tick(self, trainer: Trainer) -> None:
        elapsed = time.perf_counter() - self.t0
        self.bar.n = min(self.bar.total, int(elapsed))
        loss = trainer.losses[-1] if trainer.losses else float("nan")
        self.bar.set_postfix(it=trainer.iteration, it_s=f"{trainer.iteration / max(elapsed, 1e-9):.0f}", loss=f"{loss:.3g}")

    def close(self) -> None:
        self.bar.n = self.bar.total
        self.bar.close()


def _score(data: DataTable, bdeu_ess: float, power: float = 1.0):  # noqa: ANN202
    from theorycov.gfn.scores.tempered import TemperedScore

    score = BDeuScore(data, ess=bdeu_ess) if data.discrete else BGeScore(data)
    return score if power == 1.0 else TemperedScore(score, power)


def _found_support(drawn: PosteriorSample, guide: MCMCGuide, objective: CoverageObjective | None, reward: Reward,
                   config: FitConfig) -> PosteriorSample:
    """The "reward" weighting (see FitConfig.weights): one set of distinct graphs weighted by R, made of the
    GFlowNet's distinct draws (counts > 0; their log P_T kept for reference), the guide's best ``support_max``
    visited graphs and Markov-equivalent variants of the best graphs (together) within ``support_nats`` of the
    best graph found, and every theory's completions (kept whatever their R, so that each theory keeps its
    members; a low-R completion weighs next to nothing).
    """
    d = len(drawn.names)
    known = {row.tobytes() for row in drawn.graphs.flatten(1).numpy()}

    def fresh(graphs: torch.Tensor) -> torch.Tensor:  # distinct rows not yet in the set, (k, d, d)
        if graphs.shape[0] == 0:
            return graphs
        graphs = torch.unique(graphs.flatten(1), dim=0).reshape(-1, d, d)
        new = torch.tensor([row.tobytes() not in known for row in graphs.flatten(1).numpy()], dtype=torch.bool)
        graphs = graphs[new]
        known.update(row.tobytes() for row in graphs.flatten(1).numpy())
        return graphs

    def log_r(graphs: torch.Tensor) -> torch.Tensor:
        parts = [reward.log_reward(graphs[i : i + 512]) for i in range(0, graphs.shape[0], 512)]
        return torch.cat(parts).to(torch.float64) if parts else torch.zeros(0, dtype=torch.float64)

    pool = fresh(torch.cat([p for p in objective.pools if p.shape[0]] or [torch.zeros(0, d, d, dtype=torch.bool)])
                 if objective is not None else torch.zeros(0, d, d, dtype=torch.bool))
    lr_pool = log_r(pool)
    visited = fresh(guide.visits.graphs()[0])
    lr_vis = log_r(visited)
    if config.equivalents > 0 and config.equivalent_steps > 0:
        found = torch.cat([drawn.graphs, pool, visited])
        lr_found = torch.cat([drawn.log_reward.to(torch.float64), lr_pool, lr_vis])
        top = found[lr_found.argsort(descending=True)[: config.equivalents]]
        equiv = fresh(equivalent_walk(top, config.equivalent_steps, torch.Generator().manual_seed(config.trainer.seed)))
        visited, lr_vis = torch.cat([visited, equiv]), torch.cat([lr_vis, log_r(equiv)])
    best = max(float(drawn.log_reward.max()), *(float(t.max()) for t in (lr_pool, lr_vis) if t.numel()))
    keep = (lr_vis >= best - config.support_nats).nonzero().squeeze(1)
    keep = keep[lr_vis[keep].argsort(descending=True)[: config.support_max]]
    logger.info("support: %d distinct draws, %d completions, %d of %d distinct MC3 graphs (%d visits) within %.0f nats of the best",
                drawn.graphs.shape[0], pool.shape[0], keep.numel(), visited.shape[0], guide.visits.visits, config.support_nats)
    n_x = pool.shape[0] + keep.numel()
    found = PosteriorSample(
        drawn.names, torch.cat([drawn.graphs, pool, visited[keep]]), torch.cat([drawn.counts, torch.zeros(n_x, dtype=torch.int64)]),
        torch.cat([drawn.log_reward.to(torch.float64), lr_pool, lr_vis[keep]]),
        torch.cat([drawn.log_pt.to(torch.float64), torch.zeros(n_x, dtype=torch.float64)]), weighting="reward",
    )
    return found if config.occam is None else with_window(found, reward, config.occam, allowed=guide.chains.allowed, max_parents=guide.chains.max_parents)


def with_window(post: PosteriorSample, reward: Reward, occam: OccamConfig, *, allowed: torch.Tensor | None = None,
                max_parents: int | None = None) -> PosteriorSample:
    """``post`` (reward-weighted) and the graphs of Occam's window around its rows (gfn.occam), appended with
    count 0 (found, not drawn) and their exact log R."""
    if post.weighting != "reward":
        raise ValueError("Occam's window extends a reward-weighted support (FitConfig.weights = 'reward')")
    g, lr = occam_window(post.graphs, post.log_reward, reward, occam, allowed=allowed, max_parents=max_parents)
    logger.info("Occam's window: %d graphs within %.0f nats of the best join the %d found", g.shape[0], occam.window, post.graphs.shape[0])
    z = torch.zeros(g.shape[0], dtype=torch.float64)
    return PosteriorSample(post.names, torch.cat([post.graphs, g]), torch.cat([post.counts, z.to(torch.int64)]),
                           torch.cat([post.log_reward.to(torch.float64), lr]), torch.cat([post.log_pt.to(torch.float64), z]), weighting="reward")


def fit_posterior(
    data: DataTable,
    theories: TheorySet | Sequence[Theory | Hypothesis] = (),
    *,
    config: FitConfig = FitConfig(),
    run_dir: str | Path | None = None,
    domain: str = "",
    aliases: Mapping[str, Sequence[str]] | None = None,
) -> FittedRun:
    """Train, sample and audit (see the module docstring); returns the :class:`FittedRun`.

    ``theories``: a TheorySet, or theories / bare hypotheses that are selected here (unusable ones are
    left out with their reason). ``run_dir`` receives the trainer's checkpoints while training; save the
    returned run with ``FittedRun.save``. ``aliases`` (variable -> names papers use) travel with the run
    for the guard's query parser.
    """
    if config.weights not in WEIGHTINGS:
        raise ValueError(f"FitConfig.weights must be one of {WEIGHTINGS}, got {config.weights!r}")
    t0 = time.perf_counter()
    names = list(data.names)
    d = len(names)
    dags = enumerate_dags(d) if d <= 5 else None
    ts = theories if isinstance(theories, TheorySet) else TheorySet.select(theories, names)
    if tuple(ts.variables) != tuple(names):
        raise ValueError(f"the theories are compiled over {ts.variables}, the data have {tuple(names)}")
    cs = ts.constraints if len(ts) else None
    prior = None
    if cs is not None:
        mass = None if dags is not None else HypothesisPriorMass.compute(cs, config.beta, n_samples=config.prior_samples, seed=config.trainer.seed)
        prior = FloorPrior(cs, ts.weights, beta=config.beta, lam=config.lam, mass=mass, dags=dags)
    reward = Reward(_score(data, config.bdeu_ess, config.likelihood_power), prior)
    allowed, guide = None, None
    if d >= config.scale_from:
        theory_pairs = None if cs is None else torch.stack([cs.required_pairs(h) for h in range(len(cs))]).any(0)
        allowed = candidate_parents(reward, config.candidates, extra=theory_pairs) if config.candidates > 0 else None
    objective = CoverageObjective(reward, cs, config.coverage, allowed=allowed) if (cs is not None and config.use_coverage) else None
    if d >= config.scale_from:
        pool = objective.best_completions(allowed, config.trainer.max_parents) if objective is not None and config.coverage.guide_starts else None
        guide = MCMCGuide(reward, dataclasses.replace(config.guide, seed=config.guide.seed + config.trainer.seed), allowed=allowed,
                          max_parents=config.trainer.max_parents, start_pool=pool)
        logger.info("d = %d: %s candidate edges, MC3 guide of %d chains%s", d, "all" if allowed is None else int(allowed.sum()),
                    config.guide.chains, "" if pool is None else f", started at the best of {pool.shape[0]} theory completions")
    trainer = Trainer(config.trainer, reward, extra_transitions=objective if guide is None else combine_transitions(objective, guide), run_dir=run_dir,
                      start_states=(None if objective is None else objective.start_states) if guide is None else
                      combine_starts(None if objective is None else objective.start_states, guide.start_states), allowed=allowed)
    for hook in (objective, guide):  # an ordered environment (TrainerConfig.edge_order): its hooks cut graphs in rank order
        if hook is not None:
            hook.rank = trainer.env.rank_action
    t_setup = time.perf_counter() - t0
    history = None
    max_seconds = None if config.minutes is None else 60.0 * config.minutes
    bar = _TimeBar(max_seconds, trainer, enabled=config.progress and max_seconds is not None)
    if cs is not None:
        p_ref = None
        if dags is not None:
            from theorycov.coverage.masses import exact_masses

            p_ref = exact_masses(reward.log_reward(dags), cs.satisfies(dags)).p
        # at scale the MC3 guide's cold-chain visits estimate p(h|D) for the steering (CoverageTraining's ``visits``)
        runner = CoverageTraining(trainer, cs, objective, p_reference=p_ref, audit_every=config.audit_every, on_log=bar.tick,
                                  visits=None if guide is None or p_ref is not None else guide.visits)
        history = runner.run(max_seconds=max_seconds)
        bar.covered = history.curve[-1][1] if history.curve else None
    else:
        trainer.train(max_seconds=max_seconds, callback=bar.tick)
    bar.close()
    t_train = time.perf_counter() - t0 - t_setup
    draws = sample(trainer.sampler, config.n_samples, generator=torch.Generator().manual_seed(config.trainer.seed + 1))
    uniq, counts = torch.unique(draws.flatten(1), dim=0, return_counts=True)
    uniq = uniq.reshape(-1, d, d)
    log_r = reward.log_reward(uniq)
    n_traj = 1 if trainer.env.ordered else config.n_traj  # an ordered environment has one trajectory a graph: exact
    chunks = tqdm(range(0, uniq.shape[0], 512), desc=f"log P_T ({n_traj} backward trajectories a graph)", unit="x512 graphs",
                  disable=not config.progress or dags is not None)
    log_pt = torch.cat([
        log_pt_backward(trainer.sampler, uniq[i : i + 512], n_traj=n_traj, generator=torch.Generator().manual_seed(i))
        for i in chunks
    ])
    drawn = PosteriorSample(tuple(names), uniq, counts, log_r, log_pt)
    if dags is not None:  # d <= 5: the guard can use the exact posterior over every DAG
        lr_all = reward.log_reward(dags)
        post = PosteriorSample(tuple(names), dags, torch.ones(dags.shape[0], dtype=torch.int64), lr_all, torch.zeros_like(lr_all), exact=True)
    elif guide is not None and config.weights == "reward":
        post = _found_support(drawn, guide, objective, reward, config)
    else:
        post = drawn
        if objective is not None:  # each theory's completions join as candidates (count 0: not draws)
            pool = torch.cat([p for p in objective.pools if p.shape[0]] or [torch.zeros(0, d, d, dtype=torch.bool)])
            if pool.shape[0]:
                pool = torch.unique(pool.flatten(1), dim=0).reshape(-1, d, d)
                post = PosteriorSample(
                    tuple(names), torch.cat([uniq, pool]), torch.cat([counts, torch.zeros(pool.shape[0], dtype=torch.int64)]),
                    torch.cat([log_r, reward.log_reward(pool)]), torch.cat([log_pt, torch.zeros(pool.shape[0], dtype=torch.float64)]),
                )
    t_sample = time.perf_counter() - t0 - t_setup - t_train
    report, prior_mass = None, None
    if cs is not None and prior is not None:
        harm = None
        prior_mass = prior.prior_mass(dags)
        if not data.discrete:  # signs are a statement about the linear-Gaussian SEM's weights (coverage.signs)
            harm = HarmModel(torch.as_tensor(data.values), torch.as_tensor(data.intervened), HarmModelConfig(power=config.likelihood_power))
            spec = SignSpec.of(cs.hypotheses, names)
            if bool(spec.signed.any()):
                bge = harm.prior
                prior_mass = signed_prior_mass(prior, spec, t=bge.t, noise_shape=[bge.noise_shape(k) for k in range(d + 1)], dags=dags,
                                               fallback=uniq, seed=config.trainer.seed)
        report = audit(
            reward, ts, prior, drawn, dags=dags, first_hit=history.first_hit if history else None,
            coverage_curve=history.curve if history else (), domain=domain, config=config.audit,
            completions=objective.best if objective is not None else None,
            log_pt_of=lambda g: log_pt_backward(trainer.sampler, g, n_traj=32, generator=torch.Generator().manual_seed(7)),
            harm=harm, prior_mass=prior_mass, allowed=allowed,
        )
    seconds = {"setup": t_setup, "train": t_train, "sample": t_sample, "audit": time.perf_counter() - t0 - t_setup - t_train - t_sample}
    logger.info("posterior fitted: %d iterations, %d distinct graphs of %d draws, %s", trainer.iteration, uniq.shape[0], config.n_samples, seconds)
    return FittedRun(
        data=data, sample=post, theories=ts, prior_mass=prior_mass,
        p_min=None if prior is None else prior.p_min, score="bdeu" if data.discrete else "bge",
        likelihood_power=config.likelihood_power, config=config, report=report, domain=domain,
        aliases={k: list(v) for k, v in (aliases or {}).items()}, iterations=trainer.iteration, seconds=seconds,
        trainer=trainer, reward=reward, history=history,
    )
