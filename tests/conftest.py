"""Fixtures shared by every test folder: one real FaceEngine per session, and paths into tests/data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

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
