"""Decoding stored video with PyAV: metadata, sampling, timestamps, limits, and broken files."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from regard.errors import VideoTooLargeException
from regard.vision.video import (
    MAX_VIDEO_BYTES,
    VideoDecodeError,
    VideoReader,
    check_video_limits,
    probe_video,
)


def test_metadata_of_the_clip(clip: Path) -> None:
    meta = probe_video(clip)
    assert meta.codec == "h264"
    assert meta.format == "QuickTime / MOV"
    assert (meta.frame_width, meta.frame_height) == (640, 360)
    assert meta.frame_rate == pytest.approx(29.97, abs=0.01)
    assert 9000 <= meta.duration_millis <= 10_100
    assert meta.color_range == "LIMITED"
    assert set(meta.as_dict()) == {
        "Codec", "DurationMillis", "Format", "FrameRate", "FrameHeight", "FrameWidth", "ColorRange",
    }


@pytest.mark.parametrize(("fps", "expected"), [(5.0, 46), (1.0, 10), (2.5, 23)])
def test_sampling_rate(clip: Path, fps: float, expected: int) -> None:
    with VideoReader(clip) as reader:
        frames = list(reader.frames(fps))
        assert reader.progress == 1.0
    stamps = [f.timestamp_ms for f in frames]
    assert abs(len(frames) - expected) <= 1
    assert stamps[0] == 0
    assert stamps == sorted(stamps)
    gaps = np.diff(stamps)
    assert gaps.min() >= 1000 / fps - 34 and gaps.max() <= 1000 / fps + 34  # within one source frame
    assert frames[0].pixels.shape == (360, 640, 3) and frames[0].pixels.dtype == np.uint8


def test_rate_above_the_source_gives_every_frame(clip: Path) -> None:
    with VideoReader(clip) as reader:
        assert len(list(reader.frames(60.0))) == 275


def test_frames_are_bgr(tmp_path: Path) -> None:
    path = tmp_path / "red.mp4"
    _write_video(path, [np.full((64, 64, 3), (0, 0, 255), np.uint8)] * 3, rate=Fraction(10))
    with VideoReader(path) as reader:
        pixels = next(iter(reader.frames(5))).pixels
    b, g, r = pixels[32, 32]
    assert r > 200 and b < 60 and g < 60


def test_truncated_video_is_a_clear_error(truncated: Path) -> None:
    with pytest.raises(VideoDecodeError, match="truncated or corrupt"), VideoReader(truncated) as reader:
        list(reader.frames())


def test_video_cut_short_is_an_error_not_a_partial_result(cut_short: Path) -> None:
    assert probe_video(cut_short).duration_millis > 9000  # the header is intact
    expected = r"ends at 4\.\d s .* lasts 9\.2 s; the file is truncated"
    with pytest.raises(VideoDecodeError, match=expected), VideoReader(cut_short) as reader:
        list(reader.frames())


def test_text_file_is_a_clear_error(not_video: Path) -> None:
    with pytest.raises(VideoDecodeError, match="not a video"):
        probe_video(not_video)


def test_still_image_is_not_a_video() -> None:
    portrait = Path(__file__).resolve().parents[1] / "data" / "video" / "lin-manuel-miranda.png"
    with pytest.raises(VideoDecodeError, match="still image"):
        probe_video(portrait)


def test_empty_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(VideoDecodeError):
        probe_video(path)


def test_over_10_gb_is_too_large(tmp_path: Path) -> None:
    path = tmp_path / "huge.mp4"
    with open(path, "wb") as handle:  # sparse: no disk used
        handle.truncate(MAX_VIDEO_BYTES + 1)
    with pytest.raises(VideoTooLargeException, match="10 GB"):
        check_video_limits(path)


def test_over_6_hours_is_too_large(tmp_path: Path) -> None:
    path = tmp_path / "long.mp4"
    frame = np.zeros((32, 32, 3), np.uint8)
    _write_video(path, [frame, frame], rate=Fraction(1, 3600 * 7))  # two frames, 7 hours apart
    assert probe_video(path).duration_millis > 6 * 3600 * 1000
    with pytest.raises(VideoTooLargeException, match="6 hours"):
        check_video_limits(path)


def test_unreadable_video_passes_limits_and_fails_later(not_video: Path) -> None:
    assert check_video_limits(not_video) is None  # the job is accepted, then FAILS with the reason
    assert os.path.getsize(not_video) > 0


def _write_video(path: Path, frames: list[np.ndarray], *, rate: Fraction, gop: int = 12) -> None:
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=rate)
        stream.codec_context.gop_size = gop
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        for i, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(pixels, format="bgr24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_sparse_sampling_seeks_instead_of_decoding_everything(clip: Path) -> None:
    with VideoReader(clip) as reader:
        stamps = [f.timestamp_ms for f in reader.frames(0.2)]
        assert reader.decoded_frames < 275 // 2
    assert stamps[0] == 0 and len(stamps) == 2 and 5000 <= stamps[1] <= 5100


def test_sparse_sampling_with_one_keyframe_does_not_loop(tmp_path: Path) -> None:
    path = tmp_path / "one_gop.mp4"
    frames = [np.full((32, 32, 3), i * 2, np.uint8) for i in range(100)]  # 10 s at 10 fps, GOP of 300
    _write_video(path, frames, rate=Fraction(10), gop=300)
    with VideoReader(path) as reader:
        stamps = [f.timestamp_ms for f in reader.frames(0.25)]
        assert reader.decoded_frames <= 110
    assert stamps == [0, 4000, 8000]
