"""The live source alone: only the newest frame, dropped frames counted, failures explained, no secrets."""

from __future__ import annotations

import functools
import socket
import subprocess
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from regard.vision.live import LiveSource, _redacted
from regard.vision.relay import device_path, needs_relay, redact_text, relay_arguments, relay_format

from .feeds import CLIP, SrtFeed, free_port, gone, relay_processes


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


def test_a_protocol_no_ffmpeg_has_says_how_to_relay_it() -> None:
    source = LiveSource("nosuchproto://127.0.0.1:9000?token=secret123456", open_attempts=1).start()
    deadline = time.monotonic() + 20
    while not source.finished and time.monotonic() < deadline:
        time.sleep(0.1)
    assert source.failure is not None and "cannot open nosuchproto:// sources" in source.failure
    assert "relay the feed to udp://" in source.failure and "secret123456" not in source.failure


def test_an_srt_feed_is_read_through_the_system_ffmpeg_and_its_child_is_reaped_on_stop() -> None:
    feed = SrtFeed().start()
    source = LiveSource(feed.url).start()
    try:
        frame = source.next_frame(timeout=20)
        assert frame is not None, source.failure
        assert frame.pixels.shape == (360, 640, 3)
        children = relay_processes(feed.port)
        assert len(children) == 1  # one relay, reading this port into a pipe
        time.sleep(1.5)
        later = source.next_frame(timeout=5)
        assert later is not None and later.sequence > frame.sequence + 15  # live, ~25 fps
    finally:
        source.stop()
        feed.stop()
    assert source.finished and source.failure is None
    assert relay_processes(feed.port) == set()
    assert gone(children)  # reaped: not even a zombie


def test_an_srt_feed_that_drops_is_reopened_through_a_new_relay() -> None:
    feed = SrtFeed().start()
    states: list[tuple[str, str | None]] = []
    source = LiveSource(feed.url, read_timeout=3, on_state=lambda s, m: states.append((s, m))).start()
    try:
        assert source.next_frame(timeout=20) is not None, source.failure
        first = relay_processes(feed.port)
        feed.stop()  # the sender goes away mid-stream
        deadline = time.monotonic() + 30
        while not any(s == "reconnecting" for s, _ in states) and time.monotonic() < deadline:
            time.sleep(0.1)
        dropped = [m for s, m in states if s == "reconnecting"]
        assert dropped and dropped[0] is not None and dropped[0].startswith("The source dropped (ffmpeg: ")
        assert gone(first)
        feed.start()
        deadline = time.monotonic() + 40
        while source.stats.reconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert source.stats.reconnects == 1
        before = source.stats.decoded  # the newest frame from before the drop may still wait untaken
        taken = source.next_frame(timeout=10)
        while taken is not None and taken.sequence <= before:
            taken = source.next_frame(timeout=10)
        assert taken is not None and time.time() - taken.received_at < 1
    finally:
        source.stop()
        feed.stop()
    assert source.failure is None


def test_an_srt_source_nobody_serves_fails_clearly_and_leaves_no_ffmpeg_behind() -> None:
    port = free_port(socket.SOCK_DGRAM)
    url = f"srt://127.0.0.1:{port}?mode=caller&passphrase=hunter2hunter2"
    source = LiveSource(url, open_attempts=2, open_timeout=4).start()
    seen: set[int] = set()
    deadline = time.monotonic() + 60
    while not source.finished and time.monotonic() < deadline:
        seen |= relay_processes(port)
        time.sleep(0.05)
    assert source.finished and source.stats.opens == 0
    assert seen, "no relay ffmpeg was ever started"
    assert source.failure is not None
    assert source.failure.startswith("The source could not be opened after 2 attempts: ffmpeg: ")
    assert f"srt://127.0.0.1:{port}?***" in source.failure and "failed" in source.failure
    assert "hunter2" not in source.failure
    assert relay_processes(port) == set()
    assert gone(seen)


def test_relay_arguments_for_srt_and_a_capture_device() -> None:
    """No V4L2 device exists on the test machine (v4l2loopback needs a kernel module): the arguments only."""
    assert needs_relay("srt://cam:9000?mode=caller") and relay_format("srt://cam:9000") == "mpegts"
    assert needs_relay("/dev/video0") and needs_relay("v4l2:/dev/v4l/by-id/usb-cam-video-index0")
    assert not needs_relay("/dev/sda") and not needs_relay("rtsp://cam/s") and not needs_relay("clip.mp4")
    assert device_path("v4l2:/dev/video2") == "/dev/video2" and device_path("/dev/video0") == "/dev/video0"
    assert relay_format("/dev/video0") == "nut"
    device = relay_arguments("/usr/bin/ffmpeg", "v4l2:/dev/video2", read_timeout=10, open_timeout=10)
    assert device[0] == "/usr/bin/ffmpeg"
    assert device[device.index("-i") - 2 : device.index("-i") + 2] == ["-f", "v4l2", "-i", "/dev/video2"]
    assert device.index("-fflags") < device.index("-i") and device[device.index("-fflags") + 1] == "nobuffer"
    assert device[device.index("-c:v") + 1] == "mjpeg" and device[-3:] == ["-f", "nut", "pipe:1"]
    url = "srt://cam:9000?mode=caller&passphrase=x y;rm -rf /"
    srt = relay_arguments("ffmpeg", url, read_timeout=10, open_timeout=8)
    assert srt[srt.index("-i") + 1] == url  # one argument, never through a shell
    assert srt[srt.index("-c") + 1] == "copy" and srt[-3:] == ["-f", "mpegts", "pipe:1"]
    assert srt[srt.index("-connect_timeout") + 1] == "4000" and srt[srt.index("-timeout") + 1] == "10000000"


def test_a_device_that_is_not_a_dev_path_fails_at_once() -> None:
    source = LiveSource("v4l2:-y", open_attempts=4).start()
    deadline = time.monotonic() + 10
    while not source.finished and time.monotonic() < deadline:
        time.sleep(0.05)
    assert source.failure == (
        "The source could not be opened: a capture device is a /dev/ path, like v4l2:/dev/video0 (v4l2:-y)"
    )


def test_without_the_system_ffmpeg_an_srt_source_fails_at_once_saying_it_is_needed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine where ffmpeg is not installed
    source = LiveSource("srt://127.0.0.1:9000?passphrase=hunter2hunter2", open_attempts=4).start()
    deadline = time.monotonic() + 10
    while not source.finished and time.monotonic() < deadline:
        time.sleep(0.05)
    assert source.failure is not None and source.stats.opens == 0
    assert "needs the system's ffmpeg (apt-get install ffmpeg)" in source.failure
    assert "after" not in source.failure and "hunter2" not in source.failure


def test_ffmpeg_lines_are_redacted() -> None:
    url = "srt://cam:9000?mode=caller&passphrase=topsecret99"
    line = f"Connection to {url} failed: Input/output error"
    redacted = redact_text(line, url, _redacted(url))
    assert redacted == "Connection to srt://cam:9000?*** failed: Input/output error"
    assert redact_text("bad option passphrase=topsecret99&x=1", url, "") == "bad option passphrase=***&x=1"


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
