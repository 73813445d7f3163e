"""SigV4 verification against requests signed by botocore itself."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from regard.adapters.aws import sigv4
from regard.adapters.aws.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from regard.store.records import AccessKeyRecord

KEY = AccessKeyRecord("AKIAEXAMPLE000000001", "s" * 40, "admin", None, 0.0)
NOW = dt.datetime(2026, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
BODY = b'{"CollectionId":"c"}'


def _signed(
    body: bytes = BODY,
    secret: str = KEY.secret_access_key,
    when: dt.datetime = NOW,
    region: str = "eu-west-3",
    service: str = "rekognition",
) -> tuple[str, sigv4.SignedRequest]:
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:8123/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "RekognitionService.DescribeCollection",
            "Host": "127.0.0.1:8123",
        },
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=when.replace(tzinfo=None)):
        SigV4Auth(Credentials(KEY.access_key_id, secret), service, region).add_auth(request)
    headers = [(k.lower(), v) for k, v in request.headers.items()]
    headers.append(("user-agent", "unsigned and ignored"))
    return request.headers["Authorization"], sigv4.SignedRequest("POST", "/", "", headers)


def _verify(
    authorization: str, request: sigv4.SignedRequest, body: bytes = BODY, now: dt.datetime = NOW
) -> None:
    auth = sigv4.parse_authorization(authorization)
    sigv4.check_scope_and_time(auth, request.header("x-amz-date"), now)
    key = sigv4.lookup_key(auth, {KEY.access_key_id: KEY}.get)
    sigv4.verify_signature(auth, request, body, key.secret_access_key)


def test_botocore_signature_verifies_in_any_region() -> None:
    for region in ("us-east-1", "eu-west-3", "local"):
        _verify(*_signed(region=region))


def test_wrong_secret() -> None:
    with pytest.raises(InvalidSignatureException, match="does not match"):
        _verify(*_signed(secret="x" * 40))


def test_body_changed_after_signing() -> None:
    with pytest.raises(InvalidSignatureException, match="does not match"):
        _verify(*_signed(), body=b'{"CollectionId":"d"}')


def test_signed_header_changed_after_signing() -> None:
    authorization, request = _signed()
    headers = [
        (k, "RekognitionService.DeleteCollection" if k == "x-amz-target" else v) for k, v in request.headers
    ]
    with pytest.raises(InvalidSignatureException):
        _verify(authorization, sigv4.SignedRequest("POST", "/", "", headers))


def test_declared_payload_hash_must_be_the_received_body() -> None:
    authorization, request = _signed()
    headers = [*request.headers, ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")]
    with pytest.raises(InvalidSignatureException):
        _verify(authorization, sigv4.SignedRequest("POST", "/", "", headers))


@pytest.mark.parametrize("minutes", [16, -16, 60 * 24])
def test_skew_over_fifteen_minutes(minutes: int) -> None:
    authorization, request = _signed(when=NOW - dt.timedelta(minutes=minutes))
    with pytest.raises(InvalidSignatureException, match=r"Signature (expired|not yet current)"):
        _verify(authorization, request)


def test_skew_within_fifteen_minutes() -> None:
    _verify(*_signed(when=NOW - dt.timedelta(minutes=14)))
    _verify(*_signed(when=NOW + dt.timedelta(minutes=14)))


def test_expired_message_is_aws_wording() -> None:
    authorization, request = _signed(when=NOW - dt.timedelta(minutes=20))
    with pytest.raises(InvalidSignatureException) as caught:
        _verify(authorization, request)
    assert caught.value.message == (
        "Signature expired: 20260501T114000Z is now earlier than 20260501T114500Z "
        "(20260501T120000Z - 15 min.)"
    )
    assert caught.value.status == 403


def test_other_service_in_scope() -> None:
    with pytest.raises(InvalidSignatureException, match="correct service"):
        _verify(*_signed(service="s3"))


def test_scope_date_must_match_amz_date() -> None:
    authorization, request = _signed()
    with pytest.raises(InvalidSignatureException, match="Date in Credential scope"):
        _verify(authorization.replace("/20260501/", "/20260430/"), request)


def test_unknown_key() -> None:
    authorization, request = _signed()
    with pytest.raises(
        UnrecognizedClientException, match="security token included in the request is invalid"
    ):
        _verify(authorization.replace(KEY.access_key_id, "AKIAUNKNOWN000000000"), request)


def test_revoked_key() -> None:
    revoked = AccessKeyRecord(KEY.access_key_id, KEY.secret_access_key, "admin", None, 0.0, revoked_at=1.0)
    auth = sigv4.parse_authorization(_signed()[0])
    with pytest.raises(UnrecognizedClientException):
        sigv4.lookup_key(auth, {KEY.access_key_id: revoked}.get)


@pytest.mark.parametrize("header", [None, ""])
def test_missing_authorization(header: str | None) -> None:
    with pytest.raises(MissingAuthenticationTokenException) as caught:
        sigv4.parse_authorization(header)
    assert caught.value.status == 403


@pytest.mark.parametrize(
    "header",
    [
        "Basic dXNlcjpwYXNz",
        "AWS4-HMAC-SHA256 Credential=AKIA/20260501/us-east-1/rekognition/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKIA/20260501/rekognition/aws4_request, SignedHeaders=host, "
        "Signature=ab",
    ],
)
def test_malformed_authorization(header: str) -> None:
    with pytest.raises(IncompleteSignatureException):
        sigv4.parse_authorization(header)
