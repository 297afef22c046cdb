"""Domains: the variables of a user's data with the names the literature uses for them.

A domain file is TOML::

    name = "sachs"
    description = "..."
    [[variables]]
    name = "Raf"                       # the column name in the data
    aliases = ["c-Raf", "Raf-1", ...]  # names papers use (the variable's name is always one)
    not_aliases = ["MEKK1"]            # look-alikes that must never ground here (checked before anything)
    unit = "intensity"
    genes = ["RAF1"]                   # optional: HGNC symbols or FamPlex ids ("FPLX:ERK") the variable measures;
                                       # ingest adds their HGNC / FamPlex synonyms (corpus/genes.py)
    families = ["RAF"]                 # optional, informative: the genes' FamPlex families
    ambiguous = ["..."]                # optional, informative: synonyms left out, and why

A variable whose name is an approved HGNC symbol ("STAT3") is its own gene. ``lexicon = false`` at the
top of the file turns the lexicon off for the whole domain.

Domain files are written by :func:`domain_toml` / :func:`write_domain` (``theorycov domain new``), which escape
every string as TOML requires and read the text back before writing it: a quote or a newline in a name
stays inside that name and cannot add keys, aliases or variables.

Aliases are compared through :func:`alias_key` (case, hyphens, spaces, brackets and Greek letters
folded), so "PLC-gamma", "PLCγ" and "plc gamma" are one key. A key that belongs to two variables is a
:class:`DomainError`: grounding must never have to guess between them.
"""
from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from theorycov.corpus.alias_keys import GREEK, alias_key, key_variants
from theorycov.corpus.types import DomainError

__all__ = ["GREEK", "Domain", "Variable", "alias_key", "domain_toml", "key_variants", "load_domain", "shipped_domains",
           "toml_string", "write_domain", "write_new_domain"]


@dataclass(frozen=True)
class Variable:
    """One variable of a domain."""

    name: str
    aliases: tuple[str, ...] = ()  # as written in the domain file (the name itself is implied)
    not_aliases: tuple[str, ...] = ()  # look-alikes that must not ground to this variable
    unit: str | None = None
    description: str = ""
    genes: tuple[str, ...] = ()  # HGNC symbols / FamPlex ids ("FPLX:ERK") whose synonyms ground here
    families: tuple[str, ...] = ()  # FamPlex families of the genes (informative)
    ambiguous: tuple[str, ...] = ()  # synonyms left out because they also name something else, with why

    def all_aliases(self) -> tuple[str, ...]:
        """The name first, then the aliases, without repeats."""
        return tuple(dict.fromkeys((self.name, *self.aliases)))


