"""The HTTP pipeline in-process, around a small stand-in service: auth first, caps, timeouts, errors, logs.

The end-to-end tests (test_server.py) run the real service; here the stand-in records whether it was
reached at all, which is what "nothing runs before auth" means.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from typing import Any

import pytest

with __import__("warnings").catch_warnings():  # Starlette's notice about httpx2 is not ours to act on
    __import__("warnings").simplefilter("ignore")
    from starlette.testclient import TestClient

from regard.adapters.aws.app import WorkerPool, create_app
from regard.errors import ResourceNotFoundException, ThrottlingException
from regard.service.context import RequestContext
from regard.store.records import AccessKeyRecord

from .signing import now_utc, sign

URL = "http://testserver/"
KEY = AccessKeyRecord("AKIAPIPELINE00000001", "pipeline-secret-0123456789abcdefghijklmn", "search", None, 0.0)


class _Store:
    def get_key(self, access_key_id: str) -> AccessKeyRecord | None:
        return KEY if access_key_id == KEY.access_key_id else None


class _Service:
    operations = frozenset({"DescribeCollection", "ListCollections"})

    def __init__(self) -> None:
        self.store = _Store()
        self.calls: list[tuple[str, dict[str, Any], RequestContext]] = []
        self.warmed = threading.Event()

    def warm_up(self) -> None:
        self.warmed.set()

    def invoke(self, operation: str, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        self.calls.append((operation, params, ctx))
        collection = params.get("CollectionId")
        if collection == "boom":
            raise RuntimeError("database password is hunter2")
        if collection == "missing":
            raise ResourceNotFoundException("The collection id: missing does not exist")
        if collection == "slow":
            time.sleep(1.0)
        return {"FaceCount": 2, "CreationTimestamp": 1700000000.5, "Internal": "never sent"}


@pytest.fixture
def service() -> _Service:
    return _Service()


@pytest.fixture
def client(service: _Service) -> Any:
    app = create_app(service, max_body=64 * 1024, request_timeout=0.3)  # type: ignore[arg-type]
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


def _post(client: Any, body: Any, *, target: str = "RekognitionService.DescribeCollection", **kw: Any) -> Any:
    headers, data = sign(
        URL, target, body, kw.pop("key_id", KEY.access_key_id), kw.pop("secret", KEY.secret_access_key), **kw
    )
    return client.post("/", content=data, headers=headers)


def test_signed_request_reaches_the_service_with_its_context(client: Any, service: _Service) -> None:
    response = _post(client, {"CollectionId": "c"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-amz-json-1.1"
    assert response.json() == {"FaceCount": 2, "CreationTimestamp": 1700000000.5}
    ((operation, params, ctx),) = service.calls
    assert (operation, params) == ("DescribeCollection", {"CollectionId": "c"})
    assert (ctx.access_key, ctx.scope, ctx.client) == (KEY.access_key_id, "search", "testclient")
    assert ctx.request_id == response.headers["x-amzn-requestid"]


def test_health_after_warm_up(client: Any, service: _Service) -> None:
    for _ in range(50):
        if client.get("/health").status_code == 200:
            break
        time.sleep(0.05)
    assert client.get("/health").json() == {"status": "ok"}
    assert service.warmed.is_set()


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"key_id": "AKIANOBODY0000000000"}, 403, "UnrecognizedClientException"),
        ({"secret": "wrong-secret-0123456789abcdefghijklmnopq"}, 403, "InvalidSignatureException"),
    ],
)
def test_auth_failures_never_reach_the_service(
    client: Any, service: _Service, kwargs: dict[str, str], status: int, code: str
) -> None:
    response = _post(client, {"CollectionId": "c"}, **kwargs)
    assert (response.status_code, response.json()["__type"]) == (status, code)
    assert response.headers["x-amzn-errortype"] == code
    assert service.calls == []


def test_unsigned_request(client: Any, service: _Service) -> None:
    response = client.post("/", content=b"{}", headers={"X-Amz-Target": "RekognitionService.ListCollections"})
    assert (response.status_code, response.json()["__type"]) == (403, "MissingAuthenticationTokenException")
    assert service.calls == []


def test_tampered_body(client: Any, service: _Service) -> None:
    headers, _ = sign(
        URL,
        "RekognitionService.DescribeCollection",
        {"CollectionId": "c"},
        KEY.access_key_id,
        KEY.secret_access_key,
    )
    response = client.post("/", content=json.dumps({"CollectionId": "d"}).encode(), headers=headers)
    assert response.json()["__type"] == "InvalidSignatureException"
    assert service.calls == []


def test_skewed_clock(client: Any, service: _Service) -> None:
    import datetime as dt

    response = _post(client, {"CollectionId": "c"}, when=now_utc() - dt.timedelta(minutes=16))
    assert response.status_code == 403
    assert response.json()["Message"].startswith("Signature expired: ")
    assert service.calls == []


def test_unknown_operation_after_auth(client: Any, service: _Service) -> None:
    response = _post(client, {}, target="RekognitionService.RecognizeCelebrities")
    assert (response.status_code, response.json()["__type"]) == (400, "UnknownOperationException")
    assert service.calls == []


def test_body_over_cap(client: Any, service: _Service) -> None:
    response = _post(client, {"CollectionId": "c" * 70_000})
    assert (response.status_code, response.json()["__type"]) == (413, "RequestEntityTooLargeException")
    assert service.calls == []


def test_validation_before_dispatch(client: Any, service: _Service) -> None:
    response = _post(client, {"CollectionId": "no spaces"})
    assert (response.status_code, response.json()["__type"]) == (400, "ValidationException")
    assert service.calls == []


def test_service_errors_pass_through(client: Any) -> None:
    response = _post(client, {"CollectionId": "missing"})
    assert (response.status_code, response.json()["__type"]) == (400, "ResourceNotFoundException")


def test_unexpected_failure_sends_only_a_request_id(client: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="regard.server")
    response = _post(client, {"CollectionId": "boom"})
    assert (response.status_code, response.json()["__type"]) == (500, "InternalServerError")
    assert "hunter2" not in response.text
    request_id = response.headers["x-amzn-requestid"]
    assert response.json()["Logref"] == request_id
    assert any(r.exc_info and getattr(r, "request_id", None) == request_id for r in caplog.records)


def test_timeout_answers_without_waiting(client: Any) -> None:
    started = time.perf_counter()
    response = _post(client, {"CollectionId": "slow"})
    assert time.perf_counter() - started < 0.9
    assert (response.status_code, response.json()["__type"]) == (500, "ThrottlingException")


def test_log_line_per_request_without_secrets_or_images(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="regard.server")
    _post(client, {"CollectionId": "c"})
    _post(client, {"CollectionId": "c"}, secret="wrong-secret-0123456789abcdefghijklmnopq")
    lines = [r for r in caplog.records if r.getMessage() == "request"]
    assert [(r.status, r.operation, r.access_key) for r in lines] == [  # type: ignore[attr-defined]
        (200, "DescribeCollection", KEY.access_key_id),
        (403, None, KEY.access_key_id),
    ]
    text = caplog.text + " ".join(json.dumps(vars(r), default=str) for r in caplog.records)
    assert KEY.secret_access_key not in text and "Signature=" not in text


def test_pool_throttles_when_queue_is_full() -> None:
    async def scenario() -> None:
        pool = WorkerPool(workers=1, queue_limit=1, name="t")
        first = asyncio.create_task(pool.run(lambda: time.sleep(0.3), timeout=5))
        second = asyncio.create_task(pool.run(lambda: time.sleep(0.01), timeout=5))
        await asyncio.sleep(0.05)
        with pytest.raises(ThrottlingException):
            await pool.run(lambda: None, timeout=5)
        await asyncio.gather(first, second)
        await pool.run(lambda: None, timeout=5)  # free again
        pool.shutdown()

    asyncio.run(scenario())
