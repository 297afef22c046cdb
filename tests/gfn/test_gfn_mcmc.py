"""gfn.mcmc / gfn.parentsets / gfn.diagnostics: incremental scores equal a full rescoring, REV and Gibbs keep
the exact posterior at d = 4, tempering and swaps keep every chain a scored DAG, split R-hat on known cases."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from theorycov.coverage.mcmc import empirical_distribution
from theorycov.gfn import BGeScore, ConfigError, EdgeCountPrior, Reward, enumerate_dags, exact_posterior, is_acyclic, jensen_shannon
from theorycov.gfn.data import make_linear_gaussian_er
from theorycov.gfn.diagnostics import ChainRecorder, split_rhat, split_rhat_binary
from theorycov.gfn.mcmc import DAGChains
from theorycov.gfn.parentsets import ParentSetTable


def _reward(d: int, seed: int, n: int = 60) -> Reward:
    data, _ = make_linear_gaussian_er(d, 1.0, n, seed=seed)
    return Reward(BGeScore(data.standardized()), EdgeCountPrior(0.5))


@pytest.mark.slow
def test_incremental_scores_match_full_rescoring_d15() -> None:
    """d = 15 is above the dense table: node scores are updated two nodes at a time, never recomputed."""
    reward = _reward(15, seed=2, n=80)
    table = ParentSetTable(reward, 2)
    mc = DAGChains(reward, num_chains=8, seed=1, temperatures=(1.0, 0.5), parent_sets=table, rev_every=3, gibbs_every=4)
    for k in range(150):
        mc.step()
        if k % 2:
            mc.swap(k)
    assert bool(is_acyclic(mc.adj).all())
    assert torch.allclose(mc.log_r, reward.log_reward(mc.adj), atol=1e-8)
    assert torch.equal(mc.nbd, mc.masks.sum(1))
    assert mc.rev_proposed == 8 * 50 and 0 < mc.rev_accepted < mc.rev_proposed


@pytest.mark.slow
@pytest.mark.parametrize("kw", [{"rev_every": 1}, {"gibbs_every": 1}])
def test_parent_set_moves_keep_the_exact_posterior_d4(kw: dict[str, int]) -> None:
    """Every step adds a REV (or Gibbs) move; a table of sets of size <= 2 leaves the 3-parent sets to MC3."""
    reward = _reward(4, seed=3)
    dags = enumerate_dags(4)
    post = exact_posterior(reward, dags)
    mc = DAGChains(reward, num_chains=64, seed=0, parent_sets=ParentSetTable(reward, 2), **kw)
    kept = []
    for s in range(700):
        mc.step()
        if s >= 100:
            kept.append(mc.adj.clone())
    emp = empirical_distribution(torch.cat(kept), dags)
    assert jensen_shannon(post, emp) < 0.005


def test_parent_set_table_scores_and_lookup() -> None:
    reward = _reward(5, seed=1)
    t = ParentSetTable(reward, 2)
    assert t.P == 1 + 4 + 6  # subsets of the 4 other nodes of size <= 2
    j = torch.tensor([3])
    par = torch.zeros(1, 5, dtype=torch.bool)
    par[0, [0, 4]] = True
    row = int(t.index_of(j, par)[0])
    assert torch.equal(t.sets[3, row], par[0])
    expect = reward.score.local_scores(j, par)[0] + 2 * reward.prior.per_edge  # type: ignore[attr-defined]
    assert abs(float(t.score[3, row]) - float(expect)) < 1e-9
    par[0, 1] = True  # three parents: not in the table
    assert int(t.index_of(j, par)[0]) == -1


def test_ladder_and_tables_are_validated() -> None:
    reward = _reward(4, seed=0)
    with pytest.raises(ConfigError, match="start at 1.0"):
        DAGChains(reward, num_chains=4, temperatures=(0.5, 1.0))
    with pytest.raises(ConfigError, match="multiple"):
        DAGChains(reward, num_chains=5, temperatures=(1.0, 0.5))
    with pytest.raises(ConfigError, match="ParentSetTable"):
        DAGChains(reward, num_chains=4, rev_every=2)


def test_split_rhat_known_cases() -> None:
    rng = np.random.default_rng(0)
    mixed = rng.normal(size=(4, 2000))
    assert abs(split_rhat(mixed) - 1.0) < 0.01
    stuck = mixed + np.array([0.0, 0.0, 3.0, 3.0])[:, None]  # two chains in another mode
    assert split_rhat(stuck) > 1.5
    # indicator halves: all half-chains at 0.3 -> 1; two halves at 0 and 1 -> infinite; a pooled 0 is not judged
    n = np.full(4, 1000)
    r = split_rhat_binary(np.array([[300, 0, 0], [300, 0, 0], [300, 1000, 0], [300, 1000, 0]]), n)
    assert abs(r[0] - 1.0) < 1e-3 and r[1] > 10 and np.isnan(r[2])


def test_chain_recorder_marginals_and_rhat() -> None:
    rec = ChainRecorder(2, 3, block=10)
    a = torch.zeros(2, 3, 3, dtype=torch.bool)
    a[0, 0, 1] = True  # chain 0 always has 0 -> 1, chain 1 never
    for _ in range(40):
        rec.add(a, torch.tensor([1.0, 2.0]))
    assert rec.kept == 40
    assert rec.chain_marginals()[:, 0, 1].tolist() == [1.0, 0.0]
    assert rec.marginals()[0, 1] == 0.5
    assert rec.rhat()["rhat_edges_max"] == float("inf")


def test_refine_moves_any_start_to_the_exact_posterior_d3() -> None:
    """From 6,000 copies of one poor start (the empty graph), 60 MC3 steps each reach the exact posterior
    (the kernel's invariance; d = 3 mixes within a few steps); zero steps change nothing; chunks are seeded."""
    from theorycov.gfn.mcmc import refine
    reward = _reward(3, seed=2)
    dags = enumerate_dags(3)
    post = exact_posterior(reward, dags)
    start = torch.zeros(6000, 3, 3, dtype=torch.bool)
    out = refine(reward, start, 60, seed=1, chunk=2500)
    assert out.shape == start.shape and bool(is_acyclic(out).all())
    assert jensen_shannon(post, empirical_distribution(out, dags)) < 0.005
    assert jensen_shannon(post, empirical_distribution(start, dags)) > 0.05
    assert torch.equal(refine(reward, out[:10], 0), out[:10])
    assert torch.equal(refine(reward, start, 5, seed=1, chunk=2500), refine(reward, start, 5, seed=1, chunk=2500))


def test_refine_reports_its_steps_and_stops_at_its_cpu_budget() -> None:
    """``stats`` counts the steps every chain took and the evaluations (chains x steps); a spent CPU budget (0 s)
    takes no step and returns the starts; a negative budget is refused."""
    from theorycov.gfn.mcmc import refine
    reward = _reward(3, seed=2)
    start = torch.zeros(300, 3, 3, dtype=torch.bool)
    stats: dict[str, float] = {}
    out = refine(reward, start, 7, seed=1, chunk=128, stats=stats)
    assert stats["steps"] == 7 and stats["evaluations"] == 7 * 300 and 0.0 < stats["acceptance"] < 1.0
    assert out.flatten(1).any(1).any()
    stats = {}
    assert torch.equal(refine(reward, start, 50, max_cpu_seconds=0.0, stats=stats), start) and stats["steps"] == 0
    with pytest.raises(ConfigError, match="max_cpu_seconds >= 0"):
        refine(reward, start, 5, max_cpu_seconds=-1.0)
