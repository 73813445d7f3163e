"""Image input as Rekognition takes it: every rejected case raises the Rekognition-named error."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from regard.errors import ImageTooLargeException, InvalidImageFormatException, InvalidParameterException
from regard.vision.image import MAX_IMAGE_BYTES, decode_image, read_image_file


def _encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def test_jpeg_decodes_to_bgr_upright(data_file) -> None:
    decoded = read_image_file(data_file("vision/obama.jpg"))
    assert decoded.format == "JPEG"
    assert (decoded.width, decoded.height) == (910, 1137)
    assert decoded.pixels.dtype == np.uint8 and decoded.pixels.shape == (1137, 910, 3)
    assert decoded.pixels.flags["C_CONTIGUOUS"]


def test_bgr_channel_order() -> None:
    red = Image.new("RGB", (100, 100), (255, 0, 0))
    decoded = decode_image(_encode(red, "PNG"))
    assert decoded.pixels[0, 0].tolist() == [0, 0, 255]


def test_empty_bytes() -> None:
    with pytest.raises(InvalidImageFormatException):
        decode_image(b"")


def test_garbage_bytes() -> None:
    with pytest.raises(InvalidImageFormatException):
        decode_image(b"this is not an image at all" * 100)


def test_truncated_jpeg(data_file) -> None:
    data = data_file("vision/obama.jpg").read_bytes()
    with pytest.raises(InvalidImageFormatException):
        decode_image(data[: len(data) // 2])


def test_gif_is_not_accepted() -> None:
    gif = _encode(Image.new("RGB", (100, 100), (10, 20, 30)), "GIF")
    with pytest.raises(InvalidImageFormatException):
        decode_image(gif)


def test_webp_named_jpeg_is_not_accepted() -> None:
    webp = _encode(Image.new("RGB", (100, 100), (10, 20, 30)), "WEBP")
    with pytest.raises(InvalidImageFormatException):
        decode_image(webp)


def test_over_5_mib_is_too_large() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (1400, 1400, 3), dtype=np.uint8)
    data = _encode(Image.fromarray(noise), "PNG")
    assert len(data) > MAX_IMAGE_BYTES
    with pytest.raises(ImageTooLargeException):
        decode_image(data)


def test_file_limit_is_15_mb(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(b"\x89PNG" + b"\0" * (15 * 1024 * 1024 + 1))
    with pytest.raises(ImageTooLargeException):
        read_image_file(path)


@pytest.mark.parametrize("size", [(79, 200), (200, 79)])
def test_under_80_px_a_side(size: tuple[int, int]) -> None:
    with pytest.raises(InvalidParameterException):
        decode_image(_encode(Image.new("RGB", size), "JPEG"))


def test_80_px_is_accepted() -> None:
    assert decode_image(_encode(Image.new("RGB", (80, 80)), "PNG")).width == 80


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def test_decompression_bomb_png_is_refused_from_its_header() -> None:
    # A few hundred bytes claiming 100,000 x 100,000 pixels: refused before any pixel is decoded.
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + _png_chunk(b"IEND", b"")
    )
    assert len(bomb) < 1000
    with pytest.raises(ImageTooLargeException):
        decode_image(bomb)


def test_exif_orientation_is_applied() -> None:
    # A landscape picture whose EXIF says "rotate 90 CW to view" (orientation 6): decoded upright as portrait.
    array = np.zeros((100, 200, 3), dtype=np.uint8)
    array[:, :100] = (255, 0, 0)  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _encode(Image.fromarray(array), "JPEG", exif=exif.tobytes(), quality=95)
    decoded = decode_image(data)
    assert (decoded.width, decoded.height) == (100, 200)
    assert decoded.exif_orientation == 6 and decoded.orientation_correction == "ROTATE_90"
    # Rotating 90 degrees clockwise puts the former left half on top.
    assert decoded.pixels[10, 50, 2] > 200 and decoded.pixels[190, 50, 2] < 50


def test_png_with_alpha_is_composited_on_white(data_file) -> None:
    decoded = read_image_file(data_file("vision/32bit.png"))
    assert decoded.format == "PNG" and decoded.pixels.shape == (1200, 626, 3)
    transparent = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    assert decode_image(_encode(transparent, "PNG")).pixels[0, 0].tolist() == [255, 255, 255]


def test_16_bit_grayscale_png_is_scaled() -> None:
    array = np.full((100, 100), 65535, dtype=np.uint16)
    array[:50] = 32896
    decoded = decode_image(_encode(Image.fromarray(array), "PNG"))
    assert decoded.pixels[0, 0].tolist() == [128, 128, 128]
    assert decoded.pixels[99, 0].tolist() == [255, 255, 255]


def test_palette_and_grayscale_pngs() -> None:
    palette = Image.new("RGB", (100, 100), (0, 128, 255)).convert("P", palette=Image.Palette.ADAPTIVE)
    assert decode_image(_encode(palette, "PNG")).pixels[0, 0].tolist() == [255, 128, 0]
    grey = Image.new("L", (100, 100), 77)
    assert decode_image(_encode(grey, "PNG")).pixels[0, 0].tolist() == [77, 77, 77]
