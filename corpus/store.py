"""Corpus value types to database rows (and back): the one place that knows both.

``save_paper`` writes a paper, its passages, its grounded claims, its hypotheses (merged with equal
ones from other papers through the shallow hash) and the texts the FAISS index must learn, inside
the caller's transaction. ``load_hypotheses`` turns rows back into :class:`Theory` records (id, hypothesis
with its claims, citations), and ``edge_evidence`` finds the sentences behind each edge for explanations.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from theorycov.corpus.types import Paper
from theorycov.db import crud
from theorycov.db import models as m
from theorycov.db.schemas import Citation, Claim, Constraint, Evidence, EvidenceRef, Hypothesis, Relation, Theory


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class SaveResult:
    """What one paper added."""

    paper_id: int
    claims: int
    hypotheses_new: int
    hypotheses_merged: int
    index_items: int


def save_paper(
    paper: Paper,
    claims: list[Claim],
    hypotheses: list[Hypothesis],
    *,
    session: Session,
    domain_id: int,
    var_ids: dict[str, int],
    source_file_id: int | None = None,
) -> SaveResult:
    """Write one paper with everything read from it; the caller commits or rolls back."""
    cit = paper.citation
    row = m.Paper(
        sha256=paper.sha256, title=cit.title, authors=list(cit.authors), year=cit.year, venue=cit.venue,
        doi=cit.doi, pmid=cit.pmid, source_path=paper.source_path, source_file_id=source_file_id,
    )  # fmt: skip
    for i, p in enumerate(paper.passages):
        row.passages.append(
            m.Passage(position=i, text=p.text, section=p.section, start=p.start, end=p.start + len(p.text), page=p.page)
        )
    session.add(row)
    session.flush()
    passage_ids = [p.id for p in row.passages]
    claim_rows: dict[str, m.Claim] = {}
    for c in claims:
        key = c.deep_hash()
        if key in claim_rows:
            continue
        ev = c.evidence
        cr = m.Claim(
            paper_id=row.id,
            passage_id=passage_ids[ev.passage_index] if 0 <= ev.passage_index < len(passage_ids) else None,
            cause_id=var_ids[c.cause], effect_id=var_ids[c.effect], relation=c.relation.value, direct=c.direct,
            negated=c.negated, hedged=c.hedged, confidence=c.confidence, extractor=c.extractor,
            extractor_version=c.extractor_version, sentence=ev.sentence, sentence_start=ev.start,
            sentence_end=ev.end, shallow_hash=c.shallow_hash(), deep_hash=key,
        )  # fmt: skip
        session.add(cr)
        claim_rows[key] = cr
    session.flush()
    new = merged = items = 0
    for h in hypotheses:
        hrow, created = crud.get_or_create_hypothesis(
            domain_id, h.shallow_hash(), [asdict(c) for c in h.constraints], h.render(),
            session=session, conflicts=h.conflicts,
        )  # fmt: skip
        new += created
        merged += not created
        if created and crud.add_index_item(hrow.id, "rendering", h.render(), text_hash(h.render()), session=session):
            items += 1
        for c in h.evidence:
            cr = claim_rows.get(c.deep_hash())
            crud.add_hypothesis_evidence(hrow.id, row.id, cr.id if cr else None, session=session)
            sent = c.evidence.sentence
            if sent and crud.add_index_item(hrow.id, "evidence", sent, text_hash(sent), session=session,
                                            claim_id=cr.id if cr else None):  # fmt: skip
                items += 1
        session.flush()
    return SaveResult(row.id, len(claim_rows), new, merged, items)


def citation_of(paper: m.Paper) -> Citation:
    """The citation value of a paper row."""
    return Citation(paper.title, tuple(paper.authors or ()), paper.year, paper.venue, paper.doi, paper.pmid)


def claim_of(row: m.Claim) -> Claim:
    """The claim value of a claim row (evidence from the stored sentence)."""
    ev = Evidence(row.sentence, row.paper.sha256, 0, row.sentence_start, row.sentence_end, row.paper.pmid)
    return Claim(row.cause.name, row.effect.name, Relation(row.relation), row.direct, row.negated, row.hedged,
                 row.confidence, row.extractor, row.extractor_version, ev)  # fmt: skip


def load_hypotheses(*, session: Session, domain: str | None = None) -> list[Theory]:
    """Every stored hypothesis (of one domain) as a :class:`Theory`: id, hypothesis with its claims, citations."""
    q = select(m.Hypothesis).options(
        selectinload(m.Hypothesis.evidence).selectinload(m.HypothesisEvidence.claim),
        selectinload(m.Hypothesis.evidence).selectinload(m.HypothesisEvidence.paper),
    ).order_by(m.Hypothesis.id)
    if domain is not None:
        dom = crud.get_domain(domain, session=session)
        if dom is None:
            return []
        q = q.where(m.Hypothesis.domain_id == dom.id)
    out = []
    for h in session.scalars(q):
        cons = tuple(Constraint(**c) for c in h.constraints)
        claims = tuple(claim_of(e.claim) for e in h.evidence if e.claim is not None)
        papers = {e.paper.id: e.paper for e in h.evidence}
        out.append(Theory(h.id, Hypothesis(cons, claims, tuple(h.conflicts or ())), tuple(citation_of(p) for p in papers.values())))
    return out


def edge_evidence(*, session: Session, domain: str, excluded: Collection[int] = ()) -> dict[tuple[str, str], list[EvidenceRef]]:
    """Every stored, non-negated claim of a domain, keyed by (cause, effect), in storage order; a claim that
    is evidence only for ``excluded`` hypotheses (ones no graph can satisfy) is never cited as support."""
    out: dict[tuple[str, str], list[EvidenceRef]] = {}
    claims = crud.domain_claims(domain, session=session)
    owners = crud.claim_hypothesis_ids([c.id for c in claims], session=session) if excluded else {}
    for c in claims:
        if c.negated or c.relation == Relation.NO_EFFECT.value:
            continue
        if owners.get(c.id) and owners[c.id] <= set(excluded):
            continue
        ref = EvidenceRef(citation_of(c.paper).short(), c.sentence, c.paper.pmid, c.paper.doi, c.id, c.relation)
        out.setdefault((c.cause.name, c.effect.name), []).append(ref)
    return out


def hypothesis_records(*, session: Session, hypothesis_id: int | None = None) -> list[dict[str, Any]]:
    """Every hypothesis (or one) as the dashboard shows it: id, domain, rendering, constraints in words,
    conflicts, and per paper its citation and the sentences (with relation and negation) behind it."""
    domains = crud.domain_names(session=session)
    out = []
    for h in crud.hypotheses_with_evidence(session=session, hypothesis_id=hypothesis_id):
        papers: dict[int, dict[str, Any]] = {}
        for e in h.evidence:
            cit = citation_of(e.paper)
            p = papers.setdefault(e.paper.id, {"id": e.paper.id, "citation": cit.short(), "title": cit.title, "authors": list(cit.authors),
                                               "year": cit.year, "venue": cit.venue, "doi": cit.doi, "pmid": cit.pmid, "sentences": []})
            if e.claim is not None and e.claim.sentence not in [x["text"] for x in p["sentences"]]:
                p["sentences"].append({"text": e.claim.sentence, "relation": e.claim.relation, "negated": e.claim.negated})
        out.append({"id": h.id, "domain": domains.get(h.domain_id, ""), "rendering": h.rendering,
                    "constraints": [_constraint_text(c) for c in h.constraints], "conflicts": list(h.conflicts or []),
                    "papers": list(papers.values())})
    return out


def _constraint_text(c: dict[str, Any]) -> str:
    try:
        return Constraint(**c).render()
    except (TypeError, ValueError, KeyError):  # a row written by an older schema: show it raw rather than fail the page
        return json.dumps(c)


__all__ = ["SaveResult", "citation_of", "claim_of", "edge_evidence", "hypothesis_records", "load_hypotheses", "save_paper", "text_hash"]
