"""Live video: name the faces of a camera or broadcast feed as they appear, on the newest frame only.

``LiveSource`` runs a reader thread that opens anything FFmpeg opens live (RTSP, HLS, MPEG-TS over UDP
or RTP, HTTP; a local file is paced at its own frame rate, like a camera; SRT and capture devices
through the system's ffmpeg, see ``vision.relay``) and decodes every
frame (compressed video must be decoded in order) but keeps only the newest one: a frame the analysis
had no time for is replaced and counted as dropped, so a slow machine lags by at most one frame and
never builds a backlog. A source that drops is reopened with backoff; one that never opens gives up
after a few attempts and says why in ``failure``. PyAV's open/read timeouts keep nothing hanging.

``LiveFaceSearch`` takes the newest frame, detects faces, follows them with the stored-video tracker
(``vision.tracking``) so a face is embedded when it appears and again at better views rather than on
every frame, and asks ``search`` (given by the caller: this layer knows nothing of storage) for the
matches of a track whenever its embedding changed. Each analysed frame with faces is handed to ``emit``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray

from regard.vision.relay import Relay, RelayError, needs_relay, relay_format
from regard.vision.tracking import Track, Tracker
from regard.vision.video import _reason

log = logging.getLogger(__name__)

OPEN_TIMEOUT = 10.0  # seconds for FFmpeg to open the source and read its header
READ_TIMEOUT = 10.0  # seconds without data before the connection counts as dropped
OPEN_ATTEMPTS = 4  # failed opens, before the first success, after which the source has FAILED
FIRST_BACKOFF, MAX_BACKOFF = 0.5, 8.0
MAX_FACES_PER_FRAME = 100
PROBE_OPTIONS = {"analyzeduration": "1000000", "probesize": "1000000"}  # one second to find the streams
KEEP_POINTS = 8  # per track: the tracker predicts from the last two
KEEP_EMBEDDINGS = 16  # per track: its search uses the mean of its latest views

Vector = NDArray[np.float32]


class SourceError(Exception):
    """The source could not be opened or read; ``message`` says why, fit for a StatusMessage."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.fatal = fatal  # retrying cannot help (ffmpeg missing)


@dataclass(frozen=True, slots=True)
class LiveFrame:
    """The newest decoded frame and where it sits in the stream."""

    pixels: NDArray[np.uint8]  # BGR (H, W, 3)
    sequence: int  # number of the frame among all frames decoded since the source started
    received_at: float  # epoch seconds the frame was decoded here (Kinesis: ServerTimestamp)
    producer_at: float  # epoch seconds the producer meant it for: connection start + frame time
    fragment: int  # fragments start at key frames, as Kinesis Video fragments do
    fragment_offset: float  # seconds from the fragment's first frame
    stream_seconds: float  # frame time from the first frame of this connection
    decoded_monotonic: float  # time.monotonic() at decoding, for latency measurements


@dataclass(slots=True)
class SourceStats:
    decoded: int = 0
    analysed: int = 0
    dropped: int = 0  # decoded frames replaced by a newer one before anybody took them
    opens: int = 0
    reconnects: int = 0


def open_options(url: str) -> dict[str, str]:
    """FFmpeg options for a live source: TCP for RTSP (no lost packets), short probing.

    Not ``fflags nobuffer``: it discards the packets read while probing, up to the first second or two
    of the stream, so a person there would be missed; decoding them costs little, and only the newest
    frame is analysed anyway.
    """
    options = dict(PROBE_OPTIONS)
    scheme = url.split("://", 1)[0].lower() if "://" in url else "file"
    if scheme in ("rtsp", "rtsps"):
        options["rtsp_transport"] = "tcp"
        options["timeout"] = str(int(READ_TIMEOUT * 1e6))  # socket I/O timeout, microseconds
    elif scheme in ("udp", "rtp"):
        options["timeout"] = str(int(READ_TIMEOUT * 1e6))
        options["overrun_nonfatal"] = "1"
        options["fifo_size"] = "1000000"
    return options


