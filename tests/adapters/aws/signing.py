"""Raw requests signed by botocore's SigV4Auth, for what boto3 will not send (bad values, skew, tampering)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def sign(
    url: str,
    target: str,
    body: bytes | dict[str, Any],
    key_id: str,
    secret: str,
    *,
    when: dt.datetime | None = None,
    region: str = "us-east-1",
) -> tuple[dict[str, str], bytes]:
    """Headers and body of a POST to ``url`` signed now (or at ``when``, naive UTC)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = AWSRequest(
        method="POST",
        url=url,
        data=data,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": target,
            "Host": urlsplit(url).netloc,
        },
    )
    signer = SigV4Auth(Credentials(key_id, secret), "rekognition", region)
    if when is None:
        signer.add_auth(request)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            signer.add_auth(request)
    return dict(request.headers.items()), data


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
