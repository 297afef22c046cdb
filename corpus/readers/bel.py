"""BEL 1.0 documents: curated causal statements with their evidence sentence and citation.

Each statement line (``kin(p(HGNC:RAF1)) increases kin(p(HGNC:MAP2K1))``) is read under the
``SET Citation`` and ``SET Evidence`` in force; evidence strings may span lines. The reader groups
statements by PubMed id into papers whose passages are the evidence sentences and whose
``curated_claims`` are the causal statements (extractor ``bel-curated``), with the subject's and
object's entity names (``RAF1``, ``RAF Family``) as cause and effect: ingest grounds them to the
domain like any mention. :func:`parse_bel` is shared with the gold loaders of ``evaluate``.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from theorycov.corpus.readers.base import ReaderConfig, ReadResult, RecordProblem, decode_text, record_sha
from theorycov.corpus.types import Citation, Claim, Evidence, Paper, Passage, ReaderError, Relation

ACTIVITY = {"kin", "act", "cat", "tscript", "gtp", "pep", "phos", "ribo", "tport", "chap", "kinaseActivity",
            "molecularActivity", "catalyticActivity", "transcriptionalActivity", "gtpBoundActivity"}  # fmt: skip
AMOUNT = {"p", "a", "r", "g", "m", "proteinAbundance", "abundance", "rnaAbundance", "geneAbundance", "microRNAAbundance"}
CAUSAL = {
    "increases": (Relation.ACTIVATES, False),
    "->": (Relation.ACTIVATES, False),
    "directlyIncreases": (Relation.ACTIVATES, True),
    "=>": (Relation.ACTIVATES, True),
    "decreases": (Relation.INHIBITS, False),
    "-|": (Relation.INHIBITS, False),
    "directlyDecreases": (Relation.INHIBITS, True),
    "=|": (Relation.INHIBITS, True),
    "causesNoChange": (Relation.NO_EFFECT, False),
}
BEL_EXTRACTOR, BEL_VERSION = "bel-curated", "1"


@dataclass(frozen=True)
class BelTerm:
    """A BEL term reduced to what grounding and scoring need."""

    text: str
    func: str  # outermost function: kin, p, a, bp, complex, ...
    entity: str | None  # NS:name of the primary entity, None for complexes, compositions, ...
    modifiers: tuple[str, ...] = ()  # inner modifier functions: pmod, sub, trunc, fus, loc

    @property
    def label(self) -> str | None:
        """The entity's name without its namespace: 'HGNC:RAF1' -> 'RAF1'."""
        return self.entity.split(":", 1)[1] if self.entity else None

    @property
    def kind(self) -> str:
        """activity | amount | pmod | process | other."""
        if "pmod" in self.modifiers:
            return "pmod"
        if self.func in ACTIVITY:
            return "activity"
        if self.func in AMOUNT:
            return "amount"
        return "process" if self.func in ("bp", "path", "biologicalProcess", "pathology") else "other"


@dataclass(frozen=True)
class BelStatement:
    """One statement with the evidence and citation in force where it was written."""

    subject: BelTerm
    relation: str
    object: BelTerm | None  # None for a nested statement object ``A increases (B increases C)``
    evidence: str
    pmid: str | None
    citation: tuple[str, ...]
    line: int
    text: str = field(default="", compare=False)

    @property
    def causal(self) -> tuple[Relation, bool] | None:
        """(relation, direct) for causal statements between two entities, else None."""
        if self.object is None or self.relation not in CAUSAL or not self.subject.entity or not self.object.entity:
            return None
        return CAUSAL[self.relation]


_ARG = re.compile(r'([A-Za-z][A-Za-z0-9_]*):("(?:[^"\\]|\\.)*"|[^,()\s]+)')


def _scan(s: str) -> Iterator[tuple[int, str, int, bool]]:
    """(index, char, parenthesis depth after it, inside quotes) for every character of ``s``."""
    depth, quoted = 0, False
    for i, ch in enumerate(s):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        yield i, ch, depth, quoted


