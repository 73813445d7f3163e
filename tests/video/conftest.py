"""Paths to the committed clip and portraits, and broken files made from them."""

from __future__ import annotations

from pathlib import Path

import av
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


@pytest.fixture
def cut_short(tmp_path: Path) -> Path:
    """The clip remuxed with its index first (as streaming files are), then cut in half: it still opens."""
    whole = tmp_path / "faststart.mp4"
    with av.open(str(CLIP)) as source, av.open(str(whole), "w", options={"movflags": "faststart"}) as target:
        stream = source.streams.video[0]
        out = target.add_stream_from_template(stream)
        for packet in source.demux(stream):
            if packet.dts is not None:
                packet.stream = out
                target.mux(packet)
    path = tmp_path / "cut_short.mp4"
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path
