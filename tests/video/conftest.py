"""Paths to the committed clip and portraits, and broken files made from them."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "video"
CLIP = DATA / "short_hamilton_clip.mp4"
LIN = DATA / "lin-manuel-miranda.png"
ALEX = DATA / "alex-lacamoire.png"


@pytest.fixture
def clip() -> Path:
    return CLIP


@pytest.fixture
def truncated(tmp_path: Path) -> Path:
    """The clip cut at 40 % of its bytes (the moov atom at the end is lost)."""
    path = tmp_path / "truncated.mp4"
    data = CLIP.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 5])
    return path


@pytest.fixture
def not_video(tmp_path: Path) -> Path:
    path = tmp_path / "notes.mp4"
    path.write_text("These are meeting notes, not a video.\n" * 50)
    return path
