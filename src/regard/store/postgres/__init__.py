"""PostgreSQL + pgvector backend of ``Store``: all shared state in one database, any number of replicas.

``PostgresStore`` is imported on first use, so ``regard.store.postgres.local`` (the throwaway test server)
stays light: importing usearch before onnxruntime crashes onnxruntime's import on this platform.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from regard.store.postgres.store import PostgresStore


def __getattr__(name: str) -> Any:
    if name == "PostgresStore":
        from regard.store.postgres.store import PostgresStore

        return PostgresStore
    raise AttributeError(name)


__all__ = ["PostgresStore"]
