"""Reading one paper: ground its curated claims, split its text, ground each sentence's mentions and ask the
extractor about every sentence that names two or more different variables.

Split out of :mod:`theorycov.corpus.pipeline` (which imports :func:`process_paper` from here and calls it per
paper): this is the part that touches untrusted text, and nothing in it writes to the database.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from theorycov.corpus.grounding import Grounder, nearest
from theorycov.corpus.sentences import split_paper_passages
from theorycov.corpus.types import Claim, Evidence, ExtractionError, Extractor, Mention, Paper

__all__ = ["ReadPaper", "process_paper"]


@dataclass
class ReadPaper:
    """One paper after grounding and extraction, ready to store."""

    paper: Paper
    claims: list[Claim]
    rejected: list[dict]
    errors: list[tuple[str, str, str]]  # (location, error, reason)


def process_paper(paper: Paper, grounder: Grounder, extractor: Extractor, *, extract_curated: bool = False,
                  on_sentence: Callable[[int, int], None] | None = None) -> ReadPaper:
    """Ground curated claims, split the text, ground mentions and run the extractor on sentences that
    mention at least two different variables; ``on_sentence(i, n)`` after each of the n such sentences."""
    claims: list[Claim] = []
    rejected: list[dict] = []
    errors: list[tuple[str, str, str]] = []
    names = set(grounder.domain.names)

    def reject(mention: Mention, sentence: str) -> None:
        best, score = nearest(mention)
        rejected.append(dict(paper_sha256=paper.sha256, text=mention.text[:500], sentence=sentence[:2000],
                             reason=mention.reason, best_variable=best, best_score=score))  # fmt: skip

    grounder.prefetch([n for c in paper.curated_claims for n in (c.cause, c.effect)])
    for c in paper.curated_claims:
        cause, effect = grounder.ground_name(c.cause), grounder.ground_name(c.effect)
        for mention in (cause, effect):
            if mention.variable is None:
                reject(mention, c.evidence.sentence)
        if cause.variable and effect.variable and cause.variable != effect.variable:
            claims.append(replace(c, cause=cause.variable, effect=effect.variable))
    if paper.curated_claims and not extract_curated:
        return ReadPaper(paper, claims, rejected, errors)
    sentences = split_paper_passages(paper.passages)
    annotated = list(zip(sentences, grounder.annotate([s.text for s in sentences])))
    n_read = sum(len({mm.variable for mm in ms if mm.variable}) >= 2 for _, ms in annotated)
    done = 0
    for sent, mentions in annotated:
        for mention in mentions:
            if mention.variable is None:
                reject(mention, sent.text)
        if len({mm.variable for mm in mentions if mm.variable}) < 2:
            continue
        done += 1
        if on_sentence is not None:
            on_sentence(done, n_read)
        ev = Evidence(sent.text, paper.sha256, sent.passage_index, sent.start, sent.end, paper.citation.pmid)
        try:
            got = extractor.extract(sent, mentions, evidence=ev)
        except ExtractionError as exc:
            errors.append((f"sentence at {sent.passage_index}:{sent.start}", "ExtractionError", str(exc)))
            continue
        for c in got:
            if c.cause not in names or c.effect not in names:
                errors.append((f"sentence at {sent.passage_index}:{sent.start}", "ExtractionError",
                               f"{extractor.name} returned unknown variables {c.cause!r} -> {c.effect!r}"))  # fmt: skip
            elif c.cause != c.effect:
                claims.append(c)
    return ReadPaper(paper, claims, rejected, errors)
