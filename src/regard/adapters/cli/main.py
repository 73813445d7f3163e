"""The ``regard`` command line: one group, with the commands of each area in a module of its own.

Each module named in ``COMMAND_MODULES`` exposes ``COMMANDS``, a list of click commands or groups.
Nothing heavy is imported here, so ``regard --help`` is instant and models load only when used.
"""

from __future__ import annotations

import importlib

import click

COMMAND_MODULES = [
    "regard.adapters.cli.faces",
    "regard.adapters.cli.collections",
    "regard.adapters.cli.accountability",
    "regard.adapters.cli.server",
    "regard.adapters.cli.video",
    "regard.adapters.cli.stream",
    "regard.adapters.cli.evaluate",
    "regard.adapters.cli.clusters",
    "regard.adapters.cli.db",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="regard")
def cli() -> None:
    """Regard: self-hosted, accountable face detection and recognition."""


for _name in COMMAND_MODULES:
    for _command in importlib.import_module(_name).COMMANDS:
        cli.add_command(_command)
