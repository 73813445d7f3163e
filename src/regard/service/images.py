"""Rekognition's ``Image`` parameter: raw ``Bytes``, or an ``S3Object`` read from a configured local folder.

Regard has no S3. An operator maps bucket names to folders (``--bucket photos=/srv/photos``); an object
name is a path inside that folder and can never leave it: absolute names, ``..`` and symbolic links are
refused, and the file is opened without following links.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from regard.errors import ImageTooLargeException, InvalidParameterException, InvalidS3ObjectException
from regard.vision.image import DecodedImage, decode_image

MAX_IMAGE_BYTES = 5 * 1024 * 1024  # Image.Bytes limit (the model's ImageBlob max)
MAX_S3_IMAGE_BYTES = 15 * 1024 * 1024  # Rekognition's limit for an image read from S3


def resolve_s3_object(s3: Mapping[str, Any], buckets: Mapping[str, Path]) -> Path:
    """The file an ``S3Object`` names, inside its bucket folder; InvalidS3ObjectException otherwise."""
    bucket = s3.get("Bucket")
    name = s3.get("Name")
    if not isinstance(bucket, str) or not isinstance(name, str) or not name:
        raise InvalidS3ObjectException("S3Object needs a Bucket and a Name.")
    root = buckets.get(bucket)
    if root is None:
        raise InvalidS3ObjectException(
            f"Unable to get object metadata from S3. Bucket {bucket!r} is not configured."
        )
    parts = PurePosixPath(name).parts
    if (
        name.startswith(("/", "\\"))
        or "\\" in name
        or any(part in ("..", ".") for part in parts)
        or not parts
    ):
        raise InvalidS3ObjectException(
            "Unable to get object metadata from S3. The object name is not allowed."
        )
    root = Path(root).resolve()
    path = root.joinpath(*parts)
    # Refuse any symbolic link on the way (not only at the end), so nothing can point out of the folder.
    current = root
    for part in parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except OSError:
            raise InvalidS3ObjectException(
                "Unable to get object metadata from S3. Check object key."
            ) from None
        if stat.S_ISLNK(mode):
            raise InvalidS3ObjectException("Unable to get object metadata from S3. The object is a link.")
    if not stat.S_ISREG(os.lstat(path).st_mode):
        raise InvalidS3ObjectException("Unable to get object metadata from S3. The object is not a file.")
    return path


def read_s3_object(s3: Mapping[str, Any], buckets: Mapping[str, Path], *, max_bytes: int) -> bytes:
    """The bytes of an ``S3Object``, opened without following links and capped at ``max_bytes``."""
    path = resolve_s3_object(s3, buckets)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        raise InvalidS3ObjectException("Unable to get object from S3.") from None
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageTooLargeException(f"The S3 object is larger than {max_bytes} bytes.")
    return data


def image_bytes(image: Any, buckets: Mapping[str, Path]) -> bytes:
    """The raw bytes of a Rekognition ``Image`` parameter (exactly one of Bytes or S3Object)."""
    if not isinstance(image, Mapping):
        raise InvalidParameterException("Image must be an object with Bytes or S3Object.")
    has_bytes = image.get("Bytes") is not None
    has_s3 = image.get("S3Object") is not None
    if has_bytes == has_s3:
        raise InvalidParameterException("Image must have exactly one of Bytes or S3Object.")
    if has_bytes:
        data = image["Bytes"]
        if not isinstance(data, bytes | bytearray):
            raise InvalidParameterException("Image.Bytes must be binary data.")
        if len(data) > MAX_IMAGE_BYTES:
            raise ImageTooLargeException(f"Image.Bytes is larger than {MAX_IMAGE_BYTES} bytes.")
        return bytes(data)
    return read_s3_object(image["S3Object"], buckets, max_bytes=MAX_S3_IMAGE_BYTES)


def load_image(image: Any, buckets: Mapping[str, Path]) -> tuple[DecodedImage, bytes]:
    """Decode a Rekognition ``Image`` parameter; returns the image and its raw bytes (for provenance)."""
    data = image_bytes(image, buckets)
    return decode_image(data, max_bytes=max(MAX_S3_IMAGE_BYTES, MAX_IMAGE_BYTES)), data
