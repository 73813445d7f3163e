"""The embedded backend: SQLite (WAL) plus a vector index per collection, in one private data directory."""

from regard.store.embedded.store import DataDirInUseError, EmbeddedStore

__all__ = ["DataDirInUseError", "EmbeddedStore"]
