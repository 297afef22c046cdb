"""The scoring module: gold loaders and claim-level precision/recall/F1."""
from __future__ import annotations

from pathlib import Path

import pytest

from theorycov.corpus import evaluate as ev
from theorycov.corpus.grounding import GroundingConfig
from theorycov.corpus.rules import RuleExtractor

BEL = '''SET Citation = {"PubMed","J","1","","A B",""}
SET Evidence = "PRKCA activates RAF1, and RAF1 phosphorylates MAP2K1."
kin(p(HGNC:PRKCA)) increases kin(p(HGNC:RAF1))
kin(p(HGNC:RAF1)) directlyIncreases p(HGNC:MAP2K1,pmod(P))
SET Evidence = "AKT1 inhibits RAF1 and BRAF."
kin(p(HGNC:AKT1)) decreases kin(p(HGNC:RAF1))
kin(p(HGNC:AKT1)) decreases kin(p(HGNC:BRAF))
'''


def test_bel_gold_and_scores(tmp_path: Path) -> None:
    p = tmp_path / "g.bel"
    p.write_text(BEL)
    gold = ev.load_bel_gold(p)
    assert gold.n_triples == 3 and {v.name for v in gold.domain.variables} == {"PRKCA", "RAF1", "MAP2K1", "AKT1", "BRAF"}
    first = gold.items[0]
    assert first.triples == {("PRKCA", "RAF1", 1)} and first.ignore == {("RAF1", "MAP2K1")}  # pmod left out
    sc = ev.evaluate(gold, RuleExtractor(), grounding=GroundingConfig(use_embeddings=False))
    # the phosphorylation claim RAF1 -> MAP2K1 is on an ignored pair: neither right nor wrong
    assert (sc.tp, sc.fp, sc.fn) == (3, 0, 0) and sc.f1 == 1.0


def test_score_predictions_arithmetic() -> None:
    item = ev.GoldItem("x", "t", frozenset({("A", "B", 1), ("B", "C", -1)}), frozenset({("C", "D")}))
    gold = ev.GoldSet("toy", (item,), None)
    sc = ev.score_predictions(gold, {"x": {("A", "B", 1), ("B", "C", 1), ("C", "D", 1)}})
    assert (sc.tp, sc.fp, sc.fn) == (1, 1, 1)
    assert sc.precision == pytest.approx(0.5) and sc.recall == pytest.approx(0.5) and sc.f1 == pytest.approx(0.5)
    undirected = ev.GoldSet("toy", (item,), None, directed=False)
    assert ev.score_predictions(undirected, {"x": {("B", "A", 1)}}).tp == 1


def test_shared_gold_files_load(shared_data: Path) -> None:
    tsv = ev.load_sachs_tsv(shared_data / "bel" / "sachs_node_statements_from_bel.tsv")
    assert {t for i in tsv.items for t in i.triples} >= {("PKC", "Raf", 1), ("Raf", "Mek", 1), ("PKA", "Raf", -1)}
    biored = ev.load_biored_gold(shared_data / "biored" / "Dev.PubTator")
    assert len(biored.items) == 100 and not biored.directed and biored.n_triples > 100
    genes = ev.load_biored_gold(shared_data / "biored" / "Dev.PubTator", types=frozenset({"GeneOrGeneProduct"}))
    assert 0 < genes.n_triples < biored.n_triples  # gene-gene relations only (NCBI Gene ids are numbers)
    assert all(v.name.isdigit() for it in genes.items for v in it.domain.variables)  # type: ignore[union-attr]


def test_protein_scope_leaves_chemical_claims_unscored(tmp_path: Path) -> None:
    p = tmp_path / "g.bel"
    p.write_text(BEL + 'SET Evidence = "Hydrogen peroxide activates AKT1, which inhibits RAF1."\n'
                       'a(CHEBI:"hydrogen peroxide") increases kin(p(HGNC:AKT1))\nkin(p(HGNC:AKT1)) decreases kin(p(HGNC:RAF1))\n')
    gold = ev.load_bel_gold(p, proteins_only=True)
    assert gold.scope == {"PRKCA", "RAF1", "MAP2K1", "AKT1", "BRAF"}
    last = gold.items[-1]
    # a claim on a chemical, even on a pair the curator left out, is outside the protein-protein measure
    sc = ev.score_predictions(gold, {last.id: {("AKT1", "RAF1", -1), ("hydrogen peroxide", "RAF1", 1)}})
    assert (sc.tp, sc.fp, sc.outside) == (1, 0, 1)
    assert ev.score_predictions(ev.load_bel_gold(p), {last.id: {("hydrogen peroxide", "RAF1", 1)}}).fp == 1
