"""Where stream processors write their records: the stand-ins for Kinesis data streams.

``regard serve --sink NAME=TARGET`` maps the data stream ``arn:aws:kinesis:REGION:ACCOUNT:stream/NAME``
to TARGET: a JSON-lines file (one record a line, appended, file mode 0600), or an http(s) URL that each
record is POSTed to as JSON. Webhook bodies are signed: header ``X-Regard-Signature: sha256=<hex>``, the
HMAC-SHA256 of the exact body bytes under the secret in the environment variable REGARD_SINK_SECRET
(required for webhook sinks; never logged). A webhook that fails is retried with backoff from a
background thread; records waiting beyond ``MAX_QUEUED`` are dropped (and counted), never a backlog
that grows without bound.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import queue
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import httpx

log = logging.getLogger(__name__)

SECRET_ENV = "REGARD_SINK_SECRET"
SIGNATURE_HEADER = "X-Regard-Signature"
MAX_QUEUED = 1000
ATTEMPTS = 5
FIRST_BACKOFF = 0.5
NAME = re.compile(r"[a-zA-Z0-9_.\-]{1,128}")  # Kinesis data stream names


class Sink(Protocol):
    target: str

    def write(self, record: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...


def signature(secret: bytes, body: bytes) -> str:
    """The value of the signature header for ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def encode(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), sort_keys=True).encode()


class JsonLinesSink:
    """Appends one JSON record per line; safe to share between processors."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.target = str(self.path)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with contextlib.suppress(PermissionError):
            os.fchmod(fd, 0o600)
        self._file = os.fdopen(fd, "ab")

    def write(self, record: Mapping[str, Any]) -> None:
        line = encode(record) + b"\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


class WebhookSink:
    """POSTs each record, signed, from a background thread with retries and backoff."""

    def __init__(self, url: str, secret: bytes, *, timeout: float = 5.0) -> None:
        self.url = url
        self.target = url
        self._secret = secret
        self._queue: queue.Queue[bytes | None] = queue.Queue(MAX_QUEUED)
        self._client = httpx.Client(timeout=timeout)
        self.delivered = 0
        self.dropped = 0
        self.failed = 0
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="regard-sink", daemon=True)
        self._thread.start()

    def write(self, record: Mapping[str, Any]) -> None:
        try:
            self._queue.put_nowait(encode(record))
        except queue.Full:
            self.dropped += 1

    def close(self, timeout: float = 10.0) -> None:
        self._closing.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(timeout)
        self._client.close()

    def _run(self) -> None:
        while True:
            body = self._queue.get()
            if body is None:
                return
            self._deliver(body)

    def _deliver(self, body: bytes) -> None:
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature(self._secret, body)}
        backoff = FIRST_BACKOFF
        for attempt in range(1, ATTEMPTS + 1):
            try:
                response = self._client.post(self.url, content=body, headers=headers)
                if response.status_code < 300:
                    self.delivered += 1
                    return
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    break  # the receiver refuses this record: retrying will not help
                problem = f"HTTP {response.status_code}"
            except httpx.HTTPError as error:
                problem = type(error).__name__
            if attempt < ATTEMPTS and not self._closing.wait(backoff):
                backoff *= 2
                continue
            if self._closing.is_set():
                break
        else:
            problem = "gave up"
        self.failed += 1
        log.warning("webhook sink %s: a record was not delivered (%s)", _host(self.url), problem)


def _host(url: str) -> str:
    return httpx.URL(url).host or "?"


def open_sink(target: str, environ: Mapping[str, str] = os.environ) -> Sink:
    """The sink for a ``--sink`` TARGET; ValueError with a reason if it cannot be used."""
    if target.lower().startswith(("http://", "https://")):
        secret = environ.get(SECRET_ENV, "")
        if not secret:
            raise ValueError(f"a webhook sink needs a signing secret: set {SECRET_ENV}")
        return WebhookSink(target, secret.encode())
    return JsonLinesSink(Path(target).expanduser())


def parse_mapping(value: str, what: str) -> tuple[str, str]:
    """``NAME=TARGET`` -> (NAME, TARGET), NAME a valid Kinesis stream name."""
    name, sep, target = value.partition("=")
    if not sep or not target or not NAME.fullmatch(name):
        raise ValueError(f"expected NAME={what} with NAME of letters, digits, '_', '.' or '-'")
    return name, target

