"""The rule extractor (cues, direction, negation, hedging) and assembly (conflicts, merging, hashes)."""
from __future__ import annotations

import pytest

from theorycov.corpus.assemble import merge_hypotheses, paper_hypotheses
from theorycov.corpus.domain import Domain
from theorycov.corpus.grounding import Grounder, GroundingConfig
from theorycov.corpus.rules import RuleExtractor, coordinated_pairs
from theorycov.corpus.types import Claim, Constraint, Evidence, Extractor, Relation, Sentence

A, I, C, N = Relation.ACTIVATES, Relation.INHIBITS, Relation.CAUSES, Relation.NO_EFFECT


def read(domain: Domain, text: str) -> list[tuple]:
    g = Grounder(domain, GroundingConfig(use_embeddings=False))
    claims = RuleExtractor().extract(Sentence(text, 0, 0, len(text)), g.mentions(text), evidence=Evidence(text))
    return [(c.cause, c.relation, c.effect, c.negated, c.hedged) for c in claims]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Raf activates Mek.", [("Raf", A, "Mek", False, False)]),
        ("Mek is phosphorylated by Raf.", [("Raf", A, "Mek", False, False)]),
        ("Activation of Mek by Raf was observed.", [("Raf", A, "Mek", False, False)]),
        ("PKC-mediated activation of Raf was seen.", [("PKC", A, "Raf", False, False)]),
        ("The MEK inhibitor U0126 blocked ERK activation.", [("Mek", A, "Erk", False, False)]),
        ("Inhibition of PKA increased Raf activity.", [("PKA", I, "Raf", False, False)]),
        ("PKA did not activate Akt.", [("PKA", A, "Akt", True, False)]),
        ("PKA had no effect on Jnk.", [("PKA", N, "Jnk", False, False)]),
        ("Erk activation was independent of PKC.", [("PKC", N, "Erk", False, False)]),
        ("Akt may inhibit Raf.", [("Akt", I, "Raf", False, True)]),
        ("PLCγ hydrolyses PIP2.", [("Plcg", I, "PIP2", False, False)]),
        ("Akt phosphorylation requires PIP3.", [("PIP3", A, "Akt", False, False)]),
        ("Raf and Mek activate Erk and p38.", [("Raf", A, "Erk", False, False), ("Raf", A, "P38", False, False),
                                              ("Mek", A, "Erk", False, False), ("Mek", A, "P38", False, False)]),
        ("Activation of Raf and phosphorylation of Mek were measured.", []),
        ("PKA phosphorylates Raf, whereas PKC activates Mek.", [("PKA", A, "Raf", False, False), ("PKC", A, "Mek", False, False)]),
        ("Raf was measured in cells treated with STAT3.", []),
        # agents named by a list, through ungrounded items, and only while it stays a list
        ("Activators of Raf include interferon beta, protein kinase C (PKC) alpha, UV light, and Akt.",
         [("PKC", A, "Raf", False, False), ("Akt", A, "Raf", False, False)]),
        ("Raf inhibitors such as PKA were tested.", [("PKA", I, "Raf", False, False)]),
        ("Activators of Raf include PKC, which inhibits Akt.", [("PKC", A, "Raf", False, False), ("PKC", I, "Akt", False, False)]),
        ("Activators of Raf do not include PKC.", []),
        ("Raf activates Mek, and PKC inhibits Akt.", [("Raf", A, "Mek", False, False), ("PKC", I, "Akt", False, False)]),
        # a short name before its alias in parentheses keeps the coordination: both kinases act on Raf
        ("Raf is inhibited by phosphorylation by protein kinases A (PKA) and B (PKB/Akt).",
         [("PKA", I, "Raf", False, False), ("Akt", I, "Raf", False, False)]),
    ],
)  # fmt: skip
def test_rule_extractor(sachs: Domain, text: str, expected: list[tuple]) -> None:
    assert read(sachs, text) == expected


def test_rule_extractor_is_an_extractor_and_keeps_evidence(sachs: Domain) -> None:
    x = RuleExtractor()
    assert isinstance(x, Extractor) and (x.name, x.version) == ("rules", "1")
    text = "Raf activates Mek."
    ev = Evidence(text, "sha", 2, 10, 28, "123")
    (claim,) = x.extract(Sentence(text, 2, 10, 28), Grounder(sachs, GroundingConfig(use_embeddings=False)).mentions(text), evidence=ev)
    assert claim.evidence == ev and claim.extractor == "rules"


