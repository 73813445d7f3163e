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