@dataclass(frozen=True)
class Domain:
    """Variables with their aliases, and the lookup tables built from them (validated on creation)."""

    name: str
    variables: tuple[Variable, ...]
    description: str = ""
    use_lexicon: bool = True  # ingest adds HGNC / FamPlex synonyms of the variables' genes (corpus/genes.py)
    _keys: dict[str, str] = field(default_factory=dict, repr=False, compare=False)  # alias key -> variable
    _blocked: dict[str, str] = field(default_factory=dict, repr=False, compare=False)  # not-alias key -> variable

    def __post_init__(self) -> None:
        if not self.variables:
            raise DomainError(f"domain {self.name!r} has no variables")
        seen: set[str] = set()
        for var in self.variables:
            if var.name in seen:
                raise DomainError(f"domain {self.name!r}: variable {var.name!r} is defined twice")
            seen.add(var.name)
            for alias in var.all_aliases():
                key = alias_key(alias)
                if not key:
                    raise DomainError(f"domain {self.name!r}: alias {alias!r} of {var.name!r} has no letters or digits")
                other = self._keys.get(key)
                if other is not None and other != var.name:
                    raise DomainError(
                        f"domain {self.name!r}: alias {alias!r} (key {key!r}) belongs to both {other!r} and "
                        f"{var.name!r}; give it to one variable only (or list it under not_aliases of the other)"
                    )
                self._keys[key] = var.name
            for alias in var.not_aliases:
                self._blocked[alias_key(alias)] = var.name
        clash = set(self._keys) & set(self._blocked)
        if clash:
            key = sorted(clash)[0]
            raise DomainError(
                f"domain {self.name!r}: {key!r} is an alias of {self._keys[key]!r} and a not_alias of "
                f"{self._blocked[key]!r}"
            )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variables)

    def variable(self, name: str) -> Variable:
        for v in self.variables:
            if v.name == name:
                return v
        raise DomainError(f"domain {self.name!r} has no variable {name!r}; it has {', '.join(self.names)}")

    def lookup(self, text: str) -> tuple[str | None, str]:
        """Ground a surface form by alias: (variable, how) or (None, reason).

        ``how`` is 'alias' for an exact key match, 'alias-variant' for a plural or isoform variant.
        A not_alias wins over everything: 'MEKK1' never becomes Mek through its isoform variant.
        """
        key = alias_key(text)
        if not key:
            return None, "no letters or digits"
        if key in self._blocked:
            return None, f"listed as not an alias of {self._blocked[key]}"
        if key in self._keys:
            return self._keys[key], "alias"
        for variant in key_variants(key):
            if variant in self._blocked:
                return None, f"listed as not an alias of {self._blocked[variant]}"
            if variant in self._keys:
                return self._keys[variant], "alias-variant"
        return None, "matches no alias"

    def alias_table(self) -> list[tuple[str, str]]:
        """(alias, variable) for every alias, the names included: what the embedding index holds."""
        return [(a, v.name) for v in self.variables for a in v.all_aliases()]

    def content_hash(self) -> str:
        """SHA-256 of the definition (names, aliases, units), stored with the domain in the database."""
        # genes only where given, so that the hashes of domains without them stay what they were
        spec = [self.name, [[v.name, list(v.aliases), list(v.not_aliases), v.unit] + ([list(v.genes)] if v.genes else [])
                            for v in self.variables]]
        return hashlib.sha256(json.dumps(spec).encode()).hexdigest()

    @classmethod
    def from_dict(cls, data: dict, *, source: str = "<dict>") -> "Domain":
        """Build from parsed TOML (or any mapping with the same shape)."""
        if not isinstance(data.get("name"), str) or not data["name"]:
            raise DomainError(f"{source}: the domain needs a non-empty `name`")
        raw = data.get("variables")
        if not isinstance(raw, list) or not raw:
            raise DomainError(f"{source}: the domain needs a [[variables]] list")
        variables = []
        for i, v in enumerate(raw):
            if not isinstance(v, dict) or not isinstance(v.get("name"), str) or not v["name"].strip():
                raise DomainError(f"{source}: variable #{i + 1} needs a non-empty `name`")
            for fld in ("aliases", "not_aliases", "genes", "families", "ambiguous"):
                if not isinstance(v.get(fld, []), list) or not all(isinstance(a, str) for a in v.get(fld, [])):
                    raise DomainError(f"{source}: `{fld}` of {v['name']!r} must be a list of strings")
            unknown = set(v) - {"name", "aliases", "not_aliases", "unit", "description", "genes", "families", "ambiguous"}
            if unknown:
                raise DomainError(f"{source}: variable {v['name']!r} has unknown keys {sorted(unknown)}")
            variables.append(
                Variable(
                    name=v["name"].strip(),
                    aliases=tuple(a.strip() for a in v.get("aliases", []) if a.strip()),
                    not_aliases=tuple(a.strip() for a in v.get("not_aliases", []) if a.strip()),
                    unit=v.get("unit"),
                    description=v.get("description", ""),
                    genes=tuple(a.strip() for a in v.get("genes", []) if a.strip()),
                    families=tuple(v.get("families", [])),
                    ambiguous=tuple(v.get("ambiguous", [])),
                )
            )
        if not isinstance(data.get("lexicon", True), bool):
            raise DomainError(f"{source}: `lexicon` must be true or false")
        return cls(name=data["name"], variables=tuple(variables), description=data.get("description", ""),
                   use_lexicon=data.get("lexicon", True))

    def to_toml(self) -> str:
        """The domain as a TOML file that :func:`load_domain` reads back to an equal domain. Every string is
        written escaped (a JSON string is a valid TOML basic string), so no name can add keys or tables."""
        q = toml_string
        lines = [f"name = {q(self.name)}", f"description = {q(self.description)}"]
        if not self.use_lexicon:
            lines.append("lexicon = false")
        for v in self.variables:
            lines += ["", "[[variables]]", f"name = {q(v.name)}"]
            if v.unit is not None:
                lines.append(f"unit = {q(v.unit)}")
            if v.description:
                lines.append(f"description = {q(v.description)}")
            for fld in ("genes", "families", "aliases", "not_aliases", "ambiguous"):
                values = getattr(v, fld)
                if values or fld == "aliases":
                    lines.append(f"{fld} = [" + ", ".join(q(a) for a in values) + "]")
        return "\n".join(lines) + "\n"