def _split_args(s: str) -> list[str]:
    """Top-level comma-separated arguments of a function's argument string."""
    out: list[str] = []
    cur: list[str] = []
    for _, ch, depth, quoted in _scan(s):
        if ch == "," and depth == 0 and not quoted:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if cur:
        out.append("".join(cur).strip())
    return out


def parse_term(text: str) -> BelTerm:
    """Parse ``func(args)``; the primary entity is the first NS:value reached through first arguments."""
    text = text.strip()
    m = re.match(r"([A-Za-z]+)\((.*)\)$", text, flags=re.S)
    if not m:
        raise ReaderError(f"not a BEL term: {text[:80]!r}")
    func, inner = m.group(1), m.group(2)
    args = _split_args(inner)
    modifiers = tuple(a.split("(", 1)[0] for a in args[1:] if "(" in a)
    if func in ("complex", "complexAbundance", "composite", "compositeAbundance", "rxn", "reaction") and len(args) > 1:
        return BelTerm(text, func, None, modifiers)
    first = args[0] if args else ""
    if "(" in first.split(":", 1)[0]:  # nested function: kin(p(HGNC:X))
        innerterm = parse_term(first)
        return BelTerm(text, func, innerterm.entity, tuple(dict.fromkeys(innerterm.modifiers + modifiers)))
    am = _ARG.match(first)
    entity = f"{am.group(1)}:{am.group(2).strip(chr(34))}" if am else None
    return BelTerm(text, func, entity, modifiers)


def _find_relation(line: str) -> tuple[str, str, str] | None:
    """Split 'subject relation object' at the first top-level relation token."""
    for i, ch, depth, quoted in _scan(line):
        if ch == ")" and not quoted and depth == 0:
            rest = line[i + 1 :]
            m = re.match(r"\s+(\S+)\s+(.*)$", rest, flags=re.S)
            return (line[: i + 1], m.group(1), m.group(2).strip()) if m else None
    return None


def _strip_comment(line: str) -> str:
    """Drop a trailing ``// comment`` outside quoted strings."""
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif not quoted and line.startswith("//", i):
            return line[:i].rstrip()
    return line


def _parse_set_value(value: str) -> tuple[str, ...] | str:
    value = value.strip()
    if value.startswith("{") and value.endswith("}"):
        return tuple(next(csv.reader([value[1:-1]], skipinitialspace=True)))
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


def _logical_lines(text: str):  # noqa: ANN202 (a generator of (line number, line))
    """Join quoted strings that span lines and backslash continuations."""
    buf, start = "", 0
    for n, raw in enumerate(text.splitlines(), start=1):
        if not buf:
            start = n
        buf = f"{buf}\n{raw}" if buf else raw
        if buf.endswith("\\"):
            buf = buf[:-1]
            continue
        if buf.count('"') % 2:  # an open quoted string: keep reading
            continue
        yield start, buf
        buf = ""
    if buf:
        yield start, buf


def parse_bel(text: str) -> tuple[list[BelStatement], list[RecordProblem]]:
    """Every statement of a BEL document with its evidence and citation, and the lines that failed."""
    annotations: dict[str, object] = {}
    out: list[BelStatement] = []
    problems: list[RecordProblem] = []
    for n, line in _logical_lines(text):
        s = line.strip()
        if not s or s.startswith("#") or s.startswith("DEFINE"):
            continue
        m = re.match(r"SET\s+(\w+(?:\s+\w+)?)\s*=\s*(.*)$", s, flags=re.S)
        if m:
            annotations[m.group(1)] = _parse_set_value(m.group(2))
            continue
        if s.startswith("UNSET"):
            for name in s[5:].replace("{", " ").replace("}", " ").replace(",", " ").split():
                annotations.pop(name, None)
            continue
        s = _strip_comment(s)
        parts = _find_relation(s)
        if parts is None:
            if re.match(r"[A-Za-z]+\(.*\)$", s, flags=re.S):
                continue  # a lone term is a valid BEL statement that says nothing causal
            problems.append(RecordProblem(f"line {n}", "ReaderError", f"line {n}: not a BEL statement: {s[:80]!r}"))
            continue
        subj, rel, obj = parts
        try:
            subject = parse_term(subj)
            obj_term = None if obj.startswith("(") else parse_term(obj)
        except (ReaderError, RecursionError) as exc:
            problems.append(RecordProblem(f"line {n}", "ReaderError", f"line {n}: {exc}"))
            continue
        cit = annotations.get("Citation", ())
        cit = cit if isinstance(cit, tuple) else (str(cit),)
        pmid = cit[2] if len(cit) > 2 and cit[0].lower() == "pubmed" and cit[2] else None
        evidence = " ".join(str(annotations.get("Evidence", annotations.get("SupportingText", ""))).split())
        out.append(BelStatement(subject, rel, obj_term, evidence, pmid, cit, n, s))
    return out, problems


