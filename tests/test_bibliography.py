"""The bundled demo bibliography: real papers on the Sachs et al. 2005 pathway, summarized for this project."""
from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest

BIB = Path(__file__).resolve().parents[1] / "theorycov" / "data" / "bibliography.jsonl"

REQUIRED = {"id": str, "title": str, "authors": list, "year": int, "venue": str, "abstract": str}
OPTIONAL = {"doi": str, "pmid": str}

# The eleven measured variables and the names the literature uses for them (matched case-insensitively).
ALIASES: dict[str, list[str]] = {
    "Raf": [r"\braf", r"b-raf"],
    "Mek": [r"\bmek", r"map kinase kinase", r"mapkk"],
    "Erk": [r"\berk", r"p44/42", r"p42 mapk", r"map kinase\b(?! kinase)"],
    "Plcg": [r"plc-gamma", r"plc-γ", r"plcγ", r"plcg", r"phospholipase c"],
    "PIP2": [r"pip2", r"pi\(4,5\)p2", r"ptdins\(4,5\)p2", r"4,5-bisphosphate"],
    "PIP3": [r"pip3", r"pi\(3,4,5\)p3", r"ptdins\(3,4,5\)p3", r"3,4,5-trisphosphate"],
    "Akt": [r"\bakt", r"\bpkb\b", r"protein kinase b"],
    "PKA": [r"\bpka\b", r"protein kinase a\b", r"camp-dependent protein kinase", r"\bcamp\b"],
    "PKC": [r"\bpkc", r"protein kinase c\b"],
    "P38": [r"\bp38"],
    "Jnk": [r"\bjnk", r"\bsapk", r"c-jun n-terminal kinase"],
}


def _variables(text: str) -> set[str]:
    low = text.lower()
    return {v for v, pats in ALIASES.items() if any(re.search(p, low) for p in pats)}


@pytest.fixture(scope="module")
def records() -> list[dict]:
    lines = BIB.read_text(encoding="utf-8").splitlines()
    assert lines, "bibliography.jsonl is empty"
    out = []
    for n, line in enumerate(lines, 1):
        assert line.strip(), f"line {n} is blank"
        out.append(json.loads(line))
    return out


def test_fields_and_types(records: list[dict]) -> None:
    for r in records:
        for key, typ in REQUIRED.items():
            assert isinstance(r.get(key), typ), f"{r.get('id')}: {key} missing or not {typ.__name__}"
            if typ is str:
                assert r[key].strip(), f"{r['id']}: {key} is empty"
        assert set(r) <= set(REQUIRED) | set(OPTIONAL), f"{r['id']}: unexpected keys {set(r) - set(REQUIRED) - set(OPTIONAL)}"
        assert r["authors"] and all(isinstance(a, str) and ", " in a for a in r["authors"]), (
            f"{r['id']}: authors must be 'Last, First'"
        )
        assert 1950 <= r["year"] <= 2025, f"{r['id']}: implausible year {r['year']}"
        if "doi" in r:
            assert re.fullmatch(r"10\.\d{4,9}/\S+", r["doi"]), f"{r['id']}: bad doi {r['doi']}"
        if "pmid" in r:
            assert re.fullmatch(r"\d{5,9}", r["pmid"]), f"{r['id']}: bad pmid {r['pmid']}"


def test_unique_ids_and_identifiers(records: list[dict]) -> None:
    for key in ("id", "doi", "pmid"):
        vals = [r[key] for r in records if key in r]
        assert len(vals) == len(set(vals)), f"duplicate {key}"
    assert 14 <= len(records) <= 25


def test_summaries_name_pathway_variables(records: list[dict]) -> None:
    for r in records:
        found = _variables(r["abstract"])
        assert len(found) >= 2, f"{r['id']}: summary names only {sorted(found)}"
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", r["abstract"].strip()) if s]
        assert 3 <= len(sentences) <= 6, f"{r['id']}: {len(sentences)} sentences"


def test_corpus_covers_every_variable_and_has_negations(records: list[dict]) -> None:
    allvars = set().union(*(_variables(r["abstract"]) for r in records))
    assert allvars == set(ALIASES)
    negated = [r["id"] for r in records if re.search(r"\bno effect\b|\bdid not\b|\bnot\b", r["abstract"])]
    assert negated


def test_sachs_2005_present(records: list[dict]) -> None:
    sachs = [r for r in records if r.get("doi") == "10.1126/science.1105809"]
    assert len(sachs) == 1
    s = sachs[0]
    assert s["year"] == 2005 and s["venue"] == "Science"
    assert s["authors"][0].startswith("Sachs,")


def test_shipped_as_package_data() -> None:
    res = resources.files("theorycov") / "data" / "bibliography.jsonl"
    assert res.is_file()
