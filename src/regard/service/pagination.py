"""Opaque, tamper-evident NextTokens.

A token carries the operation, a digest of what is listed (the collection) and where the next page
starts: the last key returned, or for keys too long to fit Rekognition's 255-character token, a count
of items already returned. It is signed with HMAC-SHA256 under a secret kept in the data folder, so a
token from another operation, collection or server, or one that was edited, is refused with
InvalidPaginationTokenException instead of silently paging wrongly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from regard.errors import InvalidPaginationTokenException

MAX_TOKEN_LENGTH = 255  # Rekognition's PaginationToken max length
_MAC_BYTES = 12
_LONGEST_KEY = 120  # leaves room for the MAC, the scope digest and base64 growth


class TokenSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def issue(self, operation: str, scope: str, after: str, *, position: int) -> str:
        """A token for the page after key ``after``, which is item number ``position`` (1-based)."""
        where: str | int = after if len(after) <= _LONGEST_KEY else position
        body = json.dumps([operation, _digest(scope), where], separators=(",", ":")).encode()
        mac = hmac.new(self._secret, body, hashlib.sha256).digest()[:_MAC_BYTES]
        return base64.urlsafe_b64encode(mac + body).decode().rstrip("=")

    def read(self, token: str, operation: str, scope: str) -> str | int:
        """The key after which the next page starts, or the number of items to skip."""
        try:
            if len(token) > MAX_TOKEN_LENGTH:
                raise ValueError("too long")
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            mac, body = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
            expected = hmac.new(self._secret, body, hashlib.sha256).digest()[:_MAC_BYTES]
            if not hmac.compare_digest(mac, expected):
                raise ValueError("bad mac")
            op, scope_digest, where = json.loads(body)
        except (ValueError, TypeError):
            raise InvalidPaginationTokenException("Invalid pagination token.") from None
        if op != operation or scope_digest != _digest(scope) or not isinstance(where, str | int):
            raise InvalidPaginationTokenException("The pagination token was issued for another request.")
        return where


def _digest(scope: str) -> str:
    return hashlib.sha256(scope.encode()).hexdigest()[:12]