def curated_claim(st: BelStatement, paper_sha: str, passage_index: int) -> Claim | None:
    """The claim a causal statement makes, with BEL entity names as cause and effect (ungrounded)."""
    causal = st.causal
    if causal is None:
        return None
    relation, direct = causal
    ev = Evidence(sentence=st.evidence, paper_sha256=paper_sha, passage_index=passage_index, start=0,
                  end=len(st.evidence), pmid=st.pmid)  # fmt: skip
    return Claim(st.subject.label or "", st.object.label or "", relation, direct=direct,  # type: ignore[union-attr]
                 extractor=BEL_EXTRACTOR, extractor_version=BEL_VERSION, evidence=ev)  # fmt: skip


def read_bel(path: Path, data: bytes, cfg: ReaderConfig = ReaderConfig()) -> ReadResult:
    """Papers by PubMed id; passages are the distinct evidence sentences; causal statements are claims."""
    text = decode_text(data, path, cfg)
    statements, problems = parse_bel(text)
    if not statements:
        raise ReaderError(f"{path}: no BEL statements found")
    res = ReadResult("bel", problems=[RecordProblem(p.location, p.error, f"{path} {p.reason}") for p in problems])
    groups: dict[str, list[BelStatement]] = {}
    for st in statements:
        groups.setdefault(st.pmid or "no-citation", []).append(st)
    for pmid, sts in groups.items():
        evidences = [e for e in dict.fromkeys(st.evidence for st in sts) if e]
        if not evidences:
            res.problems.append(RecordProblem(f"PMID {pmid}", "ReaderError", f"{path} PMID {pmid}: statements without SET Evidence"))
            continue
        sha = record_sha("bel", pmid, *sorted(st.text + "\x00" + st.evidence for st in sts))
        cit_fields = sts[0].citation
        journal = cit_fields[1] if len(cit_fields) > 1 else ""
        # BEL writes "de Nigris F"; Citation.short() expects "Last, First"
        authors = tuple(re.sub(r"^(.*\S)\s+([A-Z]{1,3})$", r"\1, \2", a.strip()) for a in cit_fields[4].split("|") if a.strip()) if len(cit_fields) > 4 else ()
        date = cit_fields[3] if len(cit_fields) > 3 else ""
        year = int(date[:4]) if date[:4].isdigit() else None
        title = f"{journal} (PMID {pmid})" if journal else f"PMID {pmid}"
        cit = Citation(title=title, authors=authors, year=year, venue=journal or None,
                       pmid=None if pmid == "no-citation" else pmid)  # fmt: skip
        passages, offset = [], 0
        for e in evidences:
            passages.append(Passage(e, "evidence", offset))
            offset += len(e) + 1
        index = {e: i for i, e in enumerate(evidences)}
        claims = [c for st in sts if st.evidence for c in [curated_claim(st, sha, index[st.evidence])] if c is not None]
        res.papers.append(Paper(cit, f"{path}#PMID{pmid}", sha, tuple(passages), tuple(dict.fromkeys(claims))))
    return res


__all__ = ["BelStatement", "BelTerm", "CAUSAL", "curated_claim", "parse_bel", "parse_term", "read_bel"]
