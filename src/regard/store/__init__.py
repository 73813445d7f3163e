"""Collections, faces, users, jobs, audit records and vector indexes behind one interface (``base.Store``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from regard.store.base import DataDirInUseError, Store

if TYPE_CHECKING:
    from regard.store.embedded.keys import KeyStore


def open_store(data_dir: Path | None, *, database: str | None = None) -> Store:
    """The store: PostgreSQL at ``database`` (a ``postgresql://`` URL) when given, shared by any number of
    replicas; otherwise the embedded one in ``data_dir`` (created 0700 if missing)."""
    if database:
        from regard.store.postgres import PostgresStore

        return PostgresStore(database)
    if data_dir is None:
        raise ValueError("give a data folder or a database URL")
    from regard.store.embedded import EmbeddedStore  # imported here so `regard.store` stays light to import

    return EmbeddedStore(Path(data_dir))


def open_key_store(data_dir: Path) -> KeyStore:
    """Only the access keys of ``data_dir``: usable while a server holds the folder (see embedded.keys)."""
    from regard.store.embedded.keys import KeyStore

    return KeyStore(Path(data_dir))


__all__ = ["DataDirInUseError", "Store", "open_key_store", "open_store"]
