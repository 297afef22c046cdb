"""Corpus fixtures: the Sachs domain, the MiniLM encoder loaded once per session, PDF makers."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from theorycov.db import dispose_engine

PG_URL = os.environ.get("THEORYCOV_PG_URL")


@pytest.fixture(scope="session")
def sachs():  # noqa: ANN201
    from theorycov.corpus.domain import load_domain

    return load_domain("sachs")


@pytest.fixture(scope="session")
def encoder():  # noqa: ANN201
    """all-MiniLM-L6-v2, loaded once for the whole session (about 5-10 s)."""
    from theorycov.corpus.embed import get_encoder

    return get_encoder()


def make_pdf(path: Path, pages: list[str], *, password: str | None = None, title: str | None = None) -> Path:
    """A real PDF with a text layer (Helvetica text objects), optionally RC4-encrypted."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
    })  # fmt: skip
    font_ref = writer._add_object(font)
    for body in pages:
        page = writer.add_blank_page(612, 792)
        lines = [ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for ln in body.split("\n")]
        ops = "BT /F1 11 Tf 14 TL 50 740 Td " + " ".join(f"({ln}) Tj T*" for ln in lines) + " ET"
        stream = DecodedStreamObject()
        stream.set_data(ops.encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font_ref})}
        )
    if title:
        writer.add_metadata({"/Title": title})
    if password is not None:
        writer.encrypt(user_password=password, owner_password="owner", algorithm="RC4-128")
    with open(path, "wb") as fh:
        writer.write(fh)
    return path


@pytest.fixture(scope="session")
def pdf():  # noqa: ANN201
    """The PDF maker: pdf(path, pages, password=None, title=None) -> path."""
    return make_pdf


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty SQLite file database, or the PostgreSQL test database (reset) when THEORYCOV_PG_URL is set."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'corpus.db'}"
    else:
        if not PG_URL:
            pytest.skip("PostgreSQL variant: set THEORYCOV_PG_URL (.ci/run starts a server and sets it)")
        url = PG_URL
        dispose_engine(url)
        eng = create_engine(url)
        with eng.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        eng.dispose()
        os.environ["THEORYCOV_INDEX_DIR"] = str(tmp_path / "index")
    yield url
    dispose_engine(url)
    os.environ.pop("THEORYCOV_INDEX_DIR", None)


@pytest.fixture(scope="session")
def biored_train(shared_data: Path):  # noqa: ANN201
    """docs(pmids) -> {pmid: PubTator document (title, abstract, annotation lines)} from BioRED Train."""
    text = (shared_data / "biored" / "Train.PubTator").read_text(encoding="utf-8")
    blocks = {b.strip().split("|", 1)[0]: b.strip() + "\n" for b in text.split("\n\n") if b.strip()}

    def docs(pmids: list[str]) -> dict[str, str]:
        missing = set(pmids) - set(blocks)
        assert not missing, f"PMIDs {missing} not in BioRED Train"
        return {p: blocks[p] for p in pmids}

    return docs
