"""Verify AWS Signature Version 4 on every request; nothing else runs until this passes.

The request is rebuilt from the headers the client says it signed, botocore's ``SigV4Auth`` computes the
canonical request and the signature with the stored secret, and the two signatures are compared in constant
time. The payload hash is always taken over the bytes actually received, so a body changed in transit fails.
Errors carry AWS's names and wording, so SDKs and people recognise them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from regard.adapters.aws.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from regard.adapters.aws.model import SERVICE_NAME
from regard.store.records import AccessKeyRecord

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = dt.timedelta(minutes=15)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
BAD_TOKEN = "The security token included in the request is invalid."
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


@dataclass(frozen=True, slots=True)
class Authorization:
    """The parts of an ``Authorization: AWS4-HMAC-SHA256 ...`` header."""

    access_key_id: str
    date: str  # YYYYMMDD of the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What the verifier needs from an HTTP request; headers as (lower-case name, value) pairs in order."""

    method: str
    path: str  # raw path, as received
    query: str  # raw query string, as received
    headers: Sequence[tuple[str, str]]

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        return ",".join(values) if values else None


def parse_authorization(header: str | None) -> Authorization:
    """Split the header; a missing one is MissingAuthenticationToken, a malformed one IncompleteSignature."""
    if not header:
        raise MissingAuthenticationTokenException("Missing Authentication Token")
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignatureException(f"Unsupported authorization algorithm; use {ALGORITHM}.")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields[key] = value
    for required in ("Credential", "SignedHeaders", "Signature"):
        if not fields.get(required):
            raise IncompleteSignatureException(
                f"Authorization header requires '{required}' parameter. Authorization={ALGORITHM}"
            )
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        raise IncompleteSignatureException(
            "Credential should be scoped to a valid region, service and 'aws4_request' terminator."
        )
    signed = tuple(fields["SignedHeaders"].split(";"))
    return Authorization(scope[0], scope[1], scope[2], scope[3], signed, fields["Signature"])


def check_scope_and_time(auth: Authorization, amz_date: str | None, now: dt.datetime) -> dt.datetime:
    """The credential scope and the X-Amz-Date window (15 minutes either way), before any body is read."""
    if auth.service != SERVICE_NAME:
        raise InvalidSignatureException(f"Credential should be scoped to correct service: '{SERVICE_NAME}'. ")
    if "host" not in auth.signed_headers or "x-amz-date" not in auth.signed_headers:
        raise InvalidSignatureException("'Host' and 'X-Amz-Date' must be signed headers.")
    if not amz_date:
        raise IncompleteSignatureException("Authorization header requires existence of 'X-Amz-Date' header.")
    try:
        when = dt.datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=dt.UTC)
    except ValueError:
        raise IncompleteSignatureException(
            f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'."
        ) from None
    if auth.date != amz_date[:8]:
        raise InvalidSignatureException(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{auth.date}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    if when < now - MAX_SKEW:
        raise InvalidSignatureException(
            f"Signature expired: {amz_date} is now earlier than {(now - MAX_SKEW).strftime(_AMZ_DATE)} "
            f"({now.strftime(_AMZ_DATE)} - 15 min.)"
        )
    if when > now + MAX_SKEW:
        raise InvalidSignatureException(
            f"Signature not yet current: {amz_date} is still later than "
            f"{(now + MAX_SKEW).strftime(_AMZ_DATE)} "
            f"({now.strftime(_AMZ_DATE)} + 15 min.)"
        )
    return when


def lookup_key(auth: Authorization, get_key: Callable[[str], AccessKeyRecord | None]) -> AccessKeyRecord:
    """The stored key, or UnrecognizedClient for an unknown or revoked one (AWS says the same for both)."""
    record = get_key(auth.access_key_id)
    if record is None or record.revoked_at is not None:
        raise UnrecognizedClientException(BAD_TOKEN)
    return record


def verify_signature(auth: Authorization, request: SignedRequest, body: bytes, secret: str) -> None:
    """Recompute the signature over the signed headers and the received body; compare in constant time."""
    body_hash = hashlib.sha256(body).hexdigest()
    declared = request.header("x-amz-content-sha256")
    if declared is not None and not hmac.compare_digest(declared, body_hash):
        # UNSIGNED-PAYLOAD or a hash of some other body: the bytes received are not what was signed.
        raise InvalidSignatureException(_MISMATCH)
    headers: list[tuple[str, str]] = []
    for name in auth.signed_headers:
        value = request.header(name)
        if value is None:
            raise InvalidSignatureException(_MISMATCH)
        headers.append((name, value))
    url = "http://signed" + request.path + (f"?{request.query}" if request.query else "")
    rebuilt = AWSRequest(method=request.method, url=url, headers=dict(headers), data=body)
    rebuilt.context["timestamp"] = request.header("x-amz-date") or ""
    signer = SigV4Auth(Credentials(auth.access_key_id, secret), auth.service, auth.region)
    canonical = signer.canonical_request(rebuilt)
    if signer.signed_headers(signer.headers_to_sign(rebuilt)) != ";".join(auth.signed_headers):
        raise InvalidSignatureException(_MISMATCH)  # a header SigV4 never signs, or names out of order
    expected = signer.signature(signer.string_to_sign(rebuilt, canonical), rebuilt)
    if not hmac.compare_digest(expected.encode(), auth.signature.encode()):
        raise InvalidSignatureException(_MISMATCH)
