"""The live source alone: only the newest frame, dropped frames counted, failures explained, no secrets."""

from __future__ import annotations

import time

from regard.vision.live import LiveSource, _redacted

from .feeds import CLIP


def test_only_the_newest_frame_is_handed_out_and_the_rest_are_counted_as_dropped() -> None:
    source = LiveSource(str(CLIP)).start()  # a file plays at its own speed, like a camera
    taken = []
    try:
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            frame = source.next_frame(timeout=2.0)
            assert frame is not None
            assert source.stats.decoded - frame.sequence <= 2  # the newest, not the oldest waiting
            assert time.time() - frame.received_at < 0.5  # no backlog
            taken.append(frame)
            time.sleep(0.4)  # a slow analysis
    finally:
        source.stop()
    sequences = [f.sequence for f in taken]
    assert sequences == sorted(set(sequences))
    assert 5 <= len(taken) <= 9
    stats = source.stats
    assert stats.dropped >= 50  # ~27 fps decoded, ~2.5 fps taken
    assert stats.analysed == len(taken) and stats.decoded >= stats.analysed + stats.dropped - 1
    assert taken[0].pixels.shape == (360, 640, 3)
    assert 0 < taken[-1].stream_seconds < 4


def test_a_source_that_never_opens_fails_with_the_reason_and_no_password() -> None:
    source = LiveSource("rtsp://admin:hunter2@127.0.0.1:9/cam", open_attempts=2).start()
    deadline = time.monotonic() + 30
    while not source.finished and time.monotonic() < deadline:
        time.sleep(0.1)
    assert source.finished and source.stats.opens == 0
    assert source.failure is not None
    assert "could not be opened after 2 attempts" in source.failure and "refused" in source.failure.lower()
    assert "hunter2" not in source.failure and "rtsp://***@127.0.0.1:9/cam" in source.failure


def test_credentials_are_redacted() -> None:
    assert _redacted("rtsp://user:p%40ss@cam.local:554/s1?x=1") == "rtsp://***@cam.local:554/s1?x=1"
    assert _redacted("udp://0.0.0.0:5000") == "udp://0.0.0.0:5000"
    assert _redacted("/dev/video0") == "/dev/video0"
