"""Within-document coreference (corpus/coref.py): abbreviations defined once ground later, stem
ellipses ("cyclin D1 and D2"), definite descriptions with one candidate; nothing is guessed."""
from __future__ import annotations

import pytest

from theorycov.corpus.coref import abbreviations
from theorycov.corpus.domain import Domain, Variable
from theorycov.corpus.grounding import Grounder, GroundingConfig

DOM = Domain("t", (
    Variable("PKC", ("protein kinase C",)), Variable("Raf", ("Raf-1",)), Variable("IL6", ("IL-6", "interleukin 6")),
    Variable("STAT3", ("signal transducer and activator of transcription 3",)), Variable("CCND1", ("cyclin D1",)),
    Variable("CCND2", ("cyclin D2",)), Variable("CEBPA", ("C/EBPalpha",)), Variable("CEBPB", ("C/EBPbeta",)),
    Variable("MAPK3", ("ERK1",)), Variable("MAPK1", ("ERK2",)), Variable("Akt", ("PKB",), not_aliases=("PKM",)),
    Variable("JAK1", ("Janus kinase 1",)),
))  # fmt: skip


def _found(sentences: list[str], **cfg: bool) -> list[set[tuple[str, str, str]]]:
    g = Grounder(DOM, GroundingConfig(use_embeddings=False, **cfg))
    return [{(m.text, m.variable, m.method) for m in ms if m.variable} for ms in g.annotate(sentences)]


@pytest.mark.parametrize("text, expected", [
    ("Activation of protein kinase C (PKC) by phorbol esters.", [("PKC", "protein kinase C")]),
    ("PKM (protein kinase M) is a fragment.", [("PKM", "protein kinase M")]),
    ("vascular endothelial growth factor (VEGF) acts", [("VEGF", "vascular endothelial growth factor")]),
    ("c-Jun N-terminal kinase (JNK) and protein kinase B (PKB/Akt)", [("JNK", "c-Jun N-terminal kinase"), ("PKB", "protein kinase B")]),
    ("cells (Fig. 2) were lysed (n = 3)", []),
])  # fmt: skip
def test_schwartz_hearst_definitions(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(s, lf) for s, _, lf, _ in abbreviations(text)] == expected


def test_an_abbreviation_grounds_later_in_the_document_only() -> None:
    doc = ["Signal transducer and activator of transcription 3 (SAT3) is a factor.", "IL-6 activates SAT3 in liver."]
    first, second = _found(doc)
    assert ("SAT3", "STAT3", "abbreviation") in second and ("IL-6", "IL6", "alias") in second
    assert _found(["IL-6 activates SAT3 in liver."]) == [{("IL-6", "IL6", "alias")}]  # not defined here: not grounded
    assert _found(doc, coreference=False)[1] == {("IL-6", "IL6", "alias")}


def test_a_definition_never_overrides_the_domain() -> None:
    # "PKM" is a not_alias of Akt: its definition as protein kinase C does not make it PKC
    _, second = _found(["Protein kinase M (PKM) and protein kinase C (PKC) differ.", "PKM and PKC were measured."])
    assert ("PKC", "PKC", "alias") in second and not any(t == "PKM" for t, _, _ in second)


def test_stem_ellipsis() -> None:
    (found,) = _found(["They repress cyclin D1 and D2, C/EBPα and β, and ERK1 and 2 in 20 mice."])
    assert {("D2", "CCND2", "ellipsis"), ("β", "CEBPB", "ellipsis"), ("2", "MAPK1", "ellipsis")} <= found
    assert not any(t == "20" for t, _, _ in found)
    (found,) = _found(["ERK1 and 20 mice"])
    assert found == {("ERK1", "MAPK3", "alias")}  # "ERK20" is no alias: not read


def test_definite_descriptions_need_exactly_one_candidate() -> None:
    one = _found(["In liver, interleukin 6 is made.", "In the reaction, this cytokine stimulates hepatocytes."])
    assert ("this cytokine", "IL6", "coreference") in one[1]
    # two kinases in view (Raf-1 has no "kinase" in its names, Janus kinase 1 and protein kinase C do): none chosen
    two = _found(["Janus kinase 1 and protein kinase C were active.", "The kinase then bound Raf-1."])
    assert not any(m == "coreference" for _, _, m in two[1])
    far = _found(["Interleukin 6 is made.", "Nothing here.", "This cytokine acts."])
    assert not any(m == "coreference" for _, _, m in far[2])  # the antecedent must be this or the previous sentence
