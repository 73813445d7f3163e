"""Run the Rekognition endpoint under uvicorn: JSON logs, our own socket (port 0 works), graceful stop.

On SIGINT/SIGTERM uvicorn stops accepting, lets in-flight requests finish (up to ``grace`` seconds), runs
the app's shutdown (worker pools drained), and only then is ``regard`` closed, so no write is cut short;
the process then exits 0.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import ssl
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regard.adapters.aws.app import DEFAULT_MAX_BODY, create_app

if TYPE_CHECKING:
    from regard.service.app import Regard

log = logging.getLogger("regard.server")

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's terminal copy of the message
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in _STANDARD and v is not None})
        if record.exc_info:
            data["trace"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; binding here (not in uvicorn) lets us report the real port when asked for 0."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def run(
    regard: Regard,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    max_concurrency: int = 2,
    queue_limit: int = 64,
    request_timeout: float = 60.0,
    grace: int = 30,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    trusted_proxies: list[str] | None = None,
    rate_limit: float | None = None,
    bad_signature_limit: int = 5,
    bad_signature_backoff: float = 1.0,
) -> None:
    """Serve until a stop signal, then close ``regard``.

    With ``tls_cert`` and ``tls_key`` the port speaks HTTPS only (TLS 1.2 or newer): a plain-HTTP request
    fails the handshake and gets no answer. ``X-Forwarded-For`` is believed only from ``trusted_proxies``;
    otherwise the client address (used in logs, audit records and the bad-signature back-off) is the TCP peer.
    """
    import uvicorn

    from regard.adapters.aws import malloc

    malloc.tune()  # before the first image is decoded
    app = create_app(
        regard,
        max_body=max_body,
        max_concurrency=max_concurrency,
        queue_limit=queue_limit,
        request_timeout=request_timeout,
        rate_limit=rate_limit,
        bad_signature_limit=bad_signature_limit,
        bad_signature_backoff=bad_signature_backoff,
    )
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,  # our own structured line per request replaces it
        server_header=False,
        timeout_graceful_shutdown=grace,
        lifespan="on",
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=",".join(trusted_proxies or []) or None,
    )
    config.load()  # builds the SSL context now, so its floor can be raised before the first handshake
    if config.ssl is not None:
        config.ssl.minimum_version = ssl.TLSVersion.TLSv1_2
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    scheme = "https" if config.ssl is not None else "http"
    log.info("listening", extra={"url": f"{scheme}://{host}:{actual}", "port": actual})
    stops: list[int] = []
    previous = _catch_stop_signals(stops)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        regard.close()
        log.info("stopped", extra={"signals": [signal.Signals(s).name for s in stops]})


def _catch_stop_signals(stops: list[int]) -> dict[int, Any]:
    """Record SIGINT/SIGTERM instead of dying on them.

    uvicorn drains on a signal and then raises it again under the handler it found at start; with the
    default handler that would kill the process before ``regard.close()``. This handler only notes it.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {
        sig: signal.signal(sig, lambda s, _frame: stops.append(s)) for sig in (signal.SIGINT, signal.SIGTERM)
    }