def is_local_file(url: str) -> bool:
    return "://" not in url or url.lower().startswith("file://")


class LiveSource:
    """A reader thread over ``url`` that keeps only the newest frame (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        open_attempts: int = OPEN_ATTEMPTS,
        open_timeout: float = OPEN_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        on_state: Callable[[str, str | None], None] | None = None,
    ) -> None:
        self.url = url
        self.open_attempts = open_attempts
        self.open_timeout = open_timeout
        self.read_timeout = read_timeout
        self.on_state = on_state  # ("connected" | "reconnecting" | "failed", message)
        self.stats = SourceStats()
        self.failure: str | None = None  # set when the source gave up
        self.connected = False
        self._stop = threading.Event()
        self._ready = threading.Condition()
        self._newest: tuple[Any, int, float, float, int, float, float, float] | None = None
        self._taken = 0
        self._relay: Relay | None = None  # the child ffmpeg of an SRT or device source, while it runs
        self._thread = threading.Thread(target=self._run, name="regard-live-source", daemon=True)

    # --- control ---------------------------------------------------------------------------------
    def start(self) -> LiveSource:
        self._thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        with self._ready:
            self._ready.notify_all()
        relay = self._relay
        if relay is not None:
            relay.terminate()  # ends the reader's blocking read; the reader thread reaps the child
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def finished(self) -> bool:
        """The reader has stopped for good (asked to, or gave up)."""
        return not self._thread.is_alive() and (self._stop.is_set() or self.failure is not None)

    def next_frame(self, timeout: float = 0.5) -> LiveFrame | None:
        """The newest frame not taken before, waiting up to ``timeout`` s; None if none came."""
        with self._ready:
            if self._newest is None or self._newest[1] <= self._taken:
                self._ready.wait(timeout)
            if self._newest is None or self._newest[1] <= self._taken:
                return None
            frame, sequence, received, producer, fragment, offset, seconds, mono = self._newest
            self._taken = sequence
            self._newest = None
        self.stats.analysed += 1
        pixels = frame.to_ndarray(format="bgr24")  # colour conversion only for the frames analysed
        return LiveFrame(pixels, sequence, received, producer, fragment, offset, seconds, mono)

    # --- the reader thread -----------------------------------------------------------------------
    def _state(self, state: str, message: str | None) -> None:
        if self.on_state is not None:
            try:
                self.on_state(state, message)
            except Exception:
                log.exception("live source state callback failed")

    def _run(self) -> None:
        backoff = FIRST_BACKOFF
        failed_opens = 0
        while not self._stop.is_set():
            try:
                container = self._open()
            except SourceError as error:
                failed_opens += 1
                if self._stop.is_set():
                    return
                if error.fatal or (self.stats.opens == 0 and failed_opens >= self.open_attempts):
                    tries = "" if error.fatal else f" after {failed_opens} attempts"
                    self.failure = f"The source could not be opened{tries}: {error.message}"
                    self._state("failed", self.failure)
                    return
                self._state("reconnecting", f"Reconnecting to the source: {error.message}")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            failed_opens = 0
            self.stats.opens += 1
            if self.stats.opens > 1:
                self.stats.reconnects += 1
            self.connected = True
            self._state("connected", None)
            try:
                reason = self._decode(container)
            finally:
                self.connected = False
                container.close()
                relay, self._relay = self._relay, None
                if relay is not None:
                    relay.release()
                    reason = f"ffmpeg: {relay.reason()}"
            if self._stop.is_set():
                return
            self._state("reconnecting", f"The source dropped ({reason}); reconnecting.")
            backoff = FIRST_BACKOFF if self.stats.decoded else min(backoff * 2, MAX_BACKOFF)
            self._stop.wait(backoff)

    def _open(self) -> Any:
        if needs_relay(self.url):
            return self._open_relayed()
        try:
            container = av.open(
                self.url[len("file://") :] if self.url.lower().startswith("file://") else self.url,
                mode="r",
                options=open_options(self.url),
                timeout=(self.open_timeout, self.read_timeout),
                metadata_errors="ignore",
            )
        except av.error.ProtocolNotFoundError:
            scheme = self.url.split("://", 1)[0]
            raise SourceError(
                f"this FFmpeg build cannot open {scheme}:// sources; relay the feed to udp:// with "
                f"the system's ffmpeg ({_redacted(self.url)})"
            ) from None
        except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
            raise SourceError(f"{_reason(exc)} ({_redacted(self.url)})") from None
        if not container.streams.video:
            container.close()
            raise SourceError(f"the source holds no video stream ({_redacted(self.url)})")
        return container

    def _open_relayed(self) -> Any:
        """Open an SRT or capture-device source through a child ffmpeg writing to a pipe (vision.relay)."""
        try:
            relay = Relay(
                self.url, _redacted(self.url), open_timeout=self.open_timeout, read_timeout=self.read_timeout
            )
        except RelayError as exc:
            raise SourceError(str(exc), fatal=True) from None
        self._relay = relay
        if self._stop.is_set():  # stop() may have looked before the relay existed
            relay.terminate()
        try:
            container = av.open(
                relay.pipe,
                mode="r",
                format=relay_format(self.url),
                options=dict(PROBE_OPTIONS),
                metadata_errors="ignore",
            )
        except (av.error.FFmpegError, OSError, UnicodeDecodeError):
            self._relay = None
            relay.release()
            reason, where = relay.reason(), _redacted(self.url)
            raise SourceError(f"ffmpeg: {reason}" + ("" if where in reason else f" ({where})")) from None
        if not container.streams.video:
            container.close()
            self._relay = None
            relay.release()
            raise SourceError(f"the source holds no video stream ({_redacted(self.url)})")
        relay.opened()
        return container

    def _decode(self, container: Any) -> str:
        """Decode until the stream ends, fails or we are stopped; returns why it ended."""
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        time_base = stream.time_base
        paced = is_local_file(self.url) and Path(self.url.removeprefix("file://")).is_file()
        opened_at, opened_mono = time.time(), time.monotonic()
        rate = stream.average_rate or stream.guessed_rate
        step = 1.0 / float(rate) if rate else 0.04
        first_pts: int | None = None
        seconds = -step
        fragment_start, fragment = 0.0, self.stats.decoded + 1
        try:
            for frame in container.decode(stream):
                if self._stop.is_set():
                    return "stopped"
                if frame.pts is not None and time_base:
                    if first_pts is None:  # frames before it had no time stamp (RTSP's first may not)
                        first_pts = frame.pts - round((seconds + step) / time_base)
                    seconds = max(float((frame.pts - first_pts) * time_base), 0.0)
                else:
                    seconds += step
                if paced:  # a file plays at its own speed, like a camera would send it
                    ahead = opened_mono + seconds - time.monotonic()
                    if ahead > 0 and self._stop.wait(ahead):
                        return "stopped"
                if frame.key_frame:
                    fragment_start = seconds
                    fragment = self.stats.decoded + 1
                self.stats.decoded += 1
                entry = (
                    frame,
                    self.stats.decoded,
                    time.time(),
                    opened_at + seconds,
                    fragment,
                    seconds - fragment_start,
                    seconds,
                    time.monotonic(),
                )
                with self._ready:
                    if self._newest is not None:
                        self.stats.dropped += 1
                    self._newest = entry
                    self._ready.notify_all()
        except (av.error.FFmpegError, OSError) as exc:
            return _reason(exc)
        return "end of stream"


def _redacted(url: str) -> str:
    """The URL without credentials (``user:password@``) nor query (tokens often ride there), for messages."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    rest, query, _ = rest.partition("?")
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rsplit("@", 1)[1]
    return f"{scheme}://{authority}{slash}{path}" + ("?***" if query else "")


