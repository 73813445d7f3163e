"""``regard stream watch`` as a user runs it: a real process on a real RTSP camera and a UDP broadcast."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from tests.adapters.aws.server_process import CLI, cli_env, run_cli

from .feeds import LIN, RtspServer, SrtFeed, UdpFeed, names, relay_processes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("watch") / "data"
    done = run_cli("collections", "create", "hamilton", "--data", str(data))
    assert done.returncode == 0, done.stderr
    done = run_cli("index", "hamilton", str(LIN), "--data", str(data))
    assert done.returncode == 0, done.stderr
    return data


def watch(data_dir: Path, url: str, *options: str, before: object = None) -> subprocess.CompletedProcess[str]:
    process = subprocess.Popen(
        [*CLI, "stream", "watch", "hamilton", url, "--data", str(data_dir), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    if callable(before):
        time.sleep(3)  # the watcher binds the UDP port, then the broadcast starts
        before()
    out, err = process.communicate(timeout=180)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def json_records(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_watch_names_miranda_on_an_rtsp_camera_as_json_lines(data_dir: Path) -> None:
    camera = RtspServer("cam").start()
    try:
        done = watch(data_dir, camera.url, "--json", "--duration", "12")
    finally:
        camera.kill()
    records = json_records(done)
    assert records, done.stderr
    assert any("lin-manuel-miranda.png" in names(r) for r in records)  # the CLI keeps the file name
    assert all(r["StreamProcessorInformation"]["Status"] == "RUNNING" for r in records)
    assert "dropped" in done.stderr and "analysed" in done.stderr


def test_watch_prints_names_from_a_udp_broadcast(data_dir: Path) -> None:
    feed = UdpFeed()
    try:
        done = watch(data_dir, feed.url, "--duration", "20", before=feed.start)
    finally:
        feed.stop()
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.endswith("%") and "lin-manuel-miranda.png" in line for line in lines), done.stdout
    assert any("unknown face" in line for line in lines)  # the audience
    audit = run_cli("audit", "list", "--collection", "hamilton", "--data", str(data_dir), "--json")
    assert audit.returncode == 0, audit.stderr
    assert "StreamWatchMatches" in audit.stdout


def test_watch_names_miranda_on_an_srt_feed(data_dir: Path) -> None:
    """SRT, which PyAV's FFmpeg lacks, read through the system's ffmpeg; nothing of it is left afterwards."""
    feed = SrtFeed().start()
    try:
        done = watch(data_dir, feed.url, "--json", "--duration", "15")
    finally:
        feed.stop()
    assert any("lin-manuel-miranda.png" in names(r) for r in json_records(done)), done.stderr
    assert relay_processes(feed.port) == set()


def test_watch_reports_a_source_that_never_opens(data_dir: Path) -> None:
    done = watch(data_dir, "rtsp://127.0.0.1:9/none", "--duration", "60")
    assert done.returncode == 1
    assert "could not be opened" in done.stderr and "refused" in done.stderr.lower()
