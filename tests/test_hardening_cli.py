"""Issue 15, the command line and the API: every option checked at the boundary (exit 2 naming the accepted
values), no traceback reaching a user, exit 1 only for "blocked", --db that names no usable database,
read-only commands that never create a database, domain files written escaped, data tables whose errors
name line and column. Each test reproduces an item of the issue; none trains (see test_hardening_runs)."""
from __future__ import annotations

import json
import logging
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from theorycov import Project
from theorycov.boundary import dumps, threshold
from theorycov.cli import app
from theorycov.corpus.domain import Domain, Variable, domain_toml, load_domain, toml_string, write_domain
from theorycov.datasets import DataError, load_csv
from theorycov.db.session import DatabaseOpenError
from theorycov.errors import InputError

runner = CliRunner()
VARS = ["Alpha", "Beta", "Gamma"]


def _invoke(*args: str):  # noqa: ANN202
    r = runner.invoke(app, list(args))
    assert "Traceback" not in r.output
    return r


@pytest.fixture()
def empty_db(tmp_path: Path) -> str:
    """An existing database with no papers and no runs."""
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    Project(url)
    return url


# ---------------------------------------------------------------- --db
@pytest.mark.parametrize("argv", [
    ["check", "inhibit Raf", "--harm", "Erk < q10"], ["audit"], ["explain", "1"], ["search", "Raf"],
])
def test_read_only_commands_do_not_create_a_mistyped_database(tmp_path: Path, argv: list[str]) -> None:
    typo = tmp_path / "theorycvo.db"
    r = _invoke(*argv, "--db", str(typo))
    assert r.exit_code == 2, r.output
    assert f"there is no database at {typo}" in r.output and "only reads" in r.output
    assert not typo.exists()  # before: an empty database was created, and the command went on against it


