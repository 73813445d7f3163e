"""Image bytes to pixels, with Rekognition's rules for what is accepted.

Rekognition takes JPEG and PNG only, at most 5 MiB as bytes (15 MB from S3), at least 80 px a side. Regard
adds a pixel-count limit checked from the header *before* the full decode, so a small file that claims huge
dimensions (a decompression bomb) never allocates its pixels. Truncated files are rejected, not silently
padded with grey, and the EXIF orientation is applied so that faces are upright as a viewer sees them.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from regard.errors import ImageTooLargeException, InvalidImageFormatException, InvalidParameterException

MAX_IMAGE_BYTES = 5 * 1024 * 1024
"""Rekognition's limit for ``Image.Bytes`` (5,242,880 bytes)."""

MAX_FILE_BYTES = 15 * 1024 * 1024
"""Rekognition's limit for an image read from S3; used for files on disk."""

MAX_PIXELS = 40_000_000
"""Largest pixel count decoded (40 MP: above any phone camera, far below what exhausts memory)."""

MIN_SIDE = 80
"""Rekognition's minimum image height and width in pixels."""

FORMATS = ("JPEG", "PNG")

# EXIF orientation tag -> Rekognition's OrientationCorrection name (the rotation that made it upright).
_ROTATION_NAMES = {
    1: "ROTATE_0",
    2: "ROTATE_0",
    3: "ROTATE_180",
    4: "ROTATE_180",
    5: "ROTATE_90",
    6: "ROTATE_90",
    7: "ROTATE_270",
    8: "ROTATE_270",
}


@dataclass(frozen=True, slots=True, eq=False)
class DecodedImage:
    """An upright image: ``pixels`` is an H x W x 3 uint8 array in **BGR** order (OpenCV's), C-contiguous.

    ``exif_orientation`` is the EXIF Orientation tag found in the file (1 when absent) and already applied to
    ``pixels``; ``orientation_correction`` names that rotation the way Rekognition does (``ROTATE_0`` ...).
    """

    pixels: NDArray[np.uint8]
    format: str
    exif_orientation: int = 1

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def orientation_correction(self) -> str:
        return _ROTATION_NAMES.get(self.exif_orientation, "ROTATE_0")


def decode_image(data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES) -> DecodedImage:
    """Decode JPEG or PNG bytes into an upright BGR image, raising the Rekognition error for bad input.

    Empty, undecodable, truncated or non-JPEG/PNG bytes raise InvalidImageFormatException; more than
    ``max_bytes`` or more than ``MAX_PIXELS`` pixels raise ImageTooLargeException; a side under 80 px raises
    InvalidParameterException.
    """
    if not data:
        raise InvalidImageFormatException("Request has invalid image format: the image is empty.")
    if len(data) > max_bytes:
        raise ImageTooLargeException(
            f"Image size is too large: {len(data)} bytes, the limit is {max_bytes} bytes."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
            return _decode_opened(image)
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        if isinstance(exc, Image.DecompressionBombError):
            raise ImageTooLargeException(f"Image has too many pixels: {exc}") from None
        raise InvalidImageFormatException(
            "Request has invalid image format: only JPEG and PNG are accepted."
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImageFormatException(f"Request has invalid image format: {exc}.") from None


def read_image_file(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES) -> DecodedImage:
    """Read and decode an image file; the default limit is Rekognition's 15 MB for S3 objects."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise ImageTooLargeException(
            f"Image size is too large: {size} bytes, the limit is {max_bytes} bytes."
        )
    return decode_image(path.read_bytes(), max_bytes=max_bytes)


def _decode_opened(image: Image.Image) -> DecodedImage:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageTooLargeException(
            f"Image has too many pixels: {width}x{height}, the limit is {MAX_PIXELS} pixels."
        )
    if min(width, height) < MIN_SIDE:
        raise InvalidParameterException(
            f"Image is too small: {width}x{height}, each side must be at least {MIN_SIDE} pixels."
        )
    fmt = str(image.format)
    orientation = int(image.getexif().get(0x0112, 1) or 1)
    image.load()  # full decode: raises OSError on truncated data
    upright = ImageOps.exif_transpose(image)
    rgb = _to_rgb(upright)
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    return DecodedImage(pixels=bgr, format=fmt, exif_orientation=orientation if 1 <= orientation <= 8 else 1)


def _to_rgb(image: Image.Image) -> NDArray[np.uint8]:
    """Any PNG/JPEG mode to an RGB uint8 array: 16-bit scaled down, transparency composited on white."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        wide = np.asarray(image, dtype=np.uint32)
        grey = (wide >> 8).astype(np.uint8) if wide.max(initial=0) > 255 else wide.astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if mode in ("LA", "La", "PA"):
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "RGBa"):
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image.convert("RGBA"))
    return np.asarray(image.convert("RGB"), dtype=np.uint8)
