"""Fixtures for the service tests: a Regard over a fresh data folder, and indexed real galleries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from regard.service.app import Regard
from regard.service.context import RequestContext

GALLERIES = Path(__file__).resolve().parents[1] / "data" / "galleries"


def gallery(name: str) -> dict[str, list[Path]]:
    """Identity -> sorted image files, for a folder-per-identity gallery under tests/data/galleries."""
    root = GALLERIES / name
    return {
        person.name: sorted(p for p in person.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
        for person in sorted(root.iterdir())
        if person.is_dir()
    }


@pytest.fixture
def regard(tmp_path: Path, engine) -> Iterator[Regard]:
    app = Regard.open(tmp_path / "data", engine=engine)
    yield app
    app.close()


@pytest.fixture
def ctx() -> RequestContext:
    return RequestContext(access_key="AKIATESTTESTTEST0001", client="test")


def image(path: Path) -> dict[str, bytes]:
    return {"Bytes": path.read_bytes()}
