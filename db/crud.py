"""Data-access functions. Each takes the session as the keyword ``session`` and never commits: the
caller's transaction (``session_scope``) decides what is written together.

``theorycov.db`` knows nothing of the corpus value types; ``theorycov.corpus.store`` converts them.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from theorycov.db.models import (
    Claim,
    Domain,
    Hypothesis,
    HypothesisEvidence,
    IndexItem,
    Paper,
    Variable,
)


# ---------------------------------------------------------------- domains
def upsert_domain(
    name: str,
    variables: Sequence[tuple[str, Sequence[str], str | None]],
    *,
    session: Session,
    description: str = "",
    content_hash: str = "",
) -> Domain:
    """Create the domain or bring its variables up to date (new variables added, aliases replaced).

    Variables are never deleted: claims point at them.
    """
    dom = session.scalar(select(Domain).where(Domain.name == name))
    if dom is None:
        dom = Domain(name=name, description=description, content_hash=content_hash)
        session.add(dom)
        session.flush()
    elif dom.content_hash == content_hash and content_hash:
        return dom
    dom.description, dom.content_hash = description, content_hash
    existing = {v.name: v for v in dom.variables}
    for vname, aliases, unit in variables:
        var = existing.get(vname)
        if var is None:
            dom.variables.append(Variable(name=vname, aliases=list(aliases), unit=unit))
        else:
            var.aliases, var.unit = list(aliases), unit
    session.flush()
    return dom


def get_domain(name: str, *, session: Session) -> Domain | None:
    """The domain called ``name``, or None."""
    return session.scalar(select(Domain).where(Domain.name == name))


def variable_ids(domain_id: int, *, session: Session) -> dict[str, int]:
    """Variable name -> id for one domain."""
    rows = session.execute(select(Variable.name, Variable.id).where(Variable.domain_id == domain_id))
    return {name: vid for name, vid in rows}


# ---------------------------------------------------------------- files and papers


def known_papers(*, session: Session, shas: Iterable[str] = (), content_keys: Iterable[str] = (), dois: Iterable[str] = (),
                 pmids: Iterable[str] = ()) -> list[Paper]:
    """Stored papers with any of these content hashes, normalized-content keys, DOIs (lower-cased spellings,
    compared with the stored DOI lower-cased) or PMIDs."""
    conds = []
    for col, vals in ((Paper.sha256, list(shas)), (Paper.content_key, list(content_keys)), (Paper.pmid, list(pmids))):
        conds += [col.in_(vals[i : i + 500]) for i in range(0, len(vals), 500)]
    spelled = list(dois)
    conds += [func.lower(Paper.doi).in_(spelled[i : i + 500]) for i in range(0, len(spelled), 500)]
    return list(session.scalars(select(Paper).where(or_(*conds)))) if conds else []


def set_paper_content_key(paper_id: int, key: str | None, *, session: Session) -> None:
    """Record a stored paper's normalized-content key (theorycov.corpus.identity)."""
    paper = session.get(Paper, paper_id)
    if paper is not None:
        paper.content_key = key


def get_paper(sha256: str, *, session: Session) -> Paper | None:
    """The paper with this content hash, or None."""
    return session.scalar(select(Paper).where(Paper.sha256 == sha256))


def paper_shas(shas: Iterable[str], *, session: Session) -> set[str]:
    """The subset of ``shas`` already stored as papers."""
    shas = list(shas)
    found: set[str] = set()
    for i in range(0, len(shas), 500):  # keep IN lists short for every backend
        found.update(session.scalars(select(Paper.sha256).where(Paper.sha256.in_(shas[i : i + 500]))))
    return found


def count(model: type, *, session: Session) -> int:
    """Number of rows of a table model."""
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


# ---------------------------------------------------------------- hypotheses
def get_or_create_hypothesis(
    domain_id: int,
    shallow_hash: str,
    constraints: list[dict[str, Any]],
    rendering: str,
    *,
    session: Session,
    conflicts: Sequence[str] = (),
) -> tuple[Hypothesis, bool]:
    """The hypothesis with this hash in the domain (created if new); the flag says it was created."""
    hyp = session.scalar(
        select(Hypothesis).where(Hypothesis.domain_id == domain_id, Hypothesis.shallow_hash == shallow_hash)
    )
    if hyp is not None:
        merged = sorted(set(hyp.conflicts) | set(conflicts))
        if merged != sorted(hyp.conflicts):
            hyp.conflicts = merged
        return hyp, False
    hyp = Hypothesis(
        domain_id=domain_id,
        shallow_hash=shallow_hash,
        constraints=constraints,
        rendering=rendering,
        conflicts=list(conflicts),
    )
    session.add(hyp)
    session.flush()
    return hyp, True


def add_hypothesis_evidence(
    hypothesis_id: int, paper_id: int, claim_id: int | None, *, session: Session
) -> HypothesisEvidence:
    """Link a supporting paper (and claim) to a hypothesis; an existing link is returned unchanged."""
    row = session.scalar(
        select(HypothesisEvidence).where(
            HypothesisEvidence.hypothesis_id == hypothesis_id,
            HypothesisEvidence.paper_id == paper_id,
            HypothesisEvidence.claim_id.is_(None) if claim_id is None else HypothesisEvidence.claim_id == claim_id,
        )
    )
    if row is None:
        row = HypothesisEvidence(hypothesis_id=hypothesis_id, paper_id=paper_id, claim_id=claim_id)
        session.add(row)
    return row


