"""Errors that exist only on the wire: AWS's request-level errors for auth, framing and validation.

The domain errors (``regard.errors``) come from the service; these come from the HTTP adapter before a
request reaches it. Names, statuses and messages follow what AWS sends, so clients' handling carries over.
"""

from __future__ import annotations

from typing import ClassVar

from regard.errors import RegardError


class ValidationException(RegardError):
    """A member violates a constraint of the model (max, pattern, enum...): AWS's wording and name."""


class SerializationException(RegardError):
    """The body is not JSON, or a member has the wrong JSON type."""


class UnknownOperationException(RegardError):
    """``X-Amz-Target`` names no operation this server offers."""


class RequestEntityTooLargeException(RegardError):
    """The body is over the server's cap; refused before it is read in full."""

    status: ClassVar[int] = 413


class MissingAuthenticationTokenException(RegardError):
    """The request is not signed."""

    status: ClassVar[int] = 403


class IncompleteSignatureException(RegardError):
    """The Authorization header is present but malformed."""

    status: ClassVar[int] = 403


class UnrecognizedClientException(RegardError):
    """The access key is unknown or revoked."""

    status: ClassVar[int] = 403


class InvalidSignatureException(RegardError):
    """The signature does not match, or its date is outside the allowed window."""

    status: ClassVar[int] = 403
