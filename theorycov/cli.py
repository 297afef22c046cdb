"""The command line: a thin typer layer over :class:`theorycov.Project`.

Exit codes, one meaning each (scripts gate on them)::

    0  success
    1  a guard check blocked the action -- never an error
    2  bad input: an option outside its accepted values (the message names them), an unparseable phrase,
       an unknown variable, a bad file, a --db that names no usable database, nothing readable to ingest
         InputError, GuardInputError, HypothesisError, CorpusError, GFNError (DataError), DatabaseOpenError
    3  a missing precondition: no trained run, no decision, a run folder missing or owned by another
       database (ProjectError, RunFolderError)
    4  an internal error (a bug): one line, the traceback only with --verbose
  130  interrupted (Ctrl-C)

No traceback reaches a user: every command runs inside :func:`_guarded`. Every ``--json`` output is
strict JSON (non-finite numbers written as strings, :func:`theorycov.boundary.dumps`).
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from theorycov import __version__
from theorycov.boundary import dumps
from theorycov.coverage.guard.estimators import Bound

app = typer.Typer(help="theorycov: literature-grounded causal posteriors and a harm guard.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
domain_app = typer.Typer(help="Domains: variables and the names the literature uses for them.", no_args_is_help=True)
app.add_typer(domain_app, name="domain")

DbOpt = Annotated[Optional[str], typer.Option("--db", help="SQLAlchemy URL or SQLite file (default: $THEORYCOV_DB_URL or sqlite:///theorycov.db)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def _fail(msg: str, code: int = 2) -> None:
    typer.secho(f"error: {msg}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def _project(db: str | None, *, must_exist: bool = False):  # noqa: ANN202
    """The project over ``--db``; ``must_exist`` for commands that only read (no new empty database)."""
    import torch

    from theorycov.corpus.llm.backends import free_threads
    from theorycov.project import Project

    # torch's threads wait for each other: on a busy 2-core machine two threads made small tensor work
    # ~170x slower than one (measured in bench/coverage.py), so use only the cores that are free
    torch.set_num_threads(free_threads())
    return Project(db, must_exist=must_exist)


def _guarded(fn):  # noqa: ANN001, ANN202
    """Turn every exception into a one-line message with its exit code (module docstring)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*a, **k):  # noqa: ANN002, ANN003, ANN202
        import click

        from theorycov.corpus.types import CorpusError
        from theorycov.coverage.constraints import HypothesisError
        from theorycov.coverage.guard.actions import GuardInputError
        from theorycov.db.session import DatabaseOpenError
        from theorycov.errors import InputError, ProjectError
        from theorycov.gfn.errors import GFNError

        try:
            return fn(*a, **k)
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.ClickException, click.Abort):
            raise  # typer's own exits and usage errors (exit 2, naming the accepted values) pass through
        except (InputError, GuardInputError, CorpusError, HypothesisError, GFNError, DatabaseOpenError, FileNotFoundError) as err:
            _fail(str(err), 2)
        except ProjectError as err:
            _fail(str(err), 3)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except Exception as err:  # noqa: BLE001 -- a bug: one line for the user, the traceback in the log
            logging.getLogger("theorycov.cli").debug("internal error", exc_info=True)
            _fail(f"internal error ({type(err).__name__}: {err}); rerun with --verbose for the traceback and report it", 4)

    return wrapper


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log progress details")] = False) -> None:
    """theorycov command line."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@app.command()
def version() -> None:
    """Print the installed version."""
    typer.echo(__version__)


@domain_app.command("show")
@_guarded
def domain_show(name: Annotated[str, typer.Argument(help="a shipped domain name or a TOML file")] = "sachs", as_json: JsonOpt = False) -> None:
    """Show a domain's variables and aliases."""
    from theorycov.corpus.domain import load_domain

    dom = load_domain(name)
    if as_json:
        typer.echo(dumps({"name": dom.name, "variables": {v.name: list(v.all_aliases()) for v in dom.variables}}, indent=2))
        return
    typer.echo(f"{dom.name}: {dom.description}")
    for v in dom.variables:
        typer.echo(f"  {v.name:<6} {', '.join(v.all_aliases()[:8])}{' ...' if len(v.all_aliases()) > 8 else ''}")


