"""Sources PyAV's own FFmpeg cannot open, read through the system's ``ffmpeg`` as a child process.

The FFmpeg inside PyAV's wheel is built without the SRT protocol and without capture devices. The
system's ffmpeg (Debian's ``apt-get install ffmpeg``) has both, so for those sources a child ffmpeg
reads the source and writes a stream to its stdout, and PyAV decodes that pipe:

- ``srt://HOST:PORT?...`` -> ``-c copy`` to MPEG-TS (no re-encoding; SRT carries MPEG-TS already);
- a capture device, written ``/dev/videoN`` or ``v4l2:/dev/videoN`` -> V4L2 frames encoded as MJPEG
  (cheap, intra-only, so any frame decodes alone) in NUT, with FFmpeg's low-latency flags.

The URL goes to ffmpeg as one item of an argument list, never through a shell. The child runs in its
own session (a Ctrl-C in a terminal reaches Regard, which stops it, not the child directly); ``close``
terminates it, kills it after a grace period, and reaps it, so no zombie is left; if Regard itself dies,
the child's next write hits a closed pipe and it exits, so no orphan keeps running. A watchdog kills a
child that writes nothing for ``read_timeout`` seconds, which ends PyAV's blocking read of the pipe (the
source then counts as dropped). The child's stderr is drained into a small ring buffer, so its last
line, with credentials redacted, can explain a failure.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import shutil
import subprocess
import threading
import time
from typing import IO

DEVICE_PREFIX = "v4l2:"
TERMINATE_GRACE = 3.0  # seconds between SIGTERM and SIGKILL
STDERR_LINES, STDERR_LINE_BYTES = 20, 2000  # the ring buffer of the child's last stderr lines
_LOG_PREFIX = re.compile(r"^\[[^\]]* @ 0x[0-9a-f]+\] ")  # "[srt @ 0x55f7...] "
_TELLING = re.compile(r"(?i)fail|refused|timed out|denied|not found|no such|unreachable|permission")
_SECRET_PARAMS = re.compile(r"(?i)\b(passphrase|password|pass|pwd|token|key|secret|streamid)=[^&\s'\"]*")


def needs_relay(url: str) -> bool:
    """True for sources PyAV's FFmpeg cannot open but the system's ffmpeg can (SRT, capture devices)."""
    return url.lower().startswith("srt://") or device_path(url) is not None


def device_path(url: str) -> str | None:
    """The capture device of ``/dev/videoN`` or ``v4l2:/dev/videoN``; None for anything else."""
    path = url[len(DEVICE_PREFIX) :] if url.lower().startswith(DEVICE_PREFIX) else url
    if url.lower().startswith(DEVICE_PREFIX) or re.fullmatch(r"/dev/video\d+", url):
        return path
    return None


def relay_format(url: str) -> str:
    """The container the child writes, for ``av.open(..., format=...)``."""
    return "nut" if device_path(url) is not None else "mpegts"


def relay_arguments(ffmpeg: str, url: str, *, read_timeout: float, open_timeout: float) -> list[str]:
    """The child's argument list: read ``url``, write a live stream to stdout."""
    head = [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error"]
    device = device_path(url)
    if device is not None:
        return [
            *head, "-fflags", "nobuffer", "-flags", "low_delay", "-f", "v4l2", "-i", device,
            "-an", "-c:v", "mjpeg", "-q:v", "5", "-flush_packets", "1", "-f", "nut", "pipe:1",
        ]  # fmt: skip
    return [
        *head,
        "-analyzeduration", "1000000", "-probesize", "1000000",  # find the streams within a second
        "-connect_timeout", str(int(open_timeout * 500)),  # milliseconds: half, so ffmpeg says why first
        "-timeout", str(int(read_timeout * 1e6)),  # microseconds without data before ffmpeg gives up
        "-i", url,
        "-map", "0:v:0", "-c", "copy", "-flush_packets", "1", "-f", "mpegts", "pipe:1",
    ]  # fmt: skip


def redact_text(text: str, url: str, redacted_url: str) -> str:
    """``text`` (a line of ffmpeg's) with the URL replaced by its redacted form and secret parameters hid."""
    if url:
        text = text.replace(url, redacted_url)
    return _SECRET_PARAMS.sub(lambda m: f"{m.group(1)}=***", text)


class RelayError(Exception):
    """The system's ffmpeg is missing or could not be started."""


class Relay:
    """One child ffmpeg reading ``url``; ``pipe`` is the file object PyAV opens."""

    def __init__(self, url: str, redacted_url: str, *, open_timeout: float, read_timeout: float) -> None:
        device = device_path(url)
        if device is not None and not re.fullmatch(r"/dev/[\w./-]+", device):
            raise RelayError(f"a capture device is a /dev/ path, like v4l2:/dev/video0 ({redacted_url})")
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise RelayError(
                "reading this source needs the system's ffmpeg (apt-get install ffmpeg), "
                f"which is not installed ({redacted_url})"
            )
        self.url = url
        self.redacted_url = redacted_url
        self.read_timeout = read_timeout
        self.open_timeout = open_timeout
        self.stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self.timed_out = False
        self._last_data = time.monotonic()
        self._opened = False
        self._closed = threading.Event()
        try:
            self.process = subprocess.Popen(
                relay_arguments(ffmpeg, url, read_timeout=read_timeout, open_timeout=open_timeout),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise RelayError(f"the system's ffmpeg could not be started: {exc} ({redacted_url})") from None
        assert self.process.stdout is not None and self.process.stderr is not None
        self._stdout_fd = self.process.stdout.fileno()
        self._drainer = threading.Thread(
            target=self._drain, args=(self.process.stderr,), name="regard-relay-stderr", daemon=True
        )
        self._drainer.start()
        self._watchdog = threading.Thread(target=self._watch, name="regard-relay-watchdog", daemon=True)
        self._watchdog.start()
        self.pipe = _Pipe(self)

    @property
    def pid(self) -> int:
        return self.process.pid

    def opened(self) -> None:
        """PyAV has read the header: from now on the read timeout applies instead of the open timeout."""
        self._opened = True
        self._last_data = time.monotonic()

    def reason(self) -> str:
        """Why the child stopped giving data: its last stderr line (redacted), or its exit status."""
        code = self.process.poll()
        if self.timed_out:
            limit = self.read_timeout if self._opened else self.open_timeout
            return f"no data from the source for {limit:g} s"
        lines = [_LOG_PREFIX.sub("", line).strip() for line in self.stderr]
        lines = [line for line in lines if line]
        telling = [line for line in lines if _TELLING.search(line)]  # "Connection to ... failed" and kin
        if lines:
            return redact_text((telling or lines)[-1], self.url, self.redacted_url)
        if code is None:
            return "ffmpeg stopped sending data"
        return f"ffmpeg exited with status {code}"

    def terminate(self) -> None:
        """Ask the child to stop, without waiting (any thread); ``close``/``release`` reap it."""
        self._closed.set()
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()

    def close(self) -> None:
        """Terminate the child (then kill it after a grace period) and reap it; safe from any thread.

        The pipes stay open (a reader may be inside ``os.read``; it now sees their end): ``release``
        closes them.
        """
        self._closed.set()
        process = self.process
        if process.poll() is None:
            try:
                process.terminate()
                process.wait(TERMINATE_GRACE)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(TERMINATE_GRACE)
            except ProcessLookupError:
                pass
        else:
            process.wait()

    def release(self) -> None:
        """Close our end of the pipes, once nobody reads them any more (the reader thread, after PyAV)."""
        self.close()
        self._drainer.join(TERMINATE_GRACE)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    # --- threads ---------------------------------------------------------------------------------
    def _drain(self, stderr: IO[bytes]) -> None:
        try:
            for raw in iter(lambda: stderr.readline(STDERR_LINE_BYTES), b""):
                self.stderr.append(raw.decode("utf-8", "replace").rstrip())
        except (OSError, ValueError):
            pass

    def _watch(self) -> None:
        while not self._closed.wait(0.25):
            if self.process.poll() is not None:
                return
            limit = self.read_timeout if self._opened else self.open_timeout
            if time.monotonic() - self._last_data > limit:
                self.timed_out = True
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()  # ends PyAV's blocking read: the pipe reaches its end
                return

    def _read(self, size: int) -> bytes:
        try:
            data = os.read(self._stdout_fd, max(1, min(size, 1 << 20)))
        except OSError:
            return b""
        if data:
            self._last_data = time.monotonic()
        return data


class _Pipe:
    """A read-only, unseekable file object over the child's stdout, as PyAV wants it."""

    def __init__(self, relay: Relay) -> None:
        self._relay = relay

    def read(self, size: int = -1) -> bytes:
        return self._relay._read(size if size > 0 else 1 << 16)
