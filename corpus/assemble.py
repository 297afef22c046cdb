"""Assembly: a paper's claims become its hypothesis (its partial causal graph); contradictions inside
the paper are kept apart and flagged; equal hypotheses from different papers merge with their evidence.

Within one paper, the constraints on an ordered pair (cause, effect) are simplified first (an edge
implies the path with the same sign; a signed constraint subsumes the unsigned one). A pair is in
conflict when the paper says both "activates" and "inhibits", requires and forbids the same link, or
requires links both ways between two variables (no DAG has both). The paper's main hypothesis holds
the constraints of every pair without conflict; each side of each conflict becomes its own hypothesis
(main + that side) with a note in ``conflicts``, so coverage can weigh each reading on the data.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from theorycov.corpus.types import Claim, Constraint, Hypothesis


def _simplify(cons: set[Constraint]) -> set[Constraint]:
    """Drop constraints a stronger one on the same pair implies."""
    out = set(cons)
    for c in cons:
        if c.forbidden:
            continue
        if c.sign == 0 and any(not d.forbidden and d.sign != 0 for d in cons):
            out.discard(c)  # a signed claim says more than "affects"
        if c.path and any(not d.forbidden and not d.path and d.sign == c.sign for d in cons):
            out.discard(c)  # the direct edge implies the path
    return out


def _pair_conflict(cons: set[Constraint]) -> list[set[Constraint]] | None:
    """The incompatible sides of one pair's constraints, or None when they agree."""
    required = {c for c in cons if not c.forbidden}
    forbidden = {c for c in cons if c.forbidden}
    pos = {c for c in required if c.sign > 0}
    neg = {c for c in required if c.sign < 0}
    if pos and neg:
        return [pos | {c for c in required if c.sign == 0}, neg] + ([forbidden] if forbidden else [])
    if required and any(f.path for f in forbidden):
        return [required, forbidden]
    if any(not r.path for r in required) and any(not f.path for f in forbidden):
        return [required, forbidden]
    return None


def paper_hypotheses(claims: Iterable[Claim]) -> list[Hypothesis]:
    """The hypotheses one paper states: the main one, and one per side of each internal conflict."""
    by_pair: dict[tuple[str, str], set[Constraint]] = defaultdict(set)
    support: dict[Constraint, list[Claim]] = defaultdict(list)
    pair_claims: dict[tuple[str, str], list[Claim]] = defaultdict(list)
    for claim in claims:
        if claim.cause == claim.effect:
            continue
        con = Constraint.from_claim(claim)
        by_pair[(claim.cause, claim.effect)].add(con)
        support[con].append(claim)
        pair_claims[(claim.cause, claim.effect)].append(claim)
    pairs = {k: _simplify(v) for k, v in by_pair.items()}
    sides: dict[tuple[str, str], list[set[Constraint]]] = {}
    for key, cons in pairs.items():
        conflict = _pair_conflict(cons)
        if conflict:
            sides[key] = conflict
    for (a, b), cons in pairs.items():  # required both ways: a 2-cycle no DAG satisfies
        back = pairs.get((b, a))
        if a < b and back and (a, b) not in sides and (b, a) not in sides:
            req, req_back = {c for c in cons if not c.forbidden}, {c for c in back if not c.forbidden}
            if req and req_back:
                sides[(a, b)] = [req, set()]
                sides[(b, a)] = [set(), req_back]
    main = {c for key, cons in pairs.items() if key not in sides for c in cons}

    def build(cons: set[Constraint], conflicts: tuple[str, ...] = ()) -> Hypothesis:
        # A pair without conflict keeps every claim on it (also those a stronger claim subsumed);
        # a side of a conflict keeps the claims of that side only.
        ev: list[Claim] = []
        for c in sorted(cons):
            key = (c.cause, c.effect)
            ev.extend(support.get(c, ()) if key in sides else pair_claims[key])
        return Hypothesis(tuple(cons), tuple(dict.fromkeys(ev)), conflicts)

    out: list[Hypothesis] = []
    if main:
        note = () if not sides else (f"{len(sides)} contradicted link(s) kept apart: " + ", ".join(f"{a}->{b}" for a, b in sorted(sides)),)
        out.append(build(main, note))
    seen: set[str] = set()
    for (a, b), alternatives in sorted(sides.items()):
        for alt in alternatives:
            if not alt:
                continue
            rendered = "; ".join(c.render() for c in sorted(alt))
            note = f"the paper contradicts itself on {a} -> {b}; this reading: {rendered}"
            hyp = build(main | alt, (note,))
            if hyp.shallow_hash() not in seen:
                seen.add(hyp.shallow_hash())
                out.append(hyp)
    return out


def merge_hypotheses(hypotheses: Iterable[Hypothesis]) -> list[Hypothesis]:
    """Merge hypotheses with the same constraint set (shallow hash), joining evidence and notes."""
    merged: dict[str, Hypothesis] = {}
    for h in hypotheses:
        key = h.shallow_hash()
        if key in merged:
            old = merged[key]
            merged[key] = Hypothesis(
                old.constraints,
                tuple(dict.fromkeys(old.evidence + h.evidence)),
                tuple(dict.fromkeys(old.conflicts + h.conflicts)),
            )
        else:
            merged[key] = h
    return list(merged.values())


__all__ = ["merge_hypotheses", "paper_hypotheses"]
