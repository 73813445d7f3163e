"""The live source alone: only the newest frame, dropped frames counted, failures explained, no secrets."""

from __future__ import annotations

import functools
import subprocess
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

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


def test_a_protocol_ffmpeg_lacks_says_how_to_relay_it() -> None:
    source = LiveSource("srt://127.0.0.1:9000?passphrase=secret123456", open_attempts=1).start()
    deadline = time.monotonic() + 20
    while not source.finished and time.monotonic() < deadline:
        time.sleep(0.1)
    assert source.failure is not None and "cannot open srt:// sources" in source.failure
    assert "relay the feed to udp://" in source.failure and "secret123456" not in source.failure


def test_credentials_are_redacted() -> None:
    assert _redacted("rtsp://user:p%40ss@cam.local:554/s1?token=abc") == "rtsp://***@cam.local:554/s1?***"
    assert _redacted("udp://0.0.0.0:5000") == "udp://0.0.0.0:5000"
    assert _redacted("/dev/video0") == "/dev/video0"


def test_an_hls_feed_over_http(tmp_path: Path) -> None:
    """HLS as a broadcaster publishes it: FFmpeg writing a live playlist, served by an HTTP server."""
    folder = tmp_path / "hls"
    folder.mkdir()
    ffmpeg = subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(CLIP),
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "15", "-an", "-f", "hls", "-hls_time", "1",
         "-hls_list_size", "5", "-hls_flags", "delete_segments", str(folder / "live.m3u8")],
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    source = LiveSource(f"http://127.0.0.1:{server.server_address[1]}/live.m3u8", open_attempts=8)
    try:
        source.start()
        frame = None
        deadline = time.monotonic() + 60
        while frame is None and time.monotonic() < deadline and source.failure is None:
            frame = source.next_frame(timeout=1.0)
        assert frame is not None, source.failure
        assert frame.pixels.shape == (360, 640, 3)
        time.sleep(2)
        later = source.next_frame(timeout=5.0)
        assert later is not None and later.sequence > frame.sequence + 20  # it keeps coming, live
    finally:
        source.stop()
        server.shutdown()
        ffmpeg.terminate()
        ffmpeg.wait(10)