# =================================================================================================
# The analysis loop
# =================================================================================================
@dataclass(slots=True)
class LiveFace:
    face: Any  # vision.face.Face
    track_id: int
    matches: Any  # whatever ``search`` returned for this face's track; None before it was searched


@dataclass(slots=True)
class LiveResult:
    frame: LiveFrame
    image: Any  # vision.image.DecodedImage of the frame
    faces: list[LiveFace] = field(default_factory=list)
    new_tracks: list[int] = field(default_factory=list)  # tracks first seen on this frame


class LiveFaceSearch:
    """Detect, track, embed sparsely and search the newest frames of ``source`` until stopped.

    ``search(vector)`` returns the matches of an L2-normalised embedding (any type; passed through);
    ``emit(result)`` receives each analysed frame that holds faces. ``max_fps`` caps the analysis rate
    so a stream leaves CPU to others when it could go faster.
    """

    def __init__(
        self,
        source: LiveSource,
        engine: Any,
        search: Callable[[Vector], Any],
        emit: Callable[[LiveResult], None],
        *,
        max_fps: float = 10.0,
        tracker: Tracker | None = None,
    ) -> None:
        self.source = source
        self.engine = engine
        self.search = search
        self.emit = emit
        self.min_interval = 1.0 / max_fps if max_fps > 0 else 0.0
        self.tracker = tracker or Tracker(embed_every_ms=2000)
        self.embeddings = 0
        self.searches = 0
        self._matches: dict[int, Any] = {}
        self._stop = threading.Event()
        self._t0 = time.monotonic()

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, until: float | None = None) -> None:
        """Analyse until stopped, until the source fails, or until time.monotonic() reaches ``until``."""
        last = 0.0
        while not self._stop.is_set() and not self.source.finished:
            if until is not None and time.monotonic() >= until:
                return
            wait = last + self.min_interval - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                return
            frame = self.source.next_frame(timeout=0.5)
            if frame is None:
                continue
            last = time.monotonic()
            result = self.analyse(frame)
            if result.faces:
                self.emit(result)

    def analyse(self, frame: LiveFrame) -> LiveResult:
        from regard.vision.image import DecodedImage

        image = DecodedImage(pixels=frame.pixels, format="VIDEO")
        faces = self.engine.detect(image, max_faces=MAX_FACES_PER_FRAME)
        now_ms = int((frame.decoded_monotonic - self._t0) * 1000)
        known = {t.track_id for t in self.tracker.active_tracks()}
        requests = self.tracker.update(now_ms, faces)
        changed: set[int] = set()
        if requests:
            vectors = self.engine.embed(image, [r.face for r in requests])
            self.embeddings += len(requests)
            for request, vector in zip(requests, vectors, strict=True):
                self.tracker.add_embedding(request, vector)
        by_face: dict[int, Track] = {}
        for track in self.tracker.active_tracks():
            if track.points and track.last_ms == now_ms:
                by_face[id(track.points[-1].face)] = track
                if track.last_embedded_ms == now_ms:
                    changed.add(track.track_id)
        for track in self.tracker.active_tracks():
            if track.track_id in changed:
                mean = track.mean_embedding()
                if mean is not None:
                    self._matches[track.track_id] = self.search(mean)
                    self.searches += 1
        for track in self.tracker.drain_finished():
            self._matches.pop(track.track_id, None)
        for track in self.tracker.active_tracks():  # a face in view for hours must not grow memory
            del track.points[:-KEEP_POINTS]
            del track.embeddings[:-KEEP_EMBEDDINGS]
        result = LiveResult(frame=frame, image=image)
        for face in faces:
            track = by_face.get(id(face))
            if track is None:
                continue
            result.faces.append(LiveFace(face, track.track_id, self._matches.get(track.track_id)))
            if track.track_id not in known:
                result.new_tracks.append(track.track_id)
        return result
