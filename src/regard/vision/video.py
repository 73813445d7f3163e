"""Stored video: probe its metadata and decode frames sampled at a fixed rate, with PyAV (FFmpeg).

``probe_video`` reads only the container header (cheap: it runs when a job is started, to enforce
Rekognition's limits). ``sample_frames`` decodes the video stream once, in order, and converts to BGR
pixels only the frames it keeps: compressed video must be decoded frame by frame anyway (each frame
depends on the ones before it), but colour conversion, the expensive part, is skipped for dropped
frames. Timestamps are milliseconds from the first frame of the video stream, as Rekognition reports.

Anything FFmpeg cannot read (truncated file, not a video, unknown codec, no video stream, no frame)
raises ``VideoDecodeError`` with a message fit for a job's ``StatusMessage``.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray

from regard.errors import VideoTooLargeException

MAX_VIDEO_BYTES = 10 * 1024**3  # Rekognition: VideoTooLargeException over 10 GB ...
MAX_VIDEO_MILLIS = 6 * 3600 * 1000  # ... or over 6 hours
DEFAULT_SAMPLE_FPS = 5.0  # faces rarely appear for less than 0.2 s; 5 fps keeps decoding cost low
MAX_SAMPLE_FPS = 60.0
SEEK_AHEAD_MS = 2500.0  # a gap to the next sample longer than this is sought, not decoded


class VideoDecodeError(Exception):
    """The file is not a video Regard can decode; ``message`` says why, for a job's StatusMessage."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class VideoMetadata:
    """Rekognition's ``VideoMetadata`` for the video stream (see ``as_dict`` for the wire names)."""

    codec: str
    duration_millis: int
    format: str
    frame_rate: float
    frame_height: int
    frame_width: int
    color_range: str  # FULL | LIMITED

    def as_dict(self) -> dict[str, Any]:
        return {
            "Codec": self.codec,
            "DurationMillis": self.duration_millis,
            "Format": self.format,
            "FrameRate": self.frame_rate,
            "FrameHeight": self.frame_height,
            "FrameWidth": self.frame_width,
            "ColorRange": self.color_range,
        }


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """One sampled frame: BGR pixels (H, W, 3) uint8, its time in ms and its index among decoded frames."""

    pixels: NDArray[np.uint8]
    timestamp_ms: int
    frame_number: int


def _open(path: Path) -> Any:
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except av.error.InvalidDataError:
        raise VideoDecodeError(
            "The file is not a video in a supported format, or it is truncated or corrupt "
            "(it could not be parsed)."
        ) from None
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise VideoDecodeError(f"The video could not be opened: {_reason(exc)}.") from None
    fmt = container.format.name or ""
    if fmt == "image2" or fmt.endswith("_pipe"):
        container.close()
        raise VideoDecodeError(f"The file is a still image ({fmt.removesuffix('_pipe')}), not a video.")
    if not container.streams.video:
        container.close()
        raise VideoDecodeError("The file holds no video stream.")
    stream = container.streams.video[0]
    if stream.codec_context is None or not stream.codec_context.name:
        container.close()
        raise VideoDecodeError("The video codec is not supported.")
    return container


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text).rstrip(".")


def _color_range(stream: Any) -> str:
    pix_fmt = stream.codec_context.pix_fmt or ""
    code = getattr(stream.codec_context, "color_range", 0) or 0
    # AVCOL_RANGE_JPEG (2) or a yuvj* pixel format is full range; unspecified video is limited range.
    full = code == 2 or pix_fmt.startswith(("yuvj", "rgb", "bgr", "gbr"))
    return "FULL" if full else "LIMITED"


def _metadata(container: Any) -> VideoMetadata:
    stream = container.streams.video[0]
    cc = stream.codec_context
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    frame_rate = float(rate) if rate else 0.0
    duration_s = 0.0
    if stream.duration is not None and stream.time_base is not None:
        duration_s = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration_s = container.duration / av.time_base
    return VideoMetadata(
        codec=cc.name,
        duration_millis=max(round(duration_s * 1000), 0),
        format=container.format.long_name or container.format.name,
        frame_rate=round(frame_rate, 3),
        frame_height=int(cc.height or 0),
        frame_width=int(cc.width or 0),
        color_range=_color_range(stream),
    )


def probe_video(path: Path) -> VideoMetadata:
    """The metadata in the container header; raises VideoDecodeError when there is no readable video."""
    container = _open(path)
    try:
        return _metadata(container)
    finally:
        container.close()


def check_video_limits(path: Path) -> VideoMetadata | None:
    """Enforce Rekognition's stored-video limits when a job starts.

    Raises VideoTooLargeException over 10 GB or 6 hours. A file that cannot even be probed is not an
    error here: the job is accepted and then FAILS with the reason, as Rekognition does; ``None`` then.
    """
    size = os.stat(path).st_size
    if size > MAX_VIDEO_BYTES:
        raise VideoTooLargeException(
            f"The video is {size} bytes; the limit is {MAX_VIDEO_BYTES} bytes (10 GB)."
        )
    try:
        meta = probe_video(path)
    except VideoDecodeError:
        return None
    if meta.duration_millis > MAX_VIDEO_MILLIS:
        raise VideoTooLargeException(
            f"The video lasts {meta.duration_millis / 3_600_000:.2f} h; the limit is 6 hours."
        )
    return meta


