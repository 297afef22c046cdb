"""Domains, alias normalization and grounding (alias first, embedding nearest neighbour, rejection)."""
from __future__ import annotations

from pathlib import Path

import pytest

from theorycov.corpus.domain import Domain, alias_key, load_domain, shipped_domains
from theorycov.corpus.grounding import Grounder, GroundingConfig, nearest
from theorycov.corpus.types import DomainError


def test_sachs_domain_ships(sachs: Domain) -> None:
    assert "sachs" in shipped_domains()
    assert sachs.names == ("Raf", "Mek", "Erk", "Plcg", "PIP2", "PIP3", "Akt", "PKA", "PKC", "P38", "Jnk")
    assert len(sachs.alias_table()) > 200


@pytest.mark.parametrize(
    "surface, variable",
    [
        ("c-Raf", "Raf"), ("RAF1", "Raf"), ("MEK1/2", "Mek"), ("MAP2K1", "Mek"), ("p44/42 MAPK", "Erk"),
        ("ERK1/2", "Erk"), ("ERKs", "Erk"), ("PKB", "Akt"), ("Akt2", "Akt"), ("cAMP-dependent protein kinase", "PKA"),
        ("PKCα", "PKC"), ("PKC-delta", "PKC"), ("p38 MAP kinase", "P38"), ("SAPK/JNK", "Jnk"),
        ("c-Jun N-terminal kinase", "Jnk"), ("PLCγ1", "Plcg"), ("PLC-gamma", "Plcg"), ("PI(4,5)P2", "PIP2"),
        ("phosphatidylinositol 3,4,5-trisphosphate", "PIP3"), ("PtdIns(3,4,5)P3", "PIP3"),
    ],
)  # fmt: skip
def test_alias_lookup(sachs: Domain, surface: str, variable: str) -> None:
    assert sachs.lookup(surface)[0] == variable


@pytest.mark.parametrize("surface", ["MEKK1", "ERK5", "MKK4", "PI3K", "c-Jun", "PKCmu", "lipid rafts"])
def test_look_alikes_are_refused(sachs: Domain, surface: str) -> None:
    var, reason = sachs.lookup(surface)
    assert var is None and reason.startswith("listed as not an alias of")


def test_alias_key_folds_case_hyphens_greek() -> None:
    assert alias_key("PLC-γ") == alias_key("plc gamma") == alias_key("PLCgamma") == "plcgamma"
    assert alias_key("PI(4,5)P2") == "pi45p2"


def test_duplicate_alias_across_variables(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text('name = "bad"\n[[variables]]\nname = "Erk"\naliases = ["MAPK"]\n[[variables]]\nname = "P38"\naliases = ["mapk"]\n')
    with pytest.raises(DomainError, match=r"alias 'mapk' \(key 'mapk'\) belongs to both 'Erk' and 'P38'"):
        load_domain(p)


@pytest.mark.parametrize(
    "toml, message",
    [
        ('name = "x"\n[[variables]]\nname = "A"\n[[variables]]\nname = "A"\n', "defined twice"),
        ('name = "x"\n', r"\[\[variables\]\]"),
        ('name = "x"\n[[variables]]\nname = "A"\nalias = ["a"]\n', "unknown keys"),
        ("name = \n", "not valid TOML"),
    ],
)
def test_invalid_domain_files(tmp_path: Path, toml: str, message: str) -> None:
    p = tmp_path / "d.toml"
    p.write_text(toml)
    with pytest.raises(DomainError, match=message):
        load_domain(p)


def test_unknown_domain_name() -> None:
    with pytest.raises(DomainError, match="no shipped domain of that name"):
        load_domain("no-such-domain")


def test_alias_grounding_and_rejection_without_model(sachs: Domain) -> None:
    g = Grounder(sachs, GroundingConfig(use_embeddings=False))
    ms = g.mentions("PKC-alpha phosphorylates Raf-1, activating MEK1/2 but not STAT3 or MEKK1.")
    assert [(m.text, m.variable, m.method) for m in ms] == [
        ("PKC-alpha", "PKC", "alias"), ("Raf-1", "Raf", "alias"), ("MEK1/2", "Mek", "alias"),
        ("STAT3", None, "rejected"), ("MEKK1", None, "rejected"),
    ]  # fmt: skip
    assert "matches no alias" in ms[3].reason and "not an alias of Mek" in ms[4].reason


def test_bracketed_citation_number_is_not_part_of_a_name(sachs: Domain) -> None:
    """"Akt1 (5)" is Akt1 and a citation; joined, "Akt1 (5" grounded to the family through its variant "akt"."""
    from theorycov.corpus.domain import Variable

    dom = Domain("akt", (Variable("AKT1", ("Akt1",)), Variable("AKT Family", ("AKT", "PKB")), Variable("PAWR", ("Par-4",))))
    ms = Grounder(dom, GroundingConfig(use_embeddings=False)).mentions("The interaction of Akt1 (5) with Par-4 (6) silences it.")
    assert [(m.text, m.variable) for m in ms] == [("Akt1", "AKT1"), ("Par-4", "PAWR")]
    # brackets inside a name still join: "PI(4,5)P2" is one window
    pip2 = Grounder(sachs, GroundingConfig(use_embeddings=False)).mentions("PI(4,5)P2 is hydrolysed by PLCgamma.")
    assert [(m.text, m.variable) for m in pip2][0] == ("PI(4,5)P2", "PIP2")


@pytest.mark.slow
def test_embedding_grounding_and_recorded_rejection(sachs: Domain, encoder) -> None:  # noqa: ANN001
    g = Grounder(sachs)
    m = g.ground_name("extracellular signal-regulated protein kinase")  # no alias spells it this way
    assert (m.variable, m.method) == ("Erk", "embedding") and m.score >= 0.86
    r = g.ground_name("ERK-5a")  # spelled like ERK-2, but below the threshold: rejected, with the nearest
    assert r.variable is None and r.method == "rejected"
    assert nearest(r)[0] == "Erk" and nearest(r)[1] < 0.86
    far = g.ground_name("NF-kappaB")  # nothing spelled alike: refused before the model
    assert far.variable is None and "trigram Dice" in far.reason
