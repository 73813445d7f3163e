"""The Starlette app: ``POST /`` speaks Rekognition's JSON 1.1; ``GET /health`` says when models are warm.

Every request goes through one short pipeline: authenticate (SigV4) -> read the body under a cap -> verify
the signature -> resolve the operation -> parse and validate -> dispatch to the service in a bounded worker
pool -> serialize. Errors leave as Rekognition errors; anything unexpected becomes InternalServerError with
only a request ID (the trace goes to the log). Model work never runs on the event loop, and the number of
requests waiting for a worker is bounded: past it the answer is ThrottlingException, not another thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from regard.adapters.aws import protocol, sigv4
from regard.adapters.aws.errors import (
    InvalidSignatureException,
    RequestEntityTooLargeException,
    UnrecognizedClientException,
)
from regard.adapters.aws.limits import KeyRateLimiter, SignatureBackoff
from regard.adapters.aws.purpose_header import HEADER as PURPOSE_HEADER
from regard.adapters.aws.purpose_header import read_purpose
from regard.errors import InternalServerError, RegardError, ThrottlingException
from regard.service.context import RequestContext

if TYPE_CHECKING:
    from regard.service.app import Regard

log = logging.getLogger("regard.server")
T = TypeVar("T")

DEFAULT_MAX_BODY = 16 * 1024 * 1024  # two 5 MiB images (CompareFaces) in base64, with room for JSON
_INTERNAL = "An internal error occurred. Quote the request ID when reporting it."


class WorkerPool:
    """A fixed number of worker threads plus a bounded queue; full means ThrottlingException at once."""

    def __init__(self, workers: int, queue_limit: int, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._capacity = workers + queue_limit
        self._busy = 0  # touched on the event-loop thread only

    async def run(self, fn: Callable[[], T], timeout: float) -> T:
        if self._busy >= self._capacity:
            raise ThrottlingException("Rate exceeded: too many requests are waiting; retry later.")
        self._busy += 1
        future = asyncio.get_running_loop().run_in_executor(self._pool, fn)
        future.add_done_callback(self._release)  # the slot stays taken until the work really ends
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            raise ThrottlingException(
                f"The request did not finish within {timeout:g} s; retry later."
            ) from None

    def _release(self, future: asyncio.Future[Any]) -> None:
        self._busy -= 1
        if not future.cancelled():
            future.exception()  # retrieved, so an abandoned failure is not reported twice

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)


@dataclass
class Exchange:
    """What the pipeline learns about one request; the log line is written from it at the end."""

    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.perf_counter)
    operation: str | None = None
    access_key: str | None = None
    client: str = "-"
    status: int = 200
    error: str | None = None


@dataclass
class Endpoint:
    """The Rekognition endpoint around one ``Regard``; holds the pools and the limits."""

    regard: Regard
    max_body: int
    request_timeout: float
    models: WorkerPool
    auth: WorkerPool
    rate_limit: float | None = None  # requests per second for keys without their own limit; None: none
    rates: KeyRateLimiter = field(default_factory=KeyRateLimiter)
    backoff: SignatureBackoff = field(default_factory=SignatureBackoff)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))

    async def handle(self, request: Request) -> Response:
        ex = Exchange(client=request.client.host if request.client else "-")
        try:
            status, headers, body = await self._pipeline(request, ex)
        except RegardError as error:
            if isinstance(error, (InvalidSignatureException, UnrecognizedClientException)):
                self.backoff.failed(ex.client)
            ex.error = error.code
            status, headers, body = protocol.error_response(error, ex.request_id)
        except Exception:
            log.exception(
                "unexpected failure", extra={"request_id": ex.request_id, "operation": ex.operation}
            )
            ex.error = "InternalServerError"
            status, headers, body = protocol.error_response(InternalServerError(_INTERNAL), ex.request_id)
        ex.status = status
        self._log(ex)
        return Response(body, status_code=status, headers=headers)

    async def _pipeline(self, request: Request, ex: Exchange) -> tuple[int, dict[str, str], bytes]:
        # 1. authenticate: header, scope and clock, then the key; nothing of the request is used before.
        self.backoff.check(ex.client)
        auth = sigv4.parse_authorization(request.headers.get("authorization"))
        ex.access_key = auth.access_key_id
        sigv4.check_scope_and_time(auth, request.headers.get("x-amz-date"), self.clock())
        if request.headers.get("x-amz-security-token") is not None:
            raise UnrecognizedClientException(sigv4.BAD_TOKEN)  # Regard issues no session tokens
        store = self.regard.store
        key = await self.auth.run(lambda: sigv4.lookup_key(auth, store.get_key), self.request_timeout)
        body = await self._read_body(request)
        signed = sigv4.SignedRequest(
            method=request.method,
            path=request.scope.get("raw_path", b"/").decode("latin-1") or "/",
            query=request.scope.get("query_string", b"").decode("latin-1"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]],
        )
        sigv4.verify_signature(auth, signed, body, key.secret_access_key)
        purpose = read_purpose(_raw_header(request, PURPOSE_HEADER), auth)
        self.backoff.succeeded(ex.client)
        self.rates.take(key.access_key_id, key.rate_limit if key.rate_limit is not None else self.rate_limit)
        # 2. the operation and its parameters, checked against the model.
        op = protocol.resolve_operation(request.headers.get("x-amz-target"), self.regard.operations)
        ex.operation = op.name
        params = protocol.parse_request(op, body)
        # 3. the service, off the event loop.
        ctx = RequestContext(
            access_key=key.access_key_id,
            scope=key.scope,
            client=ex.client,
            request_id=ex.request_id,
            purpose=purpose,
        )
        result = await self.models.run(lambda: self.regard.invoke(op.name, params, ctx), self.request_timeout)
        headers = {"Content-Type": protocol.CONTENT_TYPE, "x-amzn-RequestId": ex.request_id}
        return 200, headers, protocol.serialize_response(op, result)

    async def _read_body(self, request: Request) -> bytes:
        """The body, refused as soon as it passes the cap (by Content-Length, or while streaming)."""
        too_large = RequestEntityTooLargeException(f"The request body is over {self.max_body} bytes.")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            raise too_large
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    def _log(self, ex: Exchange) -> None:
        log.info(
            "request",
            extra={
                "request_id": ex.request_id,
                "operation": ex.operation,
                "status": ex.status,
                "error": ex.error,
                "latency_ms": round((time.perf_counter() - ex.started) * 1000, 1),
                "access_key": ex.access_key,
                "client": ex.client,
            },
        )

    async def health(self, request: Request) -> Response:
        if self.ready.is_set():
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "loading"}, status_code=503)

    async def warm(self) -> None:
        """Load the models before the first request, so /health means 'ready to answer quickly'."""
        try:
            await self.models.run(lambda: _warm(self.regard), timeout=3600)
            self.ready.set()
        except Exception:
            log.exception("warm-up failed; /health stays 503")


def _raw_header(request: Request, name: str) -> bytes | None:
    """A header's raw bytes (the first of that name), before any text decoding."""
    wanted = name.encode("latin-1")
    for key, value in request.scope["headers"]:
        if key.lower() == wanted:
            return bytes(value)
    return None