def _rotate(pixels: NDArray[np.uint8], rotation: int) -> NDArray[np.uint8]:
    """Apply a display-matrix rotation (degrees counter-clockwise, as FFmpeg reports it)."""
    turns = (round(rotation / 90.0) % 4) if rotation else 0
    return np.ascontiguousarray(np.rot90(pixels, k=turns)) if turns else pixels


class VideoReader:
    """An open video file; use as a context manager.

    ``frames(fps)`` yields ``VideoFrame`` at most ``fps`` times per second of video (every frame when
    the video's own rate is lower). ``progress`` (0-1) is how far through the video the reader is.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._container = _open(self.path)
        self.metadata = _metadata(self._container)
        self.progress = 0.0
        self.decoded_frames = 0

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def frames(
        self,
        fps: float = DEFAULT_SAMPLE_FPS,
        *,
        should_stop: Callable[[], bool] | None = None,
    ) -> Iterator[VideoFrame]:
        if not (fps > 0 and math.isfinite(fps)):
            raise ValueError("fps must be a positive number")
        fps = min(fps, MAX_SAMPLE_FPS)
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"  # frame + slice threads: decoding is the cost we cannot skip
        if self.metadata.frame_rate and fps * 3 <= self.metadata.frame_rate:
            # Sampling one frame in three or fewer: frames no other frame refers to (most B-frames) need
            # not be decoded at all; a sample then lands at most a frame or two after its grid point.
            # Saves about a third of the decoding time on B-frame-heavy H.264.
            with contextlib.suppress(AttributeError, ValueError, av.error.FFmpegError):
                stream.codec_context.skip_frame = "NONREF"
        time_base: Fraction = stream.time_base or Fraction(1, 1000)
        start_pts = stream.start_time or 0
        duration_ms = max(self.metadata.duration_millis, 1)
        frame_ms = 1000.0 / (self.metadata.frame_rate or 25.0)
        step_ms = 1000.0 / fps
        next_ms = 0.0
        kept = 0
        corrupt = 0
        last_ms = -1
        seek_to: float | None = None
        last_seek = -1.0
        can_seek = True
        position = -1  # ms of the last frame decoded
        after_seek = False
        self.decoded_frames = 0
        try:
            while True:
                if seek_to is not None:
                    # Sparse sampling: jump to the keyframe before the next sample instead of decoding the
                    # whole gap. Each target is sought once, so a long GOP cannot loop.
                    target = start_pts + int(seek_to / 1000.0 / time_base)
                    self._container.seek(target, stream=stream, backward=True, any_frame=False)
                    last_seek, seek_to = seek_to, None
                    after_seek = True
                for frame in self._container.decode(stream):
                    self.decoded_frames += 1
                    if frame.pts is None:
                        ms = round((self.decoded_frames - 1) * frame_ms)
                    else:
                        ms = round(float((frame.pts - start_pts) * time_base) * 1000.0)
                    ms = max(ms, 0)
                    if after_seek:
                        after_seek = False
                        if ms <= position or last_seek - ms > SEEK_AHEAD_MS:
                            can_seek = False  # keyframes too far apart for seeking to gain anything
                    position = max(position, ms)
                    self.progress = min(ms / duration_ms, 1.0)
                    if ms + 0.5 < next_ms or ms <= last_ms:
                        seekable = can_seek and frame.pts is not None and next_ms != last_seek
                        if seekable and next_ms - ms > SEEK_AHEAD_MS:
                            seek_to = next_ms
                            break
                        continue  # dropped: no colour conversion
                    if getattr(frame, "is_corrupt", False):
                        corrupt += 1
                        continue
                    pixels = frame.to_ndarray(format="bgr24")
                    pixels = _rotate(pixels, getattr(frame, "rotation", 0) or 0)
                    # Keep the grid anchored at 0 so that sampling does not drift with frame jitter.
                    next_ms = (math.floor(ms / step_ms) + 1) * step_ms
                    last_ms = ms
                    kept += 1
                    yield VideoFrame(pixels=pixels, timestamp_ms=ms, frame_number=round(ms / frame_ms))
                    if should_stop is not None and should_stop():
                        return
                if seek_to is None:
                    break
        except av.error.FFmpegError as exc:
            where = f" after {position / 1000:.1f} s" if kept else ""
            raise VideoDecodeError(
                f"The video stream could not be decoded{where} ({_reason(exc)}); "
                "the file is truncated or corrupt."
            ) from None
        if kept == 0:
            if self.decoded_frames == 0:
                raise VideoDecodeError("The video holds no decodable frame (empty, truncated or corrupt).")
            raise VideoDecodeError(f"All {corrupt or self.decoded_frames} decoded frames were corrupt.")
        if position < self.metadata.duration_millis - max(2000, self.metadata.duration_millis // 20):
            # A file cut short (or damaged) decodes silently up to the damage: results that covered only
            # part of the video would read as "nobody else appears", so this is a failure, not a success.
            raise VideoDecodeError(
                f"The video stream ends at {position / 1000:.1f} s although the file says it lasts "
                f"{self.metadata.duration_millis / 1000:.1f} s; the file is truncated or corrupt."
            )
        self.progress = 1.0


def sample_frames(path: Path, fps: float = DEFAULT_SAMPLE_FPS) -> Iterator[VideoFrame]:
    """Convenience: open ``path`` and yield its sampled frames."""
    with VideoReader(path) as reader:
        yield from reader.frames(fps)
