"""What every command that works on stored data shares: opening the data folder, printing, errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from regard.errors import RegardError
from regard.service.context import RequestContext


@contextmanager
def open_regard(data_dir: Path) -> Iterator[Any]:
    """The application over ``data_dir``; Regard's errors become one line and exit status 1."""
    from regard.adapters.cli.options import database_url
    from regard.service.app import Regard

    with reported_errors():
        regard = Regard.open(data_dir, database=database_url())
        try:
            yield regard
        finally:
            regard.close()


@contextmanager
def reported_errors() -> Iterator[None]:
    from regard.store import DataDirInUseError

    try:
        yield
    except RegardError as error:
        click.echo(f"Error: {error.code}: {error.message}", err=True)
        sys.exit(1)
    except DataDirInUseError as error:
        click.echo(f"Error: {error}. Stop it first, or use the server's operations.", err=True)
        sys.exit(1)


def cli_context(purpose: str | None = None) -> RequestContext:
    """A fresh request context (its own request id) for one local call, with the stated ``--purpose``."""
    return RequestContext(client="cli", purpose=purpose)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False, default=str))