def claim(c: str, e: str, r: Relation = A, *, negated: bool = False, direct: bool = True, sha: str = "p1") -> Claim:
    return Claim(c, e, r, direct=direct, negated=negated, evidence=Evidence(f"{c} {r.value} {e}", sha))


def test_paper_hypothesis_simplifies_and_keeps_evidence() -> None:
    (h,) = paper_hypotheses([claim("Raf", "Mek"), claim("Raf", "Mek", direct=False), claim("Mek", "Erk", C)])
    assert h.constraints == (Constraint("Mek", "Erk", False, False, 0), Constraint("Raf", "Mek", False, False, 1))
    assert h.render() == "Mek affects Erk; Raf activates Mek"
    assert len(h.evidence) == 3 and h.conflicts == ()


def test_contradictions_inside_a_paper_are_kept_apart() -> None:
    hyps = paper_hypotheses([claim("PKC", "Raf"), claim("PKA", "Raf", A), claim("PKA", "Raf", I)])
    main, *sides = hyps
    assert main.constraints == (Constraint("PKC", "Raf", False, False, 1),)
    assert "PKA->Raf" in main.conflicts[0]
    assert sorted(h.render() for h in sides) == ["PKA activates Raf; PKC activates Raf", "PKA inhibits Raf; PKC activates Raf"]
    assert all("contradicts itself on PKA -> Raf" in h.conflicts[0] for h in sides)


def test_required_and_forbidden_and_two_cycles_conflict() -> None:
    hyps = paper_hypotheses([claim("Akt", "Raf"), claim("Akt", "Raf", negated=True)])
    assert len(hyps) == 2 and {h.constraints[0].forbidden for h in hyps} == {False, True}
    cyc = paper_hypotheses([claim("Raf", "Mek"), claim("Mek", "Raf")])
    assert sorted(h.render() for h in cyc) == ["Mek activates Raf", "Raf activates Mek"]


def test_equal_hypotheses_merge_across_papers() -> None:
    (h1,) = paper_hypotheses([claim("Raf", "Mek", sha="p1")])
    (h2,) = paper_hypotheses([claim("Raf", "Mek", sha="p2")])
    assert h1.shallow_hash() == h2.shallow_hash() and h1.deep_hash() != h2.deep_hash()
    (merged,) = merge_hypotheses([h1, h2])
    assert {c.evidence.paper_sha256 for c in merged.evidence} == {"p1", "p2"}


SACHS_PKC = ("Other Ras-independent activators of Raf include interferon beta, protein kinase C (PKC) alpha, antiapoptotic "
             "proteins (eg, Bcl-2), scaffolding proteins (eg, ceramide-activated protein kinase), ultraviolet light, ionizing "
             "radiation, retinoids, erythropoietin, and dimerization between Raf isoforms 86-94 (Fig 3).")
SACHS_AKT = ("Furthermore, the kinase activity of Raf is inhibited by its interactions with cholesterol-rich lipid rafts in the "
             "cell membrane and phosphorylation by protein kinases A (PKA) and B (PKB/Akt), as shown in Figure 2.95-98")


def test_rules_read_the_sachs_statements_list_and_alias(sachs: Domain) -> None:
    """Two evidence sentences of the Sachs statement table (BEL small corpus, PMID 16170185) as written:
    "activators of Raf include ... PKC alpha" (PKC increases Raf) and "... by protein kinases A (PKA) and B
    (PKB/Akt)" (PKA and Akt decrease Raf); the second also makes PKA and Akt coordinated (no claim between)."""
    assert read(sachs, SACHS_PKC) == [("PKC", A, "Raf", False, False)]
    assert read(sachs, SACHS_AKT) == [("PKA", I, "Raf", False, False), ("Akt", I, "Raf", False, False)]
    g = Grounder(sachs, GroundingConfig(use_embeddings=False))
    assert frozenset(("PKA", "Akt")) in coordinated_pairs(g.mentions(SACHS_AKT), SACHS_AKT)
