"""Access keys: kept in the same database, and changeable while a server holds the data folder.

Changing a key touches no vector index and no audit chain, so a second process (``regard keys``) may do
it under SQLite's own locking while ``regard serve`` runs; the server reads a key on every request, so a
new or revoked key takes effect at once. ``EmbeddedStore`` uses the same statements.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from regard.errors import ResourceAlreadyExistsException
from regard.store.embedded import rows, schema
from regard.store.records import AccessKeyRecord


def insert(c: sqlite3.Connection, record: AccessKeyRecord) -> None:
    try:
        c.execute(
            f"INSERT INTO access_keys ({rows.KEY_COLUMNS}) VALUES ({rows.placeholders(rows.KEY_COLUMNS)})",
            rows.key_params(record),
        )
    except sqlite3.IntegrityError:
        raise ResourceAlreadyExistsException(f"Access key {record.access_key_id} exists") from None


def select(c: sqlite3.Connection, access_key_id: str) -> AccessKeyRecord | None:
    row = c.execute(
        f"SELECT {rows.KEY_COLUMNS} FROM access_keys WHERE access_key_id = ?", (access_key_id,)
    ).fetchone()
    return rows.key(row) if row else None


def select_all(c: sqlite3.Connection) -> list[AccessKeyRecord]:
    return [
        rows.key(r)
        for r in c.execute(f"SELECT {rows.KEY_COLUMNS} FROM access_keys ORDER BY access_key_id").fetchall()
    ]


def revoke(c: sqlite3.Connection, access_key_id: str, when: float) -> bool:
    """True when an active key was revoked now; False for an unknown or already revoked key."""
    cur = c.execute(
        "UPDATE access_keys SET revoked_at = ? WHERE access_key_id = ? AND revoked_at IS NULL",
        (when, access_key_id),
    )
    return cur.rowcount > 0


def set_rate_limit(c: sqlite3.Connection, access_key_id: str, rate_limit: float | None) -> bool:
    """True when the key exists (revoked or not) and now has ``rate_limit``."""
    cur = c.execute(
        "UPDATE access_keys SET rate_limit = ? WHERE access_key_id = ?", (rate_limit, access_key_id)
    )
    return cur.rowcount > 0


class KeyStore:
    """The key methods of ``Store`` alone, over a data folder that may be in use by a running server."""

    def __init__(self, data_dir: Path) -> None:
        from regard.store.embedded.store import DB_NAME, EmbeddedStore

        db = Path(data_dir) / DB_NAME
        if not db.exists():  # a new folder: let the full store lay it out (modes, schema), then leave it
            EmbeddedStore(Path(data_dir), save_interval=3600.0).close()
        self._conn = schema.connect(db)
        if self._conn.execute("PRAGMA user_version").fetchone()[0] < schema.SCHEMA_VERSION:
            self._conn.close()  # an older layout and no server on it: the full store migrates it
            EmbeddedStore(Path(data_dir), save_interval=3600.0).close()
            self._conn = schema.connect(db)
        if self._conn.execute("PRAGMA user_version").fetchone()[0] != schema.SCHEMA_VERSION:
            self._conn.close()
            raise schema.SchemaTooNewError("the database schema is not the one this Regard knows")

    def create_key(self, record: AccessKeyRecord) -> None:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            insert(self._conn, record)
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def get_key(self, access_key_id: str) -> AccessKeyRecord | None:
        return select(self._conn, access_key_id)

    def list_keys(self) -> list[AccessKeyRecord]:
        return select_all(self._conn)

    def revoke_key(self, access_key_id: str, when: float) -> bool:
        return self._update(lambda c: revoke(c, access_key_id, when))

    def set_key_rate_limit(self, access_key_id: str, rate_limit: float | None) -> bool:
        return self._update(lambda c: set_rate_limit(c, access_key_id, rate_limit))

    def _update(self, change: Callable[[sqlite3.Connection], bool]) -> bool:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            done = change(self._conn)
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return done

    def close(self) -> None:
        self._conn.close()
