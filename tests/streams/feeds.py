"""Real live sources and a real webhook receiver for the stream tests.

- ``RtspServer``: GStreamer's RTSP server (``rtsp_server.py``, run with Debian's system Python, which has
  python3-gi) serving the Hamilton clip in real time to each client; ``kill()`` and ``start()`` make it
  disappear and come back on the same port.
- ``UdpFeed``: ``ffmpeg -re -stream_loop -1`` sending the clip as MPEG-TS over UDP.
- ``SrtFeed``: the same as MPEG-TS over SRT, ffmpeg listening (a source connects as SRT caller); it
  serves one connection, so each use starts it again.
- ``relay_processes(port)``: Regard's ``ffmpeg`` relays reading SRT on ``port``; ``gone(pids)``.
- ``WebhookReceiver``: an HTTP server that checks each POST's HMAC-SHA256 signature, refuses the first
  request with 503 (so the sink's retry is exercised) and keeps the records it accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CLIP = HERE.parent / "data" / "video" / "short_hamilton_clip.mp4"
LIN = HERE.parent / "data" / "video" / "lin-manuel-miranda.png"
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with python3-gi and gir1.2-gst-rtsp-server-1.0


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RtspServer:
    def __init__(self, mount: str = "cam", video: Path = CLIP) -> None:
        self.port = free_port()
        self.mount = mount
        self.video = video
        self.url = f"rtsp://127.0.0.1:{self.port}/{mount}"
        self.process: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 60) -> RtspServer:
        self.process = subprocess.Popen(
            [SYSTEM_PYTHON, str(HERE / "rtsp_server.py"), str(self.port), self.mount, str(self.video)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline:  # readline blocks; the server prints "ready" or exits
            line = self.process.stdout.readline()
            if line.strip() == "ready" or not line:
                break
        if line.strip() != "ready":
            self.kill()
            raise RuntimeError(f"the RTSP server did not start: {line!r}")
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None


class UdpFeed:
    """Start it once the receiver listens: FFmpeg gives up when its packets are refused."""

    def __init__(self, video: Path = CLIP) -> None:
        self.port = free_port(socket.SOCK_DGRAM)
        self.url = f"udp://127.0.0.1:{self.port}"
        self.video = video
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        video = self.video
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise RuntimeError("ffmpeg is not installed (apt-get install ffmpeg)")
        self.process = subprocess.Popen(
            [ffmpeg, "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(video),
             "-c", "copy", "-bsf:v", "h264_mp4toannexb", "-f", "mpegts",
             f"udp://127.0.0.1:{self.port}?pkt_size=1316"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


class SrtFeed:
    def __init__(self, video: Path = CLIP, passphrase: str | None = None) -> None:
        self.port = free_port(socket.SOCK_DGRAM)
        self.secret = "" if passphrase is None else f"&passphrase={passphrase}"
        self.url = f"srt://127.0.0.1:{self.port}?mode=caller{self.secret}"
        self.video = video
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> SrtFeed:
        self.stop()
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise RuntimeError("ffmpeg is not installed (apt-get install ffmpeg)")
        self.process = subprocess.Popen(
            [ffmpeg, "-hide_banner", "-loglevel", "quiet", "-re", "-stream_loop", "-1", "-i", str(self.video),
             "-c", "copy", "-f", "mpegts", f"srt://127.0.0.1:{self.port}?mode=listener{self.secret}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(0.5)  # listening
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait(10)
        self.process = None


def relay_processes(port: int) -> set[int]:
    """PIDs of the ffmpeg processes reading ``srt://...:port`` into a pipe (Regard's relays).

    A zombie's command line is empty, so to prove a relay was reaped, check that its PID left /proc.
    """
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        reads_port = f":{port}?mode=caller".encode() in b" ".join(cmdline)
        if comm == "ffmpeg" and reads_port and b"pipe:1" in cmdline:
            found.add(int(entry.name))
    return found


def gone(pids: set[int]) -> bool:
    """None of ``pids`` exists any more, not even as a zombie."""
    return not any(Path(f"/proc/{pid}").exists() for pid in pids)


class WebhookReceiver:
    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.records: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests += 1
                expected = "sha256=" + hmac.new(receiver.secret, body, hashlib.sha256).hexdigest()
                given = self.headers.get("X-Regard-Signature", "")
                if not hmac.compare_digest(given, expected):
                    receiver.bad_signatures += 1
                    self.send_response(401)
                elif receiver.requests == 1:
                    self.send_response(503)  # the first delivery fails: the sink must retry
                else:
                    receiver.records.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def names(record: dict[str, Any]) -> set[str]:
    """ExternalImageIds matched in one face-search record."""
    return {
        match["Face"].get("ExternalImageId", "")
        for face in record["FaceSearchResponse"]
        for match in face["MatchedFaces"]
    }


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def wait_for(predicate: Any, timeout: float, what: str, poll: float = 0.25, log: Any = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    tail = "" if log is None else "\n" + log()[-3000:]
    raise AssertionError(f"timed out after {timeout} s waiting for {what}{tail}")
