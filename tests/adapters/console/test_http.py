"""The console's HTTP surface, in process: security headers, cookie flags, CSRF, sign-in refusals, expiry."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from regard.adapters.aws.app import create_app
from regard.adapters.console import sessions
from regard.adapters.console.app import Console
from regard.service.app import Regard
from regard.service.keys import create_key, revoke_key
from regard.service.purpose import REQUIRE_PURPOSE_TAG
from regard.store.records import AccessKeyRecord

ORIGIN = "http://testserver"


@pytest.fixture
def regard(tmp_path: Path) -> Iterator[Regard]:
    with Regard.open(tmp_path / "data") as opened:
        yield opened


@pytest.fixture
def app(regard: Regard) -> Starlette:
    return create_app(regard)


@pytest.fixture
def client(app: Starlette) -> TestClient:
    return TestClient(app, base_url=ORIGIN)


@pytest.fixture
def key(regard: Regard) -> AccessKeyRecord:
    return create_key(regard.store, "admin", "console test")


def console_of(app: Starlette) -> Console:
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/console")
    return mount.app.state.console  # type: ignore[attr-defined, no-any-return]


def sign_in(client: TestClient, key: AccessKeyRecord) -> str:
    response = client.post(
        "/console/api/session",
        json={"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key},
        headers={"Origin": ORIGIN},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["CsrfToken"])


def list_collections(client: TestClient, token: str | None, origin: str = ORIGIN) -> int:
    headers = {"Origin": origin}
    if token is not None:
        headers["X-CSRF-Token"] = token
    return client.post("/console/api/op/ListCollections", json={}, headers=headers).status_code


@pytest.mark.parametrize(
    "path", ["/console/", "/console/static/js/main.js", "/console/api/session", "/console/nope"]
)
def test_security_headers_on_every_response(client: TestClient, path: str) -> None:
    response = client.get(path)
    csp = response.headers["content-security-policy"]
    for directive in ("script-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    if path.startswith("/console/api/"):
        assert response.headers["cache-control"] == "no-store"


def test_page_has_no_inline_script_or_style(client: TestClient) -> None:
    html = client.get("/console/").text
    assert "<script" in html and "<script>" not in html and "style=" not in html and "<style" not in html
    assert client.get("/console", follow_redirects=False).headers["location"] == "/console/"


def test_session_cookie_flags(client: TestClient, key: AccessKeyRecord) -> None:
    response = client.post(
        "/console/api/session",
        json={"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key},
    )
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert f"Max-Age={sessions.LIFETIME_SECONDS}" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the TLS case below
    assert key.secret_access_key not in cookie and key.secret_access_key not in response.text


def test_cookie_is_secure_over_tls(app: Starlette, key: AccessKeyRecord) -> None:
    client = TestClient(app, base_url="https://testserver")
    response = client.post(
        "/console/api/session",
        json={"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key},
    )
    assert "Secure" in response.headers["set-cookie"]


def test_csrf_token_required_for_state_changes(client: TestClient, key: AccessKeyRecord) -> None:
    token = sign_in(client, key)
    assert list_collections(client, None) == 403
    assert list_collections(client, "wrong-" + token) == 403
    assert list_collections(client, token, origin="https://evil.example") == 403
    assert list_collections(client, token) == 200
    refused = client.delete("/console/api/session", headers={"Origin": ORIGIN})
    assert refused.status_code == 403 and refused.json()["Code"] == "CsrfCheckFailed"
    assert client.delete("/console/api/session", headers={"X-CSRF-Token": token}).status_code == 200
    assert list_collections(client, token) == 401  # signed out: the session is gone on the server


def test_wrong_unknown_and_revoked_keys_are_refused_alike(
    client: TestClient, regard: Regard, key: AccessKeyRecord
) -> None:
    other = create_key(regard.store, "detect")
    revoke_key(regard.store, other.access_key_id)
    attempts = [
        (key.access_key_id, "wrong-secret-0123456789"),
        ("AKIANOSUCHKEY0000000", key.secret_access_key),
        (other.access_key_id, other.secret_access_key),
    ]
    for key_id, secret in attempts:
        response = client.post(
            "/console/api/session", json={"AccessKeyId": key_id, "SecretAccessKey": secret}
        )
        assert response.status_code == 401
        assert response.json()["Message"].startswith("Sign-in failed")
        assert "set-cookie" not in response.headers
    assert client.post("/console/api/session", json={"AccessKeyId": key.access_key_id}).status_code == 400
    assert (
        client.post(
            "/console/api/session", content=b"[", headers={"Content-Type": "application/json"}
        ).status_code
        == 400
    )


def test_repeated_failures_lock_sign_in(client: TestClient, key: AccessKeyRecord) -> None:
    for _ in range(sessions.FAILURES_BEFORE_LOCK):
        wrong = {"AccessKeyId": key.access_key_id, "SecretAccessKey": "guess-0123456789abcdef"}
        assert client.post("/console/api/session", json=wrong).status_code == 401
    right = {"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key}
    locked = client.post("/console/api/session", json=right)
    assert locked.status_code == 429 and locked.json()["Code"] == "TooManyFailedSignIns"


def test_cross_site_sign_in_is_refused(client: TestClient, key: AccessKeyRecord) -> None:
    response = client.post(
        "/console/api/session",
        json={"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403


def test_session_expires_when_idle(app: Starlette, client: TestClient, key: AccessKeyRecord) -> None:
    now = [1_000_000.0]
    console_of(app).sessions.clock = lambda: now[0]
    token = sign_in(client, key)
    now[0] += sessions.IDLE_SECONDS - 60
    assert list_collections(client, token) == 200  # use restarts the idle clock
    now[0] += sessions.IDLE_SECONDS + 1
    response = client.post("/console/api/op/ListCollections", json={}, headers={"X-CSRF-Token": token})
    assert response.status_code == 401 and response.json()["Code"] == "NotSignedIn"
    assert client.get("/console/api/session").json() == {"SignedIn": False}


def test_session_lifetime_is_bounded(app: Starlette, client: TestClient, key: AccessKeyRecord) -> None:
    now = [1_000_000.0]
    console_of(app).sessions.clock = lambda: now[0]
    token = sign_in(client, key)
    while now[0] < 1_000_000.0 + sessions.LIFETIME_SECONDS:
        assert list_collections(client, token) == 200
        now[0] += 3600
    now[0] += 1
    assert list_collections(client, token) == 401


def test_revoking_the_key_ends_its_session(client: TestClient, regard: Regard, key: AccessKeyRecord) -> None:
    token = sign_in(client, key)
    assert list_collections(client, token) == 200
    revoke_key(regard.store, key.access_key_id)
    assert list_collections(client, token) == 401


def test_only_allowed_operations(client: TestClient, key: AccessKeyRecord) -> None:
    token = sign_in(client, key)
    headers = {"X-CSRF-Token": token}
    for name in ("SearchUsers", "DescribeProjects", "x" * 300):
        response = client.post(f"/console/api/op/{name}", json={}, headers=headers)
        assert response.status_code == 404 and response.json()["Code"] == "UnknownOperation"
    invalid = client.post(
        "/console/api/op/DescribeCollection", json={"CollectionId": "bad id!"}, headers=headers
    )
    assert invalid.status_code == 400 and invalid.json()["Code"] == "ValidationException"


def test_calls_are_audited_under_the_session_key(
    client: TestClient, regard: Regard, key: AccessKeyRecord
) -> None:
    token = sign_in(client, key)
    assert list_collections(client, token) == 200
    records = regard.store.list_audit(collection_id=None, since=None, after_seq=None, limit=100)
    mine = [(r.entry.operation, r.entry.access_key) for r in records]
    assert ("ConsoleSignIn", key.access_key_id) in mine
    assert ("ListCollections", key.access_key_id) in mine
    verified = client.get("/console/api/audit/verify").json()
    assert verified["Intact"] is True and verified["RecordsChecked"] >= 2


def test_keys_page_api_is_admin_only(client: TestClient, regard: Regard) -> None:
    detect = create_key(regard.store, "detect")
    token = sign_in(client, detect)
    assert client.get("/console/api/keys").status_code == 400  # AccessDeniedException: Rekognition's status
    assert client.get("/console/api/audit/verify").json()["Code"] == "AccessDeniedException"
    made = client.post(
        "/console/api/keys", json={"Action": "Create", "Scope": "admin"}, headers={"X-CSRF-Token": token}
    )
    assert made.json()["Code"] == "AccessDeniedException"


def test_static_files_ship_as_package_data() -> None:
    """Every file of the console is of a kind pyproject.toml ships, so ``pip install .`` carries it."""
    import tomllib

    from regard.adapters.console.app import STATIC

    root = Path(__file__).resolve().parents[3]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = {p.removeprefix("**/*") for p in patterns["regard"] if p.startswith("**/*.")}
    files = [p for p in STATIC.rglob("*") if p.is_file()]
    assert len(files) >= 10
    assert {p.suffix for p in files} <= shipped


# --- stated purposes (issue 16) ------------------------------------------------------------------------
DATA = Path(__file__).resolve().parents[2] / "data"
OBAMA, OBAMA2 = DATA / "vision" / "obama.jpg", DATA / "aws" / "obama2.jpg"


def console_op(
    client: TestClient, token: str, name: str, params: dict[str, Any], purpose: str | None = None
) -> Any:
    headers = {"X-CSRF-Token": token}
    if purpose is not None:
        headers["X-Regard-Purpose"] = purpose
    return client.post(f"/console/api/op/{name}", json=params, headers=headers)


def bound_collection(client: TestClient, token: str) -> str:
    """A purpose-bound collection made through the console, holding one face indexed as ``obama``."""
    made = console_op(
        client, token, "CreateCollection", {"CollectionId": "bound", "Tags": {REQUIRE_PURPOSE_TAG: "true"}}
    )
    assert made.status_code == 200, made.text
    image = {"Bytes": base64.b64encode(OBAMA.read_bytes()).decode()}
    indexed = console_op(
        client, token, "IndexFaces", {"CollectionId": "bound", "Image": image, "ExternalImageId": "obama"}
    )
    assert indexed.status_code == 200 and len(indexed.json()["FaceRecords"]) == 1, indexed.text
    return "bound"


def test_purpose_bound_collection_through_the_console(
    client: TestClient, regard: Regard, key: AccessKeyRecord
) -> None:
    token = sign_in(client, key)
    name = bound_collection(client, token)
    described = console_op(client, token, "DescribeCollection", {"CollectionId": name}).json()
    assert described["RegardRequirePurpose"] is True
    listed = console_op(client, token, "ListCollections", {}).json()["Collections"]
    assert [(c["CollectionId"], c["RequirePurpose"]) for c in listed] == [(name, True)]

    probe = OBAMA2.read_bytes()
    search = {"CollectionId": name, "Image": {"Bytes": base64.b64encode(probe).decode()}}
    refused = console_op(client, token, "SearchFacesByImage", search)
    assert refused.status_code == 400
    assert refused.json()["Code"] == "AccessDeniedException"
    assert "requires a stated purpose" in refused.json()["Message"]
    blank = console_op(client, token, "SearchFacesByImage", search, purpose="   ")
    assert blank.json()["Code"] == "AccessDeniedException"  # blank states nothing

    stated = "CASE-7: théft at gate 3"  # non-ASCII, percent-encoded as the page's encodeURIComponent does
    found = console_op(client, token, "SearchFacesByImage", search, purpose=quote(stated))
    assert found.status_code == 200, found.text
    assert found.json()["FaceMatches"][0]["Face"]["ExternalImageId"] == "obama"
    records = regard.store.list_audit(collection_id=name, since=None, after_seq=None, limit=100)
    searches = [r.entry for r in records if r.entry.operation == "SearchFacesByImage"]
    assert searches[-1].details["purpose"] == stated
    assert searches[-1].details["probe_sha256"] == hashlib.sha256(probe).hexdigest()
    assert searches[-1].access_key == key.access_key_id


@pytest.mark.parametrize("raw", ["line%0Abreak", "%FF%FE", "x" * 600])
def test_bad_purpose_is_refused(client: TestClient, key: AccessKeyRecord, raw: str) -> None:
    token = sign_in(client, key)
    response = console_op(client, token, "ListCollections", {}, purpose=raw)
    assert response.status_code == 400 and response.json()["Code"] == "InvalidParameterException"


def test_subject_report_through_the_console(client: TestClient, regard: Regard, key: AccessKeyRecord) -> None:
    token = sign_in(client, key)
    name = bound_collection(client, token)
    search = {"CollectionId": name, "Image": {"Bytes": base64.b64encode(OBAMA2.read_bytes()).decode()}}
    assert console_op(client, token, "SearchFacesByImage", search, purpose="CASE-8").status_code == 200
    subject = {"CollectionId": name, "ExternalImageId": "obama"}
    report = console_op(client, token, "ListSubjectAuditRecords", subject)
    assert report.status_code == 200, report.text
    roles = [(r["Operation"], r["Role"], r.get("Purpose")) for r in report.json()["Records"]]
    assert roles == [("IndexFaces", "CHANGED", None), ("SearchFacesByImage", "RETURNED", "CASE-8")]
    # Only admin keys may read it, through the console as anywhere else.
    search_key = create_key(regard.store, "search")
    other = TestClient(client.app, base_url=ORIGIN)
    refused = console_op(
        other, sign_in(other, search_key), "ListSubjectAuditRecords", {"CollectionId": name, "UserId": "u"}
    )
    assert refused.json()["Code"] == "AccessDeniedException"


def test_cluster_faces_needs_an_index_key(client: TestClient, regard: Regard, key: AccessKeyRecord) -> None:
    """Find people is offered to index keys and above; a search key is refused by the service anyway."""
    token = sign_in(client, key)
    name = "people"
    assert console_op(client, token, "CreateCollection", {"CollectionId": name}).status_code == 200
    for path, external in ((OBAMA, "obama-1"), (OBAMA2, "obama-2")):
        image = {"Bytes": base64.b64encode(path.read_bytes()).decode()}
        request = {"CollectionId": name, "Image": image, "ExternalImageId": external}
        indexed = console_op(client, token, "IndexFaces", request)
        assert indexed.status_code == 200, indexed.text
    clustered = console_op(client, token, "ClusterFaces", {"CollectionId": name})
    assert clustered.status_code == 200, clustered.text
    [cluster] = clustered.json()["Clusters"]
    by_face = {r.face_id: r.external_image_id for r in regard.store.list_faces(name, after=None, limit=10)}
    assert cluster["ExternalImageIds"] == [by_face[f] for f in cluster["FaceIds"]]
    assert sorted(cluster["ExternalImageIds"]) == ["obama-1", "obama-2"]
    assert cluster["RepresentativeExternalImageId"] == by_face[cluster["RepresentativeFaceId"]]

    for scope, offered in (("search", False), ("index", True)):
        other = TestClient(client.app, base_url=ORIGIN)
        other_token = sign_in(other, create_key(regard.store, scope))
        who = other.get("/console/api/session").json()
        assert ("ClusterFaces" in who["Operations"]) is offered
        assert who["Limits"]["FacesPerUser"] == 100
        answer = console_op(other, other_token, "ClusterFaces", {"CollectionId": name})
        if offered:
            assert answer.status_code == 200, answer.text
        else:
            assert answer.status_code == 400 and answer.json()["Code"] == "AccessDeniedException", answer.text
