"""Within-document coreference that can be done reliably: abbreviations and definite descriptions.

- **Abbreviations** (Schwartz and Hearst 2003, "A simple algorithm for identifying abbreviation
  definitions in biomedical text"): "protein kinase C (PKC)" or "PKC (protein kinase C)" defines the short
  form for the rest of the document. When the long form grounds to a variable and the short form grounds
  nowhere (or is not an alias at all), the short form becomes a local alias of that variable for this
  document only, so a later bare "PKC" is found. A short form that grounds to another variable, or is a
  not_alias, is left alone: a definition never overrides the domain.
- **Definite descriptions** ("the kinase", "this cytokine", "these receptors"): resolved only when the
  head noun names a class (kinase, phosphatase, receptor, cytokine, ...) and exactly one variable of the
  current or the previous sentence belongs to it (its names contain the head noun); else left alone.

- **Ellipsis of a shared stem** ("cyclin D1 and D2", "C/EBPα and β", "ERK1 and 2", "GSK-3α and -β"): the
  short form after a grounded mention and a coordinator is read with the mention's stem, and kept when
  that full name is an alias of a variable.

:func:`resolve` applies all three to the sentences of one document (one :meth:`Grounder.annotate` call).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from theorycov.corpus.domain import Domain, alias_key
from theorycov.corpus.types import Mention

_PAREN = re.compile(r"\(([^()]{1,60})\)")
_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")


def _best_long_form(short: str, before: str) -> tuple[int, str] | None:
    """Schwartz-Hearst: the shortest tail of ``before`` (at most min(|A| + 5, 2|A|) words) whose
    characters, read from the end, contain every letter and digit of ``short`` in order, the first of
    them starting a word. Returns (offset of the long form in ``before``, long form) or None."""
    letters = [c.lower() for c in short if c.isalnum()]
    if not letters or not short[0].isalnum():
        return None
    words = list(_WORD.finditer(before))
    limit = min(len(letters) + 5, 2 * len(letters))
    words = words[-limit:]
    if not words:
        return None
    text_start = words[0].start()
    cand = before[text_start:].rstrip(" ,;:-")
    s, li = len(cand) - 1, len(letters) - 1
    while li >= 0:
        c = letters[li]
        while s >= 0 and (cand[s].lower() != c or (li == 0 and s > 0 and cand[s - 1].isalnum())):
            s -= 1
        if s < 0:
            return None
        s -= 1
        li -= 1
    start = cand.rfind(" ", 0, s + 1) + 1
    long_form = cand[start:].strip()
    if len(long_form) <= len(short) or short.lower() in long_form.lower().split():
        return None
    return text_start + start, long_form


def abbreviations(text: str) -> list[tuple[str, int, str, int]]:
    """(short form, its offset, long form, its offset) for every definition "long form (SF)" and
    "SF (long form)" in ``text``."""
    out = []
    for m in _PAREN.finditer(text):
        inner = m.group(1).strip()
        before = text[: m.start()]
        first = re.split(r"[;,/]", inner)[0].strip()
        if 2 <= len(first) <= 10 and len(first.split()) <= 2 and any(c.isalpha() for c in first):
            hit = _best_long_form(first, before)
            if hit:
                out.append((first, m.start(1) + inner.index(first), hit[1], hit[0]))
                continue
        # "SF (long form)": the word before the bracket is the short form
        prev = re.search(r"([^\W_][\w\-]{1,9})\s*$", before)
        if prev and len(inner.split()) >= 2 and any(c.isupper() for c in prev.group(1)):
            hit = _best_long_form(prev.group(1), inner + " ")
            if hit and hit[0] == 0:
                out.append((prev.group(1), prev.start(1), inner, m.start(1)))
    return out


def local_aliases(text: str, domain: Domain, ground: Callable[[str], str | None]) -> dict[str, str]:
    """Alias key -> variable for the short forms this document defines: the long form grounds (by
    ``ground``, the grounder's lookup of a bare name) and the short form is no key of the domain."""
    out: dict[str, str] = {}
    for short, _, long_form, _ in abbreviations(text):
        key = alias_key(short)
        if not key or len(key) < 2:
            continue
        var, how = domain.lookup(short)
        if var is not None or how.startswith("listed as not"):
            continue  # the domain already decides this name
        target = ground(long_form)
        if target is None:
            continue
        if out.get(key, target) != target:
            out[key] = ""  # defined twice, differently: ambiguous, dropped below
            continue
        out[key] = target
    return {k: v for k, v in out.items() if v}


# Class nouns of definite descriptions, and the words a variable's names must contain to belong.
CLASSES: dict[str, tuple[str, ...]] = {
    "kinase": ("kinase",), "phosphatase": ("phosphatase",), "receptor": ("receptor",),
    "cytokine": ("interleukin", "interferon", "tumor necrosis factor", "tumour necrosis factor", "cytokine", "chemokine"),
    "chemokine": ("chemokine",), "interleukin": ("interleukin",), "integrin": ("integrin",),
    "transcription factor": ("transcription factor",), "ligase": ("ligase",), "protease": ("protease", "peptidase"),
    "caspase": ("caspase",), "gtpase": ("gtpase",), "channel": ("channel",), "lipid": ("phosphatidylinositol",),
}  # fmt: skip
_DEFINITE = re.compile(r"\b(?:the|this|that|these|those)\s+(?:\w+\s+)?(" + "|".join(CLASSES) + r")s?\b", re.I)


def definite_mentions(sentences: list[str], mentions: list[list[Mention]], names: dict[str, str]) -> list[list[Mention]]:
    """Extra mentions for definite descriptions, per sentence. ``names`` maps each variable to the
    lower-cased text of all its names (aliases, description, HGNC approved names) to test class membership.
    An antecedent must be the one variable of that class in this sentence (before the description) or
    the previous one."""
    out: list[list[Mention]] = []
    for i, (text, ms) in enumerate(zip(sentences, mentions)):
        extra: list[Mention] = []
        for d in _DEFINITE.finditer(text):
            head = d.group(1).lower()
            if any(m.start < d.end() and d.start() < m.end for m in ms):
                continue
            window = [m for m in ms if m.variable and m.end <= d.start()]
            if i > 0:
                window += [m for m in mentions[i - 1] if m.variable]
            members = {m.variable for m in window if any(w in names.get(m.variable, "") for w in CLASSES[head])}
            if len(members) == 1:
                (var,) = members
                extra.append(Mention(d.group(0), d.start(), d.end(), var, 0.9, "coreference", f"definite description of {var}"))
        out.append(extra)
    return out


def with_local_aliases(mentions: list[Mention], text: str, aliases: dict[str, str]) -> list[Mention]:
    """Rejected (or missing) mentions whose text is a short form this document defined become mentions of
    the defined variable (method 'abbreviation'); tokens no candidate covered are found here too."""
    if not aliases:
        return mentions
    out = [replace(m, variable=aliases[alias_key(m.text)], score=1.0, method="abbreviation", reason="")
           if m.variable is None and alias_key(m.text) in aliases and "not an alias" not in m.reason else m for m in mentions]
    taken = [(m.start, m.end) for m in out]
    for tok in re.finditer(r"[^\W_][\w\-/]*[^\W_]|[^\W_]", text):
        key = alias_key(tok.group(0))
        if key in aliases and not any(s < tok.end() and tok.start() < e for s, e in taken):
            out.append(Mention(tok.group(0), tok.start(), tok.end(), aliases[key], 1.0, "abbreviation"))
    return sorted(out, key=lambda m: (m.start, -m.end))


_GREEK_CHARS = "αβγδεζηθικλμ"
_AFTER = re.compile(rf"\s*(?:,\s*(?:and\s+|or\s+)?|and\s+|or\s+|/|&\s*)-?\s*([A-Za-z]{{1,2}}\d{{1,2}}|\d{{1,2}}|[{_GREEK_CHARS}]|"
                    r"alpha|beta|gamma|delta|epsilon|zeta)(?![\w\-])")
_GREEK_WORD = rf"[{_GREEK_CHARS}]|alpha|beta|gamma|delta|epsilon|zeta"


def _stem(name: str, short: str) -> str | None:
    """``name`` without its final part of the same shape as ``short`` ("cyclin D1", "D2" -> "cyclin "; "ERK1",
    "2" -> "ERK"; "C/EBPα", "β" -> "C/EBP"), or None when it has no such part."""
    if short.isdigit():
        shape = r"(?<!\d)\d{1,2}$"
    elif short[-1].isdigit():
        shape = rf"(?<![A-Za-z])[A-Za-z]{{{len(short.rstrip('0123456789'))}}}\d{{1,2}}$"
    else:
        shape = rf"(?:{_GREEK_WORD})$"
    last = re.search(shape, name)
    return name[: last.start()] if last and last.start() > 0 else None


def ellipsis_mentions(text: str, mentions: list[Mention], domain: Domain) -> list[Mention]:
    """Mentions of the short forms that follow a grounded mention with a coordinator and share its stem
    ("cyclin D1 and D2" -> "cyclin D2"), chained through lists ("ERK1, 2 and 3")."""
    taken = [(m.start, m.end) for m in mentions if m.variable]
    out: list[Mention] = []
    for m in sorted((m for m in mentions if m.variable), key=lambda m: m.start):
        end, stem = m.end, None
        while (nxt := _AFTER.match(text, end)) is not None:
            short = nxt.group(1)
            stem = stem if stem is not None else _stem(m.text, short)
            s0, e0 = nxt.start(1), nxt.end(1)
            var, how = domain.lookup(stem + short) if stem else (None, "")
            if var is None or how != "alias" or any(a < e0 and s0 < b for a, b in taken):  # exact aliases only
                break
            out.append(Mention(short, s0, e0, var, 1.0, "ellipsis", f"{short!r} read as {stem + short!r}"))
            taken.append((s0, e0))
            end = e0
    return out


def resolve(sentences: list[str], mentions: list[list[Mention]], domain: Domain) -> list[list[Mention]]:
    """The mentions of one document's sentences with its abbreviations, ellipses and definite
    descriptions resolved (see the module docstring); a rejected candidate the resolution grounds is
    replaced, grounded mentions are never changed."""
    aliases = local_aliases(" ".join(sentences), domain, lambda name: domain.lookup(name)[0])
    done = [with_local_aliases(ms, text, aliases) for text, ms in zip(sentences, mentions)]
    done = [_merge(ms, ellipsis_mentions(text, ms, domain)) for text, ms in zip(sentences, done)]
    names = {v.name: " ".join((*v.all_aliases(), v.description)).lower() for v in domain.variables}
    extra = definite_mentions(sentences, done, names)
    return [_merge(ms, more) for ms, more in zip(done, extra)]


def _merge(mentions: list[Mention], extra: list[Mention]) -> list[Mention]:
    """``mentions`` plus ``extra``, dropping rejected mentions an extra one overlaps."""
    if not extra:
        return mentions
    keep = [m for m in mentions if m.variable is not None or not any(x.start < m.end and m.start < x.end for x in extra)]
    return sorted(keep + extra, key=lambda m: (m.start, -m.end))


__all__ = ["CLASSES", "abbreviations", "definite_mentions", "ellipsis_mentions", "local_aliases", "resolve",
           "with_local_aliases"]
