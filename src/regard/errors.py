"""Errors named as Amazon Rekognition names them.

Every layer raises these, so that the HTTP adapter can send them unchanged (``__type`` is the class
name) and boto3 raises the matching ``client.exceptions.<Name>``; the CLI and Python API show the
same names. ``status`` is the HTTP status Rekognition uses for that error.
"""

from __future__ import annotations

from typing import ClassVar


class RegardError(Exception):
    """Base of every error Regard reports to a caller; ``code`` is the Rekognition error name."""

    status: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        return type(self).__name__


class InvalidParameterException(RegardError):
    """An input violated a constraint, or an image that must hold a face holds none."""


class InvalidImageFormatException(RegardError):
    """The bytes are not an image Regard decodes (JPEG or PNG)."""


class ImageTooLargeException(RegardError):
    """The image is over the byte limit or the pixel limit."""


class InvalidS3ObjectException(RegardError):
    """An ``S3Object`` does not resolve to a readable file in a configured bucket folder."""


class ResourceNotFoundException(RegardError):
    """A collection, face, user or job does not exist."""


class ResourceAlreadyExistsException(RegardError):
    """A collection with that ID exists already."""


class ConflictException(RegardError):
    """A user exists already, or an update conflicts with the user's state."""


class ServiceQuotaExceededException(RegardError):
    """A size limit is reached (faces per user, faces per collection)."""


class IdempotentParameterMismatchException(RegardError):
    """A ClientRequestToken was reused with different parameters."""


class InvalidPaginationTokenException(RegardError):
    """A NextToken was not issued by this operation or has been tampered with."""


class AccessDeniedException(RegardError):
    """The caller's key may not run this operation."""


class ResourceInUseException(RegardError):
    """The resource is busy (a running stream processor cannot be deleted) or the name is taken."""


class LimitExceededException(RegardError):
    """Too many concurrent jobs."""


class VideoTooLargeException(RegardError):
    """The video is over the size or duration limit."""


class InternalServerError(RegardError):
    """Something failed inside Regard; details are logged, never sent."""

    status: ClassVar[int] = 500


class StorageFullError(InternalServerError):
    """The data volume is full: nothing of the request was stored. Sent as ``InternalServerError``.

    A server-side condition the operator must fix (not a quota the caller can be granted, so not
    ServiceQuotaExceededException); the message, unlike other internal errors, says what happened.
    """

    @property
    def code(self) -> str:
        return "InternalServerError"


class ThrottlingException(RegardError):
    """Regard is too busy to take the request now; retry later."""

    status: ClassVar[int] = 500


class ModelPackError(RegardError):
    """A model pack is missing, incomplete, or fails its hash check (a set-up error, not a request error)."""

    status: ClassVar[int] = 500
