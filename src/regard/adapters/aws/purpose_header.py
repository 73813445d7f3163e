"""The ``X-Regard-Purpose`` header: a stated purpose sent with a signed request.

On the wire the value is ASCII; any other text is percent-encoded UTF-8 (RFC 3986, ``%C3%A9`` for "é"),
so every HTTP client and proxy carries it unchanged; a literal ``%`` is written ``%25``. When present the
header MUST be one of the SigV4 signed headers (botocore signs every header it sends except a short
blacklist, so a boto3 ``before-sign`` hook that adds it gets it signed): otherwise a proxy could add,
change or strip the purpose that the audit record then attributes to the key's owner.
"""

from __future__ import annotations

from urllib.parse import unquote

from regard.adapters.aws.errors import InvalidSignatureException
from regard.adapters.aws.sigv4 import Authorization
from regard.errors import InvalidParameterException
from regard.service.purpose import validate_purpose

HEADER = "x-regard-purpose"


def read_purpose(raw: bytes | None, auth: Authorization) -> str | None:
    """The decoded, validated purpose of a request whose headers held ``raw`` (None: no header)."""
    if raw is None:
        return None
    if HEADER not in auth.signed_headers:
        raise InvalidSignatureException("'X-Regard-Purpose' must be a signed header when it is sent.")
    if not all(0x20 <= byte < 0x7F for byte in raw):
        raise InvalidParameterException(
            "X-Regard-Purpose must be printable ASCII; percent-encode other text as UTF-8."
        )
    try:
        text = unquote(raw.decode("ascii"), encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise InvalidParameterException("X-Regard-Purpose is not percent-encoded UTF-8.") from None
    return validate_purpose(text)