@domain_app.command("new")
@_guarded
def domain_new(path: Annotated[Path, typer.Argument(help="TOML file to write")],
               variables: Annotated[Optional[str], typer.Option(help="comma-separated variable names")] = None,
               genes: Annotated[Optional[str], typer.Option(help="comma-separated HGNC symbols: one variable each, aliases from HGNC / FamPlex")] = None,
               name: Annotated[Optional[str], typer.Option(help="domain name (default: the file name)")] = None) -> None:
    """Write a new domain file: --variables (add aliases by editing it) or --genes (aliases filled from HGNC)."""
    from theorycov.corpus.domain import Domain, Variable, write_domain

    names = [v.strip() for v in (genes or variables or "").split(",") if v.strip()]
    if (genes is None) == (variables is None) or len(names) < 2 or len(set(names)) != len(names):
        _fail("give --variables 'A,B,C' or --genes 'IL6,STAT3,SOCS3': at least two distinct names, not both options", 2)
    if genes is not None:
        from theorycov.corpus.genes import domain_from_genes
        from theorycov.corpus.lexicon import load_lexicon

        dom, flags = domain_from_genes(name or path.stem, names, load_lexicon())
    else:
        dom, flags = Domain(name or path.stem, tuple(Variable(v) for v in names)), []
    write_domain(path, dom)  # every string escaped, read back, never overwrites an existing file
    aliases = sum(len(v.aliases) for v in dom.variables)
    typer.echo(f"wrote {path}: {len(names)} variables, {aliases} aliases"
               + (f"; {len(flags)} synonyms left out as ambiguous (listed under `ambiguous`, with why)" if flags else "")
               + ("" if genes else "; add the names papers use for each under aliases"))


@app.command()
@_guarded
def ingest(paths: Annotated[list[Path], typer.Argument(help="files or folders of papers")], domain: Annotated[str, typer.Option(help="domain name or TOML")] = "sachs",
           extractor: Annotated[str, typer.Option(help="llm | rules | auto")] = "auto", db: DbOpt = None, as_json: JsonOpt = False,
           workers: Annotated[Optional[int], typer.Option(help="read on a Ray cluster with N workers (the scale extra); default: in this process")] = None,
           ray_address: Annotated[Optional[str], typer.Option(help="a running Ray cluster (HOST:6379, 'auto'); default: a local one of --workers CPUs")] = None,
           llm_url: Annotated[Optional[str], typer.Option(help="ask this model server (theorycov model-server) instead of loading the model")] = None) -> None:
    """Read papers, translate their causal claims into grounded hypotheses, store and index them.
    Exits 2 when not one file could be read (every file failed). With --workers on a SQLite database the
    driver alone writes (SQLite does not take parallel writers); several machines share one PostgreSQL."""
    summary = _project(db).ingest(paths, domain, extractor=extractor, progress=not as_json, workers=workers,
                                  ray_address=ray_address, llm_url=llm_url)
    if as_json:
        typer.echo(dumps({"run_id": summary.run_id, "counts": dict(summary.counts), "failures": summary.failures, "seconds": summary.seconds}))
    else:
        typer.echo(summary.table())  # the one summary: the pipeline itself prints nothing
    if summary.nothing_read:
        _fail(f"nothing could be read: {summary.counts.get('files_failed', 0)} file(s) failed (reasons above)", 2)