def list_hypotheses(*, session: Session, domain_id: int | None = None) -> list[Hypothesis]:
    """Every hypothesis (of one domain), oldest first."""
    q = select(Hypothesis).order_by(Hypothesis.id)
    if domain_id is not None:
        q = q.where(Hypothesis.domain_id == domain_id)
    return list(session.scalars(q))


def hypothesis_papers(hypothesis_id: int, *, session: Session) -> list[Paper]:
    """The papers that support a hypothesis, each once, in id order."""
    # A subquery, not DISTINCT over the paper rows: PostgreSQL has no equality operator for JSON columns.
    ids = select(HypothesisEvidence.paper_id).where(HypothesisEvidence.hypothesis_id == hypothesis_id)
    q = select(Paper).where(Paper.id.in_(ids)).order_by(Paper.id)
    return list(session.scalars(q))


# ---------------------------------------------------------------- the FAISS side table
def add_index_item(
    hypothesis_id: int, kind: str, text: str, text_hash: str, *, session: Session, claim_id: int | None = None
) -> IndexItem | None:
    """Queue a text for the index; None when this hypothesis already has the same text of that kind."""
    exists = session.scalar(
        select(IndexItem.id).where(
            IndexItem.hypothesis_id == hypothesis_id, IndexItem.kind == kind, IndexItem.text_hash == text_hash
        )
    )
    if exists is not None:
        return None
    item = IndexItem(hypothesis_id=hypothesis_id, claim_id=claim_id, kind=kind, text=text, text_hash=text_hash)
    session.add(item)
    return item


def pending_index_items(*, session: Session, limit: int | None = None) -> list[IndexItem]:
    """Items not yet in the FAISS index, in id order."""
    q = select(IndexItem).where(IndexItem.indexed.is_(False)).order_by(IndexItem.id)
    return list(session.scalars(q.limit(limit) if limit else q))


def all_index_items(*, session: Session) -> list[IndexItem]:
    """Every index item, in id order (to rebuild a lost index)."""
    return list(session.scalars(select(IndexItem).order_by(IndexItem.id)))


def mark_indexed(ids: Sequence[int], *, session: Session, indexed: bool = True) -> None:
    """Flag items as present in (or absent from) the FAISS index."""
    for i in range(0, len(ids), 500):
        for item in session.scalars(select(IndexItem).where(IndexItem.id.in_(ids[i : i + 500]))):
            item.indexed = indexed


# ---------------------------------------------------------------- ingest runs


def domain_claims(domain: str, *, session: Session) -> list[Claim]:
    """Every claim of a domain, with its paper, cause and effect loaded, in storage order."""
    q = (select(Claim).join(Variable, Claim.cause_id == Variable.id).join(Domain, Variable.domain_id == Domain.id)
         .where(Domain.name == domain).order_by(Claim.id)
         .options(selectinload(Claim.paper), selectinload(Claim.cause), selectinload(Claim.effect)))  # fmt: skip
    return list(session.scalars(q))


def claim_hypothesis_ids(claim_ids: Iterable[int], *, session: Session) -> dict[int, set[int]]:
    """{claim id: ids of the hypotheses it is evidence for}."""
    ids = list(claim_ids)
    out: dict[int, set[int]] = {i: set() for i in ids}
    if ids:
        q = select(HypothesisEvidence.claim_id, HypothesisEvidence.hypothesis_id).where(HypothesisEvidence.claim_id.in_(ids))
        for cid, hid in session.execute(q):
            out[int(cid)].add(int(hid))
    return out


def hypotheses_with_evidence(*, session: Session, hypothesis_id: int | None = None, domain_id: int | None = None) -> list[Hypothesis]:
    """Hypotheses (all, one, or one domain's) with their evidence rows, claims and papers loaded."""
    q = (select(Hypothesis).options(selectinload(Hypothesis.evidence).selectinload(HypothesisEvidence.claim),
                                    selectinload(Hypothesis.evidence).selectinload(HypothesisEvidence.paper))
         .order_by(Hypothesis.id))  # fmt: skip
    if hypothesis_id is not None:
        q = q.where(Hypothesis.id == hypothesis_id)
    if domain_id is not None:
        q = q.where(Hypothesis.domain_id == domain_id)
    return list(session.scalars(q))


def domain_names(*, session: Session) -> dict[int, str]:
    """{domain id: name}."""
    return {int(i): str(n) for i, n in session.execute(select(Domain.id, Domain.name).order_by(Domain.name))}


def variable_names(*, session: Session) -> list[str]:
    """Every variable name, domain by domain, in definition order."""
    return list(session.scalars(select(Variable.name).join(Domain).order_by(Domain.id, Variable.id)))


from theorycov.db.crud_ingest import *  # noqa: E402,F401,F403  (source files and ingest runs)
from theorycov.db.crud_runs import *  # noqa: E402,F401,F403  (runs, audits, decisions: the later stages' rows)