def _warm(regard: Regard) -> None:
    """``regard.warm_up()`` if offered, else build the engine and run its ``warm_up()``."""
    warm = getattr(regard, "warm_up", None)
    if callable(warm):
        warm()
        return
    engine_warm = getattr(regard.engine, "warm_up", None)
    if callable(engine_warm):
        engine_warm()


def create_app(
    regard: Regard,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    max_concurrency: int = 2,
    queue_limit: int = 64,
    request_timeout: float = 60.0,
    rate_limit: float | None = None,
    bad_signature_limit: int = 5,
    bad_signature_backoff: float = 1.0,
) -> Starlette:
    """The ASGI app; the caller owns ``regard`` (and closes it after the server has drained)."""
    endpoint = Endpoint(
        regard=regard,
        max_body=max_body,
        request_timeout=request_timeout,
        models=WorkerPool(max_concurrency, queue_limit, "regard-model"),
        auth=WorkerPool(1, 256, "regard-auth"),
        rate_limit=rate_limit,
        backoff=SignatureBackoff(free=bad_signature_limit, base=bad_signature_backoff),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        warming = asyncio.create_task(endpoint.warm())
        try:
            yield
        finally:
            await warming
            endpoint.models.shutdown()
            endpoint.auth.shutdown()

    from regard.adapters.console.app import create_console, redirect_to_console

    routes = [
        Route("/", endpoint.handle, methods=["POST"]),
        Route("/health", endpoint.health, methods=["GET"]),
        Route("/console", redirect_to_console, methods=["GET"]),
        Mount("/console", app=create_console(endpoint)),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.endpoint = endpoint
    return app
