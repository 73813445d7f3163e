"""``regard db``: the PostgreSQL database behind a group of servers (schema, import, compaction)."""

from __future__ import annotations

from pathlib import Path

import click

from regard.adapters.cli.options import DEFAULT_DATA_DIR, data_option, database_url


def _require_database() -> str:
    url = database_url()
    if url is None:
        raise click.UsageError("give --database postgresql://... (or set REGARD_DATABASE_URL)")
    return url


@click.group()
def db() -> None:
    """The PostgreSQL database that replicas of 'regard serve' share (see docs/deploy.md)."""


@db.command("migrate")
@data_option
def migrate(data_dir: Path) -> None:
    """Bring the database's schema up to this Regard's version (servers refuse an older one)."""
    import psycopg

    from regard.store.postgres import schema

    del data_dir
    with psycopg.connect(_require_database(), autocommit=True) as conn:
        applied = schema.migrate(conn)
    click.echo(f"schema at version {schema.SCHEMA_VERSION}" + (f" (applied {applied})" if applied else ""))


@db.command("import")
@data_option
def import_(data_dir: Path) -> None:
    """Copy the embedded store in --data (stop its server first) into the empty --database."""
    from regard.store.postgres.importer import import_embedded

    url = _require_database()
    if not (Path(data_dir) / "regard.db").exists():
        raise click.UsageError(f"{data_dir} holds no Regard data")
    report = import_embedded(Path(data_dir), url)
    click.echo(
        f"imported {report.collections} collections, {report.faces} faces, {report.users} users, "
        f"{report.keys} keys, {report.jobs} jobs, {report.stream_processors} stream processors, "
        f"{report.cluster_assignments} cluster assignments, {report.audit_records} audit records"
    )


@db.command("compact")
@data_option
def compact(data_dir: Path) -> None:
    """Rewrite every collection's table and index (VACUUM FULL), then retire old WAL: erases the leftover
    bytes of faces deleted from collections too large to be rewritten at each delete. Locks each in turn."""
    from regard.store.postgres import PostgresStore

    del data_dir
    store = PostgresStore(_require_database(), eager_erasure=False)
    try:
        store.compact()
    finally:
        store.close()
    click.echo("compacted")


COMMANDS = [db]
__all__ = ["COMMANDS", "DEFAULT_DATA_DIR"]
