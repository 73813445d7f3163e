"""An AWS CLI (v1) plugin that sends ``$REGARD_PURPOSE`` as the signed ``X-Regard-Purpose`` header.

Enable it in the AWS CLI's config file (``~/.aws/config``)::

    [plugins]
    regard_purpose = regard.adapters.aws.cli_plugin

then ``REGARD_PURPOSE="case 42" aws rekognition search-faces-by-image ... --endpoint-url http://...``.
The header is added on ``before-sign``, so SigV4 signs it; text outside printable ASCII (and ``%``) is
percent-encoded as UTF-8, the form the server decodes (see adapters/aws/purpose_header.py).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

ENV = "REGARD_PURPOSE"
_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


def encode_purpose(purpose: str) -> str:
    """``purpose`` as a header value: printable ASCII kept, everything else percent-encoded UTF-8."""
    return quote(purpose, safe=_SAFE, encoding="utf-8")


def add_purpose_header(request: Any, **_: Any) -> None:
    purpose = os.environ.get(ENV)
    if purpose:
        request.headers["X-Regard-Purpose"] = encode_purpose(purpose)


def awscli_initialize(cli: Any) -> None:
    """The AWS CLI's plugin entry point."""
    cli.register("before-sign.rekognition.*", add_purpose_header)