@app.command("model-server")
@_guarded
def model_server(host: Annotated[str, typer.Option(help="0.0.0.0 serves other machines (no authentication: a trusted network only)")] = "127.0.0.1",
                 port: Annotated[int, typer.Option(min=1, max=65535)] = 8080,
                 threads: Annotated[Optional[int], typer.Option(min=1, help="llama.cpp threads (default: the free cores)")] = None,
                 model: Annotated[Optional[Path], typer.Option(help="a GGUF file (default: the pinned model of the llm extra)")] = None,
                 log: Annotated[Optional[Path], typer.Option(help="append the server's output here")] = None) -> None:
    """Serve the reading model (llama.cpp's OpenAI-compatible server) for ingest workers: pass
    --llm-url http://HOST:PORT to `theorycov ingest`. Runs until Ctrl-C."""
    import signal

    from theorycov.corpus.llm.server import ModelServer, ServerConfig

    srv = ModelServer(ServerConfig(host=host, port=port, n_threads=threads, model_path=str(model) if model else None,
                                   log_path=str(log) if log else None)).start()
    typer.echo(f"model server at {srv.url} (model {srv.sha256[:12]}); ingest with --llm-url {srv.url}; Ctrl-C stops it")

    def _terminate(*_: object) -> None:  # a service manager's SIGTERM stops the llama.cpp process too
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        code = srv.wait()
    except KeyboardInterrupt:
        srv.stop()
        return
    if code:
        _fail(f"the model server exited with code {code}" + (f"; see {log}" if log else "; pass --log FILE to see why"), 4)