def test_db_that_is_a_folder_a_text_file_or_an_unreachable_server(tmp_path: Path) -> None:
    folder = tmp_path / "runs.db"
    folder.mkdir()
    r = _invoke("audit", "--db", str(folder))
    assert r.exit_code == 2 and "is a folder, not a database file" in r.output
    text = tmp_path / "notes.db"
    text.write_text("not a database\n")
    for argv in (["audit"], ["ingest", str(tmp_path)], ["train", "--iterations", "1"]):  # writers refuse it too
        r = _invoke(*argv, "--db", str(text))
        assert r.exit_code == 2 and "is not a SQLite database" in r.output, (argv, r.output)
    assert text.read_text() == "not a database\n"
    r = _invoke("audit", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/theorycov")  # port 1: refused at once
    assert r.exit_code == 2 and "cannot open the database postgresql+psycopg://nobody@127.0.0.1:1/theorycov" in r.output
    r = _invoke("audit", "--db", "nosuchdialect://x/y")
    assert r.exit_code == 2 and "cannot open the database" in r.output
    with pytest.raises(DatabaseOpenError, match="does not exist"):
        Project(f"sqlite:///{tmp_path / 'no' / 'folder' / 'x.db'}")


def test_writers_still_create_a_new_database(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    Project(str(db))
    assert db.is_file() and db.read_bytes()[:16] == b"SQLite format 3\x00"


# ---------------------------------------------------------------- options outside their values
@pytest.mark.parametrize("value", ["2", "nan", "-1", "0", "1", "inf"])
def test_threshold_outside_the_open_unit_interval_is_refused(empty_db: str, value: str) -> None:
    r = _invoke("check", "inhibit Raf", "--harm", "Erk < q10", "--threshold", value, "--db", empty_db)
    assert r.exit_code == 2, r.output  # before: 2 and nan allowed, -1 blocked everything, and each was stored
    assert "threshold must be a probability strictly between 0 and 1" in r.output
    with pytest.raises(InputError, match="strictly between 0 and 1"):
        Project(empty_db).check("inhibit Raf", "Erk < q10", threshold=float(value))


def test_bound_names_its_choices(empty_db: str) -> None:
    r = _invoke("check", "inhibit Raf", "--harm", "Erk < q10", "--bound", "nonsense", "--db", empty_db)
    assert r.exit_code == 2 and all(b in r.output for b in ("human", "cautious", "prop34", "posterior", "map"))
    with pytest.raises(InputError, match="bound must be one of human, cautious, prop34, posterior, map"):
        Project(empty_db).check("inhibit Raf", "Erk < q10", bound="nonsense")


@pytest.mark.parametrize("k", ["0", "-1", "1001"])
def test_search_k_outside_its_range(empty_db: str, k: str) -> None:
    r = _invoke("search", "what activates Akt", "--k", k, "--db", empty_db)
    assert r.exit_code == 2 and "k (the number of hits) must be a whole number from 1 to 1000" in r.output, r.output


@pytest.mark.parametrize(("argv", "says"), [
    (["explain", "0"], "decision id must be a whole number from 1 to 9223372036854775807"),
    (["explain", "99999999999999999999"], "decision id must be a whole number from 1 to"),  # overflowed SQLite before
    (["audit", "--run", "0"], "run id must be a whole number from 1 to"),
    (["audit", "--run", "7"], "there is no run 7 in this database"),
    (["check", "inhibit Raf", "--harm", "Erk < q10", "--run", "99999999999999999999"], "run id must be a whole number"),
    (["train", "--power", "2"], "power (the likelihood power eta) must be in (0, 1]"),
    (["train", "--power", "nan"], "power (the likelihood power eta) must be in (0, 1]"),
    (["train", "--minutes", "-3"], "minutes must be a finite number above 0"),
    (["train", "--iterations", "0"], "iterations must be a whole number from 1 to"),
    (["train", "--seed", "-1"], "seed must be a whole number from 0 to"),
    (["ingest", ".", "--extractor", "magic"], "extractor must be one of llm, rules, auto"),
])
def test_other_options_are_checked(empty_db: str, argv: list[str], says: str) -> None:
    r = _invoke(*argv, "--db", empty_db)
    assert r.exit_code in (2, 3) and says in r.output, r.output
    assert r.exit_code == (3 if "there is no run" in says else 2)  # 3: a missing precondition, not bad input


def test_serve_port_range_is_checked(empty_db: str) -> None:
    r = _invoke("serve", "--port", "70000", "--db", empty_db)
    assert r.exit_code == 2 and "less than or equal to 65535" in " ".join(r.output.split())


def test_an_internal_error_is_one_line_with_exit_4(empty_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(self, decision_id: int) -> str:  # noqa: ANN001
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(Project, "explain", boom)
    r = _invoke("explain", "1", "--db", empty_db)
    assert r.exit_code == 4 and "internal error (ZeroDivisionError: a bug)" in r.output and "--verbose" in r.output


def test_json_never_holds_nan() -> None:
    text = dumps({"risk": math.nan, "bounds": [math.inf, -math.inf, 0.5]})
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}")) == {
        "risk": "nan", "bounds": ["inf", "-inf", 0.5]}
    assert threshold("0.25") == 0.25


# ---------------------------------------------------------------- domain files
ISSUE_VARIABLES = 'X,Y"\naliases = ["Raf"]\n[[variables]]\nname = "Z'


def test_domain_new_refuses_a_name_that_would_inject_toml(tmp_path: Path) -> None:
    out = tmp_path / "mine.toml"
    r = _invoke("domain", "new", str(out), "--variables", ISSUE_VARIABLES)  # the issue's reproduction
    assert r.exit_code == 2 and "holds a control character" in r.output
    assert not out.exists()  # before: three variables and an alias "Raf" were written


def test_domain_new_escapes_quotes(tmp_path: Path) -> None:
    out = tmp_path / "mine.toml"
    variables = ISSUE_VARIABLES.replace("\n", r"\n")  # the same text typed without real line breaks
    r = _invoke("domain", "new", str(out), "--variables", variables, "--name", 'q"uote = 1\n'.strip())
    assert r.exit_code == 0, r.output
    dom = load_domain(out)
    assert dom.name == 'q"uote = 1' and dom.names == ("X", variables.split(",", 1)[1])
    assert all(v.aliases == () for v in dom.variables)  # the quotes stayed inside the name: no alias, no third variable
    r = _invoke("domain", "new", str(out), "--variables", "A,B")
    assert r.exit_code == 2 and "exists" in r.output and load_domain(out).names == dom.names  # never overwritten


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_toml_strings_round_trip(text: str) -> None:
    assert tomllib.loads(f"k = {toml_string(text)}\n")["k"] == text


def test_a_whole_domain_round_trips(tmp_path: Path) -> None:
    dom = Domain("d\"1", (Variable("A", ("a \"x\"", "a\\b"), ("not]a",), "u'nit", 'de"sc'), Variable("B")), description="x\ny")
    path = write_domain(tmp_path / "d.toml", dom)
    assert load_domain(path) == dom and tomllib.loads(domain_toml(dom))["variables"][0]["not_aliases"] == ["not]a"]


# ---------------------------------------------------------------- data tables
def _csv(tmp_path: Path, text: str | bytes, name: str = "d.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


def _rows(n: int, seed: int = 0) -> str:
    x = np.random.default_rng(seed).normal(size=(n, 3))
    return "".join(f"{a:.4f},{b:.4f},{c:.4f}\n" for a, b, c in x)


@pytest.mark.parametrize(("body", "says"), [
    ("Alpha,Beta,Gamma\n1,2,3\n4,nan,6\n", r"line 3, column 2 \('Beta'\): is not a finite number \('nan'\)"),
    ("Alpha,Beta,Gamma\n1,2,3\n4,5,-inf\n", r"line 3, column 3 \('Gamma'\): is not a finite number"),
    ("Alpha,Beta,Gamma\n1,2,3\n4,,6\n", r"line 3, column 2 \('Beta'\): the cell is empty"),
    ("Alpha,Beta,Gamma\n1,2,3\n4,5\n", r"line 3: 2 fields, but the header has 3 columns"),
    ("Alpha,Beta,Beta,Gamma\n1,2,3,4\n", r"line 1: column 'Beta' appears twice \(columns 2 and 3\)"),
    ("alpha,Beta,Gamma\n1,2,3\n", r"column 'alpha' \(column 1\) differs from 'Alpha' only in case"),
    ("Alpha,,Gamma\n1,2,3\n", r"line 1, column 2: the column has no name"),
    ("Alpha,Beta,Gamma,intervention_target\n1,2,3,Alpha\n2,3,4,Alpha\n", r"0 observational row\(s\).*every row names an intervention target"),
    ("Alpha,Beta,Gamma,intervention_target\n1,2,3,\n2,3,4,Zeta\n", r"line 3, column 4 \(intervention_target\): intervention target 'Zeta'"),
    ("", r"the file is empty"),
])
def test_data_errors_name_line_and_column(tmp_path: Path, body: str, says: str) -> None:
    with pytest.raises(DataError, match=says):
        load_csv(_csv(tmp_path, body), VARS)


def test_data_encoding_errors_name_the_line(tmp_path: Path) -> None:
    path = _csv(tmp_path, "Alpha,Beta,Gamma\n1,2,3\n".encode() + b"4,5,\xe96\n")
    with pytest.raises(DataError, match=r"line 3, byte 5: not UTF-8 \(byte 0xe9\)"):
        load_csv(path, VARS)


def test_header_spacing_and_bom_are_read(tmp_path: Path) -> None:
    """' Beta' in the header used to raise KeyError (a traceback): the header was stripped, the rows not."""
    table = load_csv(_csv(tmp_path, "\ufeffAlpha, Beta ,Gamma\n" + _rows(40)), VARS)
    assert table.values.shape == (40, 3) and np.allclose(table.values.mean(0), 0.0, atol=1e-9)


def test_small_tables_are_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="theorycov.datasets"):
        load_csv(_csv(tmp_path, "Alpha,Beta,Gamma\n" + _rows(12), "small.csv"), VARS)
        load_csv(_csv(tmp_path, "Alpha,Beta,Gamma\n" + _rows(30), "enough.csv"), VARS)
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and "only 12 observational rows for 3 variables" in warned[0] and "small.csv" in warned[0]
    with pytest.raises(DataError, match=r"1 observational row\(s\)"):
        load_csv(_csv(tmp_path, "Alpha,Beta,Gamma\n1,2,3\n"), VARS)


def test_serve_on_a_busy_port_is_exit_2_not_1(empty_db: str) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        r = _invoke("serve", "--port", str(port), "--db", empty_db)
    assert r.exit_code == 2 and f"cannot listen on 127.0.0.1:{port}" in r.output  # uvicorn itself exits 1 ("blocked")


def test_serve_refuses_a_mistyped_database(tmp_path: Path) -> None:
    r = _invoke("serve", "--db", str(tmp_path / "typo.db"))
    assert r.exit_code == 2 and "there is no database at" in r.output and not (tmp_path / "typo.db").exists()
