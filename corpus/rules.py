"""The rule-based extractor: cue patterns between two grounded mentions (the fast path and the baseline).

For every ordered pair of mention groups in a sentence ("Raf and Mek" is one group: coordinated
mentions share their role, also through a short name before its alias, "kinases A (PKA) and B
(PKB/Akt)") with no other group between them, the text between is read:

- cues carry a sign: activates, stimulates, induces, increases, phosphorylates, ... (+1); inhibits,
  suppresses, blocks, decreases, attenuates, ... (-1); regulates, mediates, leads to, ... (causal, sign
  kept). The claim's sign is the product of the cue signs, so "the MEK inhibitor blocked ERK
  activation" reads (-1)(-1)(+1) = MEK activates ERK; a negative nominal before the cause
  ("inhibition of PKA increased ...") and a nominal after the effect ("... decreased Akt
  phosphorylation") count too;
- direction: the first group causes the second, unless a passive or nominal "by" ("Mek is activated
  by Raf", "activation of Mek by Raf"), "requires", "depends on" or "independent of" turns it round;
- a list of agents: "activators of Raf include interferon beta, PKC alpha and Akt", "Raf inhibitors
  such as PKA": each listed entity acts on the head with the agent noun's sign, through ungrounded list
  items, until a cue, a clause or a break intervenes;
- a causal assertion needs a verb, an agent noun ("activator of"), a hyphenated participle
  ("PKC-mediated") or a "by" phrase: "activation of Raf and phosphorylation of Mek" claims nothing;
- negation ("did not", "failed to", ...) negates the claim; "no effect on", "did not affect" and
  "independent of" make a no_effect claim; hedging ("may", "suggests", ...) marks it hedged and lowers
  the confidence.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from theorycov.corpus.types import Claim, Evidence, Extractor, Mention, Relation, Sentence
from theorycov.corpus.untrusted import stated_mentions

_POS = r"activat|stimulat|induc|increas|enhanc|promot|up-?regulat|phosphorylat|potentiat|augment|elevat|trigger|amplif|generat|produc|synthesi[sz]|recruit"
_NEG = (
    r"inhibit|suppress|block|decreas|attenuat|reduc|down-?regulat|abolish|prevent|antagoni[sz]|repress|diminish|"
    r"impair|abrogat|dephosphorylat|inactivat|disrupt|counteract|desensiti[sz]|negatively regulat|hydroly[sz]|degrad|cleav"
)
_NEU = r"regulat|modulat|mediat|affect|control|influenc|target|requir|depend|lead|led|result|caus|effect"
_VERB_END = r"(?:e|es|s|ed|ing|ied|y|ies)?"
_NOUN_END = r"(?:ion|ions|ation|ations|ment|ments|or|ors|er|ers|ory)"
_CUE = re.compile(rf"\b(?P<neg>dephosphorylat|{_NEG})(?P<nsuf>\w*)|\b(?P<pos>{_POS})(?P<psuf>\w*)|\b(?P<neu>{_NEU})(?P<usuf>\w*)", re.I)
_NEGATION = re.compile(r"\b(?:not|n't|neither|nor|failed to|fails to|fail to|unable to|without|cannot|never|lack of|absence of)\b|\bno\b", re.I)
_HEDGE = re.compile(
    r"\b(?:may|might|could|possibly|possible|potentially|putative|presumably|likely|suggest\w*|hypothes\w*|"
    r"propos\w*|appear\w*|seem\w*|speculat\w*|unclear|whether)\b",
    re.I,
)
# a short capitalised name right before "(" is the ungrounded name of the alias that follows it
# ("protein kinases A (PKA) and B (PKB/Akt)")
_COORD = re.compile(r"^(?:\s|,|;(?=\s*\w)|/|\(|\)|\band\b|\bor\b|\bas well as\b|(?-i:\b[A-Z0-9][A-Za-z0-9]{0,2}\b)(?=\s*\())*$", re.I)
_NEG_BEFORE = re.compile(
    r"(?:inhibit(?:ion|ors?|ing)|knock-?down|depletion|loss|deletion|silencing|blockade|blocking|ablation|deficiency|"
    r"inactivation|suppression|antagonists?|down-?regulation)\s+(?:of\s+)?(?:the\s+|endogenous\s+)?$",
    re.I,
)
_NOMINAL_BEFORE = re.compile(rf"\b(?:(?P<neg>{_NEG})|(?P<pos>{_POS}))\w*\s+of\s+(?:the\s+|endogenous\s+)?$", re.I)
_AFTER = re.compile(r"^\s*-?\s*(?:(?P<neg>inhibition|dephosphorylation|inactivation|degradation)|activation|activity|phosphorylation|levels?|expression|production|signal(?:l)?ing)\b", re.I)
# agents named by a list: "activators of Raf include PKC", "Raf inhibitors such as PKA"; the list goes on
# through ungrounded items ("include interferon beta, PKC alpha and Src") while no verb or clause intervenes
_AGENT_NOUN = (r"(?:(?P<neg>inhibitor|suppressor|repressor|antagonist|inactivator)|(?P<pos>activator|stimulator|inducer|agonist)"
               r"|regulator|mediator|modulator)s?")
_LIST_BEFORE = re.compile(rf"\b{_AGENT_NOUN}\s+of\s+(?:the\s+)?$", re.I)
_LIST_AFTER = re.compile(rf"^\s*-?\s*(?P<noun>{_AGENT_NOUN}\s*)?,?\s*(?:include[sd]?|including|such as|are|comprise[sd]?)\b",
                         re.I)
_CLAUSE = re.compile(r"\b(?:which|that|who|whose|is|are|was|were|has|have|had|by)\b", re.I)
_BREAK = re.compile(r";|\b(?:whereas|while|but|although|however)\b", re.I)
_MAX_BETWEEN = 140  # characters; longer spans are different clauses more often than not


@dataclass(frozen=True)
class RuleConfig:
    """Tunables of the rule extractor."""

    max_cues: int = 3  # more cues between two mentions than this: too tangled to read by rules
    confidence: float = 0.8  # of a plain assertion
    hedged_confidence: float = 0.5  # of a hedged one


@dataclass
class _Group:
    variables: list[str]
    start: int
    end: int


def _groups(mentions: list[Mention], text: str) -> list[_Group]:
    """Merge grounded mentions joined only by coordination ("Raf and Mek", "JNK (SAPK)")."""
    groups: list[_Group] = []
    for m in sorted((m for m in mentions if m.variable), key=lambda m: m.start):
        sep = text[groups[-1].end : m.start] if groups else ""
        # ", and" joins a list ("A, B, and C") but usually starts a new clause after a single mention
        clause = bool(re.search(r",\s*(?:and|or)\b", sep)) and groups and len(groups[-1].variables) < 2
        if groups and _COORD.match(sep) and m.start >= groups[-1].end and not clause:
            g = groups[-1]
            if m.variable not in g.variables:
                g.variables.append(m.variable)  # type: ignore[arg-type]
            g.end = max(g.end, m.end)
        elif not groups or m.start >= groups[-1].end:
            groups.append(_Group([m.variable], m.start, m.end))  # type: ignore[list-item]
    return groups


def coordinated_pairs(mentions: list[Mention], text: str) -> set[frozenset[str]]:
    """Pairs of variables whose mentions are joined only by coordination ("IL-6, LIF and OSM"): they
    share a role in the sentence, so neither acts on the other there."""
    out: set[frozenset[str]] = set()
    for g in _groups(mentions, text):
        out.update(frozenset((a, b)) for a in g.variables for b in g.variables if a != b)
    return out


class RuleExtractor(Extractor):
    """Cue patterns, negation and hedging between grounded mentions; see the module docstring."""

    name = "rules"
    version = "1"

    def __init__(self, config: RuleConfig = RuleConfig()) -> None:
        self.config = config

    def extract(self, sentence: Sentence, mentions: list[Mention], *, evidence: Evidence) -> list[Claim]:
        text = sentence.text
        groups = _groups(stated_mentions(text, mentions), text)  # paper text is data (corpus/untrusted.py)
        hedged = bool(_HEDGE.search(text))
        claims: list[Claim] = []
        listed: tuple[_Group, Relation] | None = None  # the head of a list of agents, while the list goes on
        for i in range(len(groups) - 1):
            a, b = groups[i], groups[i + 1]  # only neighbours: a group in between breaks the pair
            head = (a, rel) if (rel := _read_list(text, a, b)) is not None else None  # the list reading goes first
            read = None if head else self._read_pair(text, a, b)
            if read is None and head is None and listed and _list_goes_on(text[a.end : b.start]):
                head = listed
            listed = head
            if head is not None:
                a, read = head[0], (False, head[1], False, False)
            if read is None:
                continue
            forward, relation, negated, direct = read
            cause, effect = (a, b) if forward else (b, a)
            conf = self.config.hedged_confidence if hedged else self.config.confidence
            for c in cause.variables:
                for e in effect.variables:
                    if c != e:
                        claims.append(
                            Claim(c, e, relation, direct=direct, negated=negated, hedged=hedged, confidence=conf,
                                  extractor=self.name, extractor_version=self.version, evidence=evidence)  # fmt: skip
                        )
        return list(dict.fromkeys(claims))

    def _read_pair(self, text: str, a: _Group, b: _Group) -> tuple[bool, Relation, bool, bool] | None:
        """(forward, relation, negated, direct) of the pair, or None when the text asserts nothing."""
        between = text[a.end : b.start]
        if len(between) > _MAX_BETWEEN or _BREAK.search(between):
            return None
        low = between.lower()
        cues = list(_CUE.finditer(between))
        if len(cues) > self.config.max_cues:
            return None
        sign, verbal, signed = 1, False, False
        for m in cues:
            suffix = (m.group("nsuf") or m.group("psuf") or m.group("usuf") or "").lower()
            noun = bool(re.fullmatch(_NOUN_END, suffix))
            agent = suffix in ("or", "ors", "er", "ers")
            verbal = verbal or not noun or agent or (m.group("neu") is not None and not noun)
            if m.group("neg"):
                sign, signed = -sign, True
            elif m.group("pos"):
                signed = True
        by = bool(re.search(r"\bby\b", low))
        hyphen_adj = bool(re.match(r"^-\s*\w+(?:ed|ent)\b", between))
        independent = bool(re.search(r"\bindependent(?:ly)? of\b", low))
        nominal_by = None
        if not cues and re.fullmatch(r"\s*(?:(?:is|was|are|were)\s+)?by\s*(?:the\s+)?", low):
            nominal_by = _NOMINAL_BEFORE.search(text[: a.start])  # "activation of Mek by Raf"
            if nominal_by is None:
                return None
            sign, signed, verbal = (-1 if nominal_by.group("neg") else 1), True, True
        if not (verbal or hyphen_adj or by or independent):
            return None
        if not cues and nominal_by is None and not independent:
            return None
        forward = True
        if independent:
            forward = False
        elif hyphen_adj:
            forward = True
        elif by:
            forward = False
        elif re.search(r"\brequir\w*(?!\s+for)\b|\bdepend\w*\s+(?:up)?on\b", low) and not re.search(r"\brequired for\b", low):
            forward = False
        cause_start = a.start if forward else b.start
        if _NEG_BEFORE.search(text[max(0, cause_start - 60) : cause_start]):
            sign = -sign
        if forward:
            after = _AFTER.match(text[b.end : b.end + 40])
            if after and not re.search(r"\bof\s+(?:the\s+)?$", low):
                signed = True
                sign = -sign if after.group("neg") else sign
        negated = bool(_NEGATION.search(between))
        if independent or (negated and not signed and re.search(r"\b(?:affect|effect|influenc|alter|chang)", low)):
            return forward, Relation.NO_EFFECT, False, False
        relation = Relation.CAUSES if not signed else (Relation.ACTIVATES if sign > 0 else Relation.INHIBITS)
        direct = bool(re.search(r"\bdirect(?:ly)?\b|\bphosphorylat(?:es|ed|ing)\b", low))
        return forward, relation, negated, direct


def _list_goes_on(between: str) -> bool:
    """True when the text between two listed entities is only more list ("X, Y, and")."""
    return (len(between) <= _MAX_BETWEEN and bool(re.search(r",|\b(?:and|or)\b", between))
            and not (_CUE.search(between) or _BREAK.search(between) or _CLAUSE.search(between) or _NEGATION.search(between)))


def _read_list(text: str, a: _Group, b: _Group) -> Relation | None:
    """The relation of b (the first listed agent) on a in "agent nouns of A include B ..." or "A agent nouns
    such as B", by the agent noun's sign (regulators, mediators: unsigned); None when it is not this construction."""
    between = text[a.end : b.start]
    after = _LIST_AFTER.match(between)
    noun = (after if after.group("noun") else _LIST_BEFORE.search(text[: a.start])) if after else None
    if after is None or noun is None or len(between) > _MAX_BETWEEN or _NEGATION.search(between):
        return None
    if any(r.search(between[after.end() :]) for r in (_CUE, _BREAK, _CLAUSE)):
        return None
    return Relation.INHIBITS if noun.group("neg") else Relation.ACTIVATES if noun.group("pos") else Relation.CAUSES


__all__ = ["RuleConfig", "RuleExtractor", "coordinated_pairs"]