@app.command()
@_guarded
def search(text: str, k: Annotated[int, typer.Option(help="hits")] = 5, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Search stored hypotheses by meaning."""
    hits = _project(db, must_exist=True).search(text, k)
    if as_json:
        typer.echo(dumps([{"hypothesis_id": h.hypothesis_id, "score": h.score, "rendering": h.rendering, "matched": h.matched,
                                "citations": [c.short() for c in h.citations]} for h in hits], indent=2))
        return
    for h in hits:
        typer.echo(f"{h.score:.3f}  #{h.hypothesis_id}  {h.rendering}  [{'; '.join(c.short() for c in h.citations)}]")


@app.command()
@_guarded
def train(domain: Annotated[str, typer.Option(help="domain name or TOML")] = "sachs", data: Annotated[Optional[Path], typer.Option(help="CSV with one column per variable (default: the domain's bundled data)")] = None,
          minutes: Annotated[float, typer.Option(help="training wall time")] = 3.0,
          iterations: Annotated[Optional[int], typer.Option(help="train exactly this many iterations instead of --minutes (reproducible)")] = None,
          plain: Annotated[bool, typer.Option(help="train without the coverage objective")] = False,
          power: Annotated[float, typer.Option(help="likelihood power eta in (0, 1]: 1 is exact Bayes; < 1 tempers a misspecified model")] = 1.0,
          seed: int = 0, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Learn the posterior over causal graphs with every human theory kept as a mode; writes the audit."""
    res = _project(db).train(domain, data=data, minutes=minutes, iterations=iterations, use_coverage=not plain, seed=seed, power=power,
                             progress=not as_json)
    out = {"run_id": res.run_id, "run_dir": str(res.run_dir), "iterations": res.iterations, "covered_share": res.covered_share,
           "min_q_over_p": res.min_q_over_p, "audit_html": str(res.html_path) if res.html_path else None}
    typer.echo(dumps(out, indent=2) if as_json else "\n".join(f"{k}: {v}" for k, v in out.items()))


@app.command()
@_guarded
def audit(run: Annotated[Optional[int], typer.Option(help="run id (default: latest)")] = None, html: Annotated[Optional[Path], typer.Option(help="write the HTML report here")] = None,
          db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Show the coverage audit of a run."""
    rep = _project(db, must_exist=True).audit(run, html)
    if as_json:
        typer.echo(dumps(rep, indent=2))
        return
    typer.echo(f"covered: {rep['covered_share']:.0%} of non-refuted hypotheses; min q/p {rep['min_q_over_p']}")
    for w in rep.get("warnings", []):  # audits stored before warnings existed have none
        typer.echo(f"warning: {w}")
    for r in rep["rows"]:
        typer.echo(f"  #{r['index']:<3} {r['verdict']:<20} p={r['p']:.3g} q={r['q']:.3g}  {r['rendering']}")
    for x in rep.get("excluded", []):  # stored theories no graph can satisfy: listed, never judged
        typer.echo(f"  left out (hypothesis {x['hypothesis_id']}): {x['rendering']} -- {x['reason']}")
    if html:
        typer.echo(f"report: {html}")


@app.command()
@_guarded
def check(action: Annotated[str, typer.Argument(help="e.g. 'inhibit PKC', 'do(Raf = q10)', 'shift Mek by -1'")],
          harm: Annotated[str, typer.Option(help="e.g. 'Erk < q10', 'Akt outside [q5, q95]'")],
          bound: Annotated[Bound, typer.Option(help="the estimate that decides", case_sensitive=False)] = Bound.HUMAN,
          threshold: Annotated[float, typer.Option(help="block above this probability (strictly between 0 and 1)")] = 0.5, run: Annotated[Optional[int], typer.Option(help="run id")] = None,
          db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Ask the guard whether an action is allowed; exit code 1 when it is blocked."""
    import json

    from theorycov.boundary import threshold as checked_threshold
    from theorycov.coverage.guard.explain import render_text

    checked_threshold(threshold)  # before the database is opened: a bad value stores nothing
    dec = _project(db, must_exist=True).check(action, harm, bound=bound.value, threshold=threshold, run_id=run)
    typer.echo(dumps(json.loads(dec.to_json()), indent=2) if as_json else f"decision #{dec.decision_id}\n{render_text(dec)}")
    if dec.status.value == "block":
        raise typer.Exit(1)


@app.command()
@_guarded
def explain(decision_id: int, db: DbOpt = None) -> None:
    """Explain a stored decision in plain language."""
    typer.echo(_project(db, must_exist=True).explain(decision_id))


@app.command()
@_guarded
def serve(db: DbOpt = None, host: str = "127.0.0.1", port: Annotated[int, typer.Option(min=1, max=65535)] = 8765,
          writable: Annotated[bool, typer.Option(help="let the check form store decisions")] = False,
          allow_host: Annotated[Optional[list[str]], typer.Option(help="another Host name the dashboard answers to (repeatable); "
                                                                        "loopback names and --host are allowed already")] = None) -> None:
    """Serve the read-only dashboard (hypotheses, audit, decisions, a harm-check form)."""
    import uvicorn

    from theorycov.web import LOOPBACK_HOSTS, create_app

    hosts = (*LOOPBACK_HOSTS, *([host] if host not in ("0.0.0.0", "::") else []), *(allow_host or ()))
    _check_can_listen(host, port)  # uvicorn exits 1 when it cannot bind, and 1 means "blocked" here
    uvicorn.run(create_app(db, writable=writable, must_exist=True, allowed_hosts=hosts), host=host, port=port, log_level="warning")


def _check_can_listen(host: str, port: int) -> None:
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as err:
        _fail(f"cannot listen on {host}:{port}: {err.strerror or err}; choose another --port or --host", 2)


@app.command()
@_guarded
def demo(out: Annotated[Path, typer.Option(help="folder for the demo's database and reports")] = Path("demo-out"),
         minutes: Annotated[float, typer.Option(help="training wall time")] = 3.0,
         power: Annotated[float, typer.Option(help="likelihood power (the Sachs cells are far from linear-Gaussian)")] = 0.1,
         extractor: Annotated[str, typer.Option(help="llm | rules | auto")] = "auto") -> None:
    """End to end on the bundled Sachs domain: ingest the bibliography, train, audit, three harm checks."""
    from theorycov.demo import run_demo

    sys.exit(run_demo(out, minutes=minutes, power=power, extractor=extractor))
