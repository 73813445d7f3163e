"""Options shared by the commands that work on stored data, so every one spells them the same way."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

DEFAULT_DATA_DIR = Path(os.environ.get("REGARD_DATA", Path.home() / ".local" / "share" / "regard"))

_data = click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    envvar="REGARD_DATA",
    help="Folder holding all of Regard's state (database, vector indexes, audit log).",
)
DATABASE_KEY = "regard.database"


def _remember_database(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value and not value.startswith(("postgresql://", "postgres://")):
        raise click.BadParameter("must be a postgresql:// URL")
    ctx.meta[DATABASE_KEY] = value or None


_database = click.option(
    "--database",
    envvar="REGARD_DATABASE_URL",
    expose_value=False,
    callback=_remember_database,
    help="PostgreSQL URL (postgresql://...) holding all shared state instead of --data; any number of "
    "servers may use one database. Env: REGARD_DATABASE_URL.",
)


def data_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--data`` and ``--database``; a command reads the latter with ``database_url()``."""
    return _data(_database(command))


def database_url() -> str | None:
    """The ``--database`` of the running command (None: the embedded store in --data)."""
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(DATABASE_KEY) if ctx is not None else None


def _checked_purpose(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from regard.errors import RegardError
    from regard.service.purpose import validate_purpose

    try:
        return validate_purpose(value)
    except RegardError as error:
        raise click.BadParameter(error.message) from None


purpose_option = click.option(
    "--purpose",
    callback=_checked_purpose,
    envvar="REGARD_PURPOSE",
    help="Why this is run (a case or ticket reference and a short reason); kept in the audit record. "
    "Required by collections created with --require-purpose.",
)
