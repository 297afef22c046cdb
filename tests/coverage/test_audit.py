"""The audit on d = 4 with exact masses: a sampler that draws from the exact posterior covers every
non-refuted hypothesis; one that never draws a hypothesis' graphs is flagged; the report renders."""
from __future__ import annotations

import json

import torch

from theorycov.db.schemas import Constraint, Hypothesis
from theorycov.coverage.audit import audit
from theorycov.coverage.constraints import ConstraintSet
from theorycov.coverage.prior import FloorPrior
from theorycov.gfn.data import make_linear_gaussian_er
from theorycov.gfn.exact import enumerate_dags
from theorycov.gfn.reward import Reward
from theorycov.gfn.scores.bge import BGeScore



def _setup():  # noqa: ANN202
    data, true = make_linear_gaussian_er(4, 1.0, 200, seed=2)
    names = list(data.names)
    edges = true.nonzero().tolist()
    assert len(edges) >= 2
    (a, b), (c, e) = edges[:2]
    hyps = [
        Hypothesis((Constraint(names[a], names[b], sign=1),)),  # true edge
        Hypothesis((Constraint(names[c], names[e], path=True),)),  # true path
        Hypothesis((Constraint(names[a], names[b], forbidden=True, path=True), Constraint(names[b], names[a], forbidden=True, path=True))),  # planted false: a, b unrelated
    ]
    cs = ConstraintSet(hyps, names)
    dags = enumerate_dags(4)
    prior = FloorPrior(cs, torch.tensor([0.4, 0.4, 0.2], dtype=torch.float64), lam=0.1, dags=dags)
    reward = Reward(BGeScore(data), prior)
    return reward, cs, prior, dags


def test_exact_sampler_covers_and_false_theory_is_refuted() -> None:
    reward, cs, prior, dags = _setup()
    post = torch.softmax(reward.log_reward(dags), 0)
    samples = dags[torch.multinomial(post, 4000, replacement=True, generator=torch.Generator().manual_seed(0))]
    rep = audit(reward, cs, prior, samples, dags=dags, citations=[["Doe 2001"], [], ["<script>x</script>"]], domain="toy")
    verdicts = [r.verdict for r in rep.rows]
    assert verdicts[:2] == ["covered", "covered"], [(r.p, r.q) for r in rep.rows]
    assert verdicts[2] == "refuted by the data"
    assert rep.covered_share == 1.0 and 0.9 <= rep.min_q_over_p <= 1.1
    assert all(r.completion_rank is not None and r.completion_rank >= 1 for r in rep.rows)
    page = rep.to_html()
    assert "<svg" in page and "&lt;script&gt;x&lt;/script&gt;" in page and "<script>" not in page
    assert json.loads(rep.to_json())["covered_share"] == 1.0


def test_sampler_missing_a_theory_is_flagged() -> None:
    reward, cs, prior, dags = _setup()
    post = torch.softmax(reward.log_reward(dags), 0)
    post = torch.where(cs.satisfies(dags)[:, 1], torch.zeros_like(post), post)  # never draws hypothesis 1
    samples = dags[torch.multinomial(post / post.sum(), 4000, replacement=True, generator=torch.Generator().manual_seed(0))]
    rep = audit(reward, cs, prior, samples, dags=dags)
    assert rep.rows[1].verdict == "under-covered" and rep.rows[1].q == 0.0 and not rep.rows[1].reached
    assert rep.covered_share < 1.0


def test_reached_by_probability_when_not_drawn() -> None:
    """Without enumeration, a best completion that was not drawn counts as reached when the sampler's
    P_T gives it at least a tenth of its posterior probability, and not otherwise."""
    from theorycov.gfn.graphs import graph_codes

    reward, cs, prior, dags = _setup()
    log_post = torch.log_softmax(reward.log_reward(dags), 0)
    samples = dags[:1].repeat(50, 1, 1)  # only the empty graph was drawn
    lookup = lambda g: log_post[torch.searchsorted(graph_codes(dags), graph_codes(g))]  # noqa: E731
    exact_pt = audit(reward, cs, prior, samples, log_pt=lookup(samples), log_pt_of=lookup)
    assert all(r.reached for r in exact_pt.rows[:2])
    starved = audit(reward, cs, prior, samples, log_pt=lookup(samples), log_pt_of=lambda g: lookup(g) - 10.0)
    assert not any(r.reached for r in starved.rows[:2])


def test_a_tiny_effective_sample_is_flagged_in_the_report() -> None:
    """Importance weights that sit on a few draws: the report warns (JSON and HTML) and refutes nothing;
    weights that are all equal (P_T = the posterior) give an ESS equal to the draws and no warning."""
    from theorycov.gfn.graphs import graph_codes

    reward, cs, prior, dags = _setup()
    log_post = torch.log_softmax(reward.log_reward(dags), 0)
    samples = dags[:60]  # 60 distinct graphs, scored as if drawn uniformly: weights ∝ R, a few dominate
    skewed = audit(reward, cs, prior, samples, log_pt=torch.full((60,), -float(torch.log(torch.tensor(60.0)))))
    assert skewed.ess is not None and skewed.ess < 30
    assert len(skewed.warnings) == 1 and f"{skewed.ess:.1f} of 60 draws" in skewed.warnings[0]
    assert json.loads(skewed.to_json())["warnings"] == skewed.warnings
    assert "class=warn" in skewed.to_html()
    assert all(r.verdict != "refuted by the data" for r in skewed.rows)
    lookup = log_post[torch.searchsorted(graph_codes(dags), graph_codes(samples))]
    even = audit(reward, cs, prior, samples, log_pt=lookup - 1.0)  # w = R / P_T constant
    assert abs(float(even.ess) - 60.0) < 1e-6 and even.warnings == [] and "class=warn" not in even.to_html()
    assert audit(reward, cs, prior, samples, dags=dags).warnings == []  # exact masses: nothing to warn about
