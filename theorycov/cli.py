"""The command line: a thin typer layer over the library API."""
from __future__ import annotations

import typer

from theorycov import __version__

app = typer.Typer(help="theorycov: literature-grounded causal posteriors and a harm guard.", no_args_is_help=True)


@app.command()
def version() -> None:
    """Print the installed version."""
    typer.echo(__version__)


@app.callback()
def _main() -> None:
    """theorycov command line."""
