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


def test_report_draws_the_posterior_and_each_theory() -> None:
    """Edge marginals: at d <= 5 the exact posterior (P(a -> b) is the exact mass of the one-edge theory),
    from draws the share that has the edge (= q of that theory); both survive the JSON round trip, and the
    HTML report holds the posterior drawing plus one highlighted drawing per theory."""
    import xml.etree.ElementTree as ET

    from theorycov.coverage.report import AuditReport

    reward, cs, prior, dags = _setup()
    a, b = (cs.variables.index(v) for v in (cs.hypotheses[0].constraints[0].cause, cs.hypotheses[0].constraints[0].effect))
    post = torch.softmax(reward.log_reward(dags), 0)
    samples = dags[torch.multinomial(post, 500, replacement=True, generator=torch.Generator().manual_seed(1))]
    exact = audit(reward, cs, prior, samples, dags=dags)
    assert exact.variables == list(cs.variables) and len(exact.edge_marginals) == 4
    assert abs(exact.edge_marginals[a][b] - exact.rows[0].p) < 1e-6 and exact.edge_marginals[a][a] == 0.0
    drawn = audit(reward, cs, prior, samples, log_pt=torch.zeros(500))
    assert drawn.edge_marginals[a][b] == round(drawn.rows[0].q, 6)
    assert drawn.edge_marginals[a][b] == float(samples[:, a, b].double().mean()) == 0.506
    assert drawn.rows[0].constraints == [{"cause": cs.variables[a], "effect": cs.variables[b], "path": False, "forbidden": False, "sign": 1}]
    back = AuditReport.from_dict(json.loads(drawn.to_json()))
    assert back.edge_marginals == drawn.edge_marginals and back.rows[2].constraints == drawn.rows[2].constraints
    page = back.to_html()
    assert page.count("<svg ") == 1 + len(cs) + 1  # the posterior, one per theory, q against p (no coverage curve here)
    assert page.count("<figure class=theory id='theory-") == len(cs) and "href='#theory-2'" in page
    svg = page[page.index("<figure class=theory id='theory-0'>"):]
    svg = svg[svg.index("<svg"):svg.index("</svg>") + 6]
    marks = [p for p in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}path") if (p.get("class") or "").startswith("mark")]
    assert [(p.get("data-edge"), p.get("class")) for p in marks] == [(f"{cs.variables[a]}->{cs.variables[b]}", "mark plus")]
    old = json.loads(drawn.to_json())
    del old["edge_marginals"], old["variables"]
    assert "<svg " in AuditReport.from_dict(old).to_html() and "theory-0" not in AuditReport.from_dict(old).to_html()  # older reports still render
