"""theorycov.corpus: paper collections to grounded, deduplicated, searchable hypotheses.

    from theorycov.corpus import ingest, search
    ingest(["papers/"], domain="sachs", db_url="sqlite:///theorycov.db")
    for hit in search("what activates Erk?", k=5, db_url="sqlite:///theorycov.db"):
        print(hit.score, hit.rendering, [c.short() for c in hit.citations])

Stages (in data order): readers -> sentences -> grounding (domain) -> extractors (rules, BEL-curated,
the language model through the same Extractor interface) -> assemble -> store (db) -> index (FAISS).
Names below are imported on first use, so ``import theorycov.corpus`` stays fast.
"""
from __future__ import annotations


from theorycov.corpus.types import (
    Citation,
    Claim,
    Constraint,
    CorpusError,
    DomainError,
    Evidence,
    ExtractionError,
    Extractor,
    Hypothesis,
    Mention,
    Paper,
    Passage,
    ReaderError,
    Relation,
    Sentence,
)

from theorycov.lazy import lazy_attributes

_LAZY = {
    "ingest": "pipeline", "IngestConfig": "pipeline", "IngestSummary": "pipeline", "process_paper": "reading",
    "search": "index", "HypothesisIndex": "index", "SearchHit": "index",
    "Domain": "domain", "Variable": "domain", "load_domain": "domain", "shipped_domains": "domain",
    "domain_from_genes": "genes", "expand_domain": "genes", "AmbiguousAlias": "genes",
    "Grounder": "grounding", "GroundingConfig": "grounding",
    "RuleExtractor": "rules", "RuleConfig": "rules",
    "paper_hypotheses": "assemble", "merge_hypotheses": "assemble",
    "read_file": "readers", "ReaderConfig": "readers", "ReadResult": "readers",
    "split_text": "sentences", "load_hypotheses": "store",
}  # fmt: skip


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "Citation", "Claim", "Constraint", "CorpusError", "DomainError", "Evidence", "ExtractionError", "Extractor",
    "Hypothesis", "Mention", "Paper", "Passage", "ReaderError", "Relation", "Sentence", *_LAZY,
]  # fmt: skip