def load_domain(spec: str | Path) -> Domain:
    """A domain from a TOML file path, or a shipped domain by name ('sachs')."""
    path = Path(spec)
    if path.suffix != ".toml" and not path.exists():
        shipped = resources.files("theorycov.corpus").joinpath("domains", f"{spec}.toml")
        if not shipped.is_file():
            raise DomainError(f"no domain file {spec!r} and no shipped domain of that name (shipped: {', '.join(shipped_domains())})")
        text, source = shipped.read_text(encoding="utf-8"), f"shipped domain {spec}"
    else:
        if not path.is_file():
            raise DomainError(f"domain file {path} does not exist")
        text, source = path.read_text(encoding="utf-8"), str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DomainError(f"{source}: not valid TOML ({exc})") from exc
    return Domain.from_dict(data, source=source)


_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_BAD_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")  # control characters and lone surrogates


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string: quotes, backslashes and control characters escaped (TOML 1.0, 'String')."""
    out = []
    for ch in text:
        if ch in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            raise DomainError(f"{text!r} holds a lone surrogate (undecodable bytes), which a TOML file cannot hold")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def domain_toml(domain: Domain) -> str:
    """The TOML text of a domain (every field, every string escaped); :func:`load_domain` reads it back equal.
    One writer for every caller: :meth:`Domain.to_toml`."""
    return domain.to_toml()


def write_domain(path: str | Path, domain: Domain) -> Path:
    """Write ``domain`` to a new TOML file (never over an existing one), after checking that the text reads
    back as the same domain. DomainError when the file exists, its folder does not, or a name cannot be written."""
    path = Path(path)
    for label, text in [("domain name", domain.name)] + [("variable name", v.name) for v in domain.variables]:
        if _BAD_NAME_CHARS.search(text):
            raise DomainError(f"the {label} {text!r} holds a control character (a line break, a tab...); names are one line of text")
        if len(text) > 200:
            raise DomainError(f"the {label} {text[:40]!r}... is {len(text)} characters long; the limit is 200")
    text = domain_toml(domain)
    back = Domain.from_dict(tomllib.loads(text), source=str(path))
    if back != domain:
        raise DomainError(f"{path}: the domain does not survive writing (names with leading or trailing spaces?); nothing written")
    if not path.parent.is_dir():
        raise DomainError(f"cannot write {path}: the folder {path.parent} does not exist")
    try:
        with path.open("x", encoding="utf-8") as fh:  # "x": an existing file is never overwritten, not even by a race
            fh.write(text)
    except FileExistsError:
        raise DomainError(f"{path} exists; choose another file or edit it") from None
    except OSError as err:
        raise DomainError(f"cannot write {path}: {err.strerror}") from None
    return path


def write_new_domain(path: str | Path, name: str, variables: list[str], *, description: str = "") -> Domain:
    """``theorycov domain new``: a domain of at least two distinct variables without aliases, written to ``path``."""
    if len(variables) < 2 or len(set(variables)) != len(variables):
        raise DomainError("give at least two distinct variable names, e.g. --variables 'A,B,C'")
    if not name.strip():
        raise DomainError("the domain needs a non-empty name, e.g. --name signalling")
    domain = Domain(name=name.strip(), variables=tuple(Variable(v) for v in variables), description=description)
    write_domain(path, domain)
    return domain


def shipped_domains() -> list[str]:
    """Names of the domains that ship with theorycov."""
    folder = resources.files("theorycov.corpus").joinpath("domains")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


__all__ = ["Domain", "Variable", "alias_key", "domain_toml", "key_variants", "load_domain", "shipped_domains", "toml_string",
           "write_domain", "write_new_domain"]
