"""Options shared by the commands that work on stored data, so every one spells them the same way."""

from __future__ import annotations

import os
from pathlib import Path

import click

DEFAULT_DATA_DIR = Path(os.environ.get("REGARD_DATA", Path.home() / ".local" / "share" / "regard"))

data_option = click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    envvar="REGARD_DATA",
    help="Folder holding all of Regard's state (database, vector indexes, audit log).",
)


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
