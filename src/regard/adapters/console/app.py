"""The console's routes: the page, its static files, sign-in/out, and the calls the page makes.

``POST /console/api/op/{Operation}`` takes the operation's Rekognition request as JSON (images as base64
``Bytes``, exactly as on the wire), parses and validates it with the same botocore model as SigV4 requests,
and runs it through ``Regard.invoke`` with the session key's ID and scope, so scopes and audit apply
unchanged. A purpose the user states travels in the ``X-Regard-Purpose`` header, encoded as on the wire
(the CSRF check covers it), into the request context: purpose-bound collections and audit see it as usual.
Only an allow-list of operations is reachable. Answers are the service's response plus, for matches, the
estimated false-match rate (the Python API's annotation), and for listings, the provenance the store
keeps (purpose, retention, source hash, who indexed a face and when, expiry).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from regard.adapters.aws import protocol
from regard.adapters.aws.app import Endpoint, Exchange
from regard.adapters.aws.model import operation_model
from regard.adapters.aws.purpose_header import HEADER as PURPOSE_HEADER
from regard.adapters.aws.purpose_header import decode_purpose
from regard.adapters.client import annotate_false_match_rates
from regard.adapters.console import sessions as s
from regard.adapters.console.provenance import ENRICH
from regard.adapters.console.security import SecurityHeaders, csrf_ok, same_origin
from regard.errors import AccessDeniedException, InternalServerError, RegardError
from regard.service.context import RequestContext
from regard.service.keys import create_key, list_keys, revoke_key
from regard.service.scopes import check_scope
from regard.service.users import MAX_FACES_PER_USER

if TYPE_CHECKING:
    from regard.service.app import Regard

log = logging.getLogger("regard.console")

STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "regard_console"
CSRF_HEADER = "x-csrf-token"
MAX_SIGN_IN_BODY = 4096
# What the page may call; anything else is refused before parsing.
OPERATIONS = frozenset(
    {
        "DetectFaces",
        "CompareFaces",
        "ListCollections",
        "DescribeCollection",
        "CreateCollection",
        "DeleteCollection",
        "IndexFaces",
        "ListFaces",
        "DeleteFaces",
        "SearchFaces",
        "SearchFacesByImage",
        "ListUsers",
        "CreateUser",
        "DeleteUser",
        "AssociateFaces",
        "DisassociateFaces",
        "SearchUsersByImage",
        "StartFaceSearch",
        "GetFaceSearch",
        "ListAuditRecords",
        "ListSubjectAuditRecords",  # admin keys only: the service checks the scope
        "RecognizeFaces",  # offered only when the server has it (feature-detected by the page)
        "ClusterFaces",  # "Find people" on a collection; needs an index key (the service checks the scope)
    }
)
# Console-only actions, checked against scopes like operations (only admin keys pass: no scope lists them).
VERIFY_AUDIT = "VerifyAuditLog"
MANAGE_KEYS = "ManageAccessKeys"


class ConsoleRefusal(Exception):
    """A refusal of the console itself (not signed in, CSRF, throttled); carries its HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Console:
    endpoint: Endpoint
    sessions: s.Sessions = field(default_factory=s.Sessions)
    failures: s.FailedSignIns = field(default_factory=s.FailedSignIns)

    @property
    def regard(self) -> Regard:
        return self.endpoint.regard

    # --- the page ----------------------------------------------------------------------------------
    async def index(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    # --- sessions ----------------------------------------------------------------------------------
    async def sign_in(self, request: Request) -> Response:
        return await self._answer(request, self._sign_in)

    async def _sign_in(self, request: Request, ex: Exchange) -> Response:
        if not same_origin(request):
            raise ConsoleRefusal(403, "CrossOriginRequest", "Sign-in from another site is refused.")
        body = await _json_body(request, MAX_SIGN_IN_BODY)
        key_id, secret = body.get("AccessKeyId"), body.get("SecretAccessKey")
        if not isinstance(key_id, str) or not isinstance(secret, str) or not key_id or not secret:
            raise ConsoleRefusal(400, "MissingCredentials", "Enter an access key ID and a secret access key.")
        key_id = key_id.strip()[:128]
        subjects = (f"key:{key_id}", f"client:{ex.client}")
        failures = self.failures.count(*subjects)
        if failures >= s.FAILURES_BEFORE_LOCK:
            raise ConsoleRefusal(
                429, "TooManyFailedSignIns", "Too many failed sign-ins. Wait 15 minutes and try again."
            )
        store = self.regard.store
        record = await self.endpoint.auth.run(lambda: store.get_key(key_id), self.endpoint.request_timeout)
        if record is not None:
            ex.access_key = key_id  # only a known ID is logged: a secret pasted in the wrong field is not
        key = s.check_secret(record, secret[:256])
        if key is None:
            self.failures.add(*subjects)
            await asyncio.sleep(s.delay_for(failures + 1))
            raise ConsoleRefusal(
                401,
                "WrongCredentials",
                "Sign-in failed: the access key ID or the secret access key is wrong, or the key is revoked.",
            )
        self.failures.clear(*subjects)
        session = self.sessions.create(key)
        ctx = self._context(session.access_key, key.scope, ex)
        await self.endpoint.models.run(
            lambda: self.regard.record(self.regard.audit_entry(ctx, "ConsoleSignIn")),
            self.endpoint.request_timeout,
        )
        response = _json(self._who(session, key.scope))
        response.set_cookie(
            COOKIE,
            session.session_id,
            max_age=int(self.sessions.lifetime),
            path="/console",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    async def whoami(self, request: Request) -> Response:
        async def run(request: Request, ex: Exchange) -> Response:
            if self.sessions.get(request.cookies.get(COOKIE)) is None:
                return _json({"SignedIn": False})  # not an error: the page asks this before signing in
            session, ctx = await self._authenticate(request, ex, changes_state=False)
            return _json(self._who(session, ctx.scope))

        return await self._answer(request, run)

    async def sign_out(self, request: Request) -> Response:
        async def run(request: Request, ex: Exchange) -> Response:
            session, _ = await self._authenticate(request, ex, changes_state=True)
            self.sessions.end(session.session_id)
            response = _json({"SignedOut": True})
            response.delete_cookie(COOKIE, path="/console", httponly=True, samesite="strict")
            return response

        return await self._answer(request, run)

    def _who(self, session: s.Session, scope: str) -> dict[str, Any]:
        allowed = []
        for name in sorted(OPERATIONS & self.regard.operations):
            try:
                check_scope(scope, name)
            except AccessDeniedException:
                continue
            allowed.append(name)
        admin = _allowed(scope, MANAGE_KEYS)
        return {
            "SignedIn": True,
            "AccessKeyId": session.access_key,
            "Scope": scope,
            "CsrfToken": session.csrf_token,
            "Operations": allowed,
            "Admin": admin,
            "Buckets": sorted(self.regard.buckets),
            # The service's own limit, so "Make user" offers a cluster's faces in one AssociateFaces call.
            "Limits": {"FacesPerUser": MAX_FACES_PER_USER},
        }

    # --- operations --------------------------------------------------------------------------------
    async def operation(self, request: Request) -> Response:
        async def run(request: Request, ex: Exchange) -> Response:
            _, ctx = await self._authenticate(request, ex, changes_state=True)
            name = request.path_params["name"]
            ex.operation = name[:64]
            op = operation_model(name) if name in OPERATIONS & self.regard.operations else None
            if op is None:
                raise ConsoleRefusal(404, "UnknownOperation", f"The console does not offer {name[:64]!r}.")
            stated = request.headers.get(PURPOSE_HEADER)
            if stated is not None:  # Starlette decodes headers as latin-1: encoding gives the bytes back
                ctx = dataclasses.replace(ctx, purpose=decode_purpose(stated.encode("latin-1")))
            params = protocol.parse_request(op, await self.endpoint._read_body(request))
            result = await self.endpoint.models.run(
                lambda: self._invoke(name, params, ctx), self.endpoint.request_timeout
            )
            return _json(result)

        return await self._answer(request, run)

    def _invoke(self, name: str, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        result = self.regard.invoke(name, params, ctx)
        annotate_false_match_rates(self.regard, result)
        enrich = ENRICH.get(name)
        return enrich(self.regard, params, result) if enrich else result

    async def verify_audit(self, request: Request) -> Response:
        async def run(request: Request, ex: Exchange) -> Response:
            _, ctx = await self._authenticate(request, ex, changes_state=False)
            ex.operation = VERIFY_AUDIT
            check_scope(ctx.scope, VERIFY_AUDIT)
            result = await self.endpoint.models.run(
                self.regard.store.verify_audit, self.endpoint.request_timeout
            )
            return _json(
                {
                    "Intact": result.ok,
                    "RecordsChecked": result.records_checked,
                    "FirstBadSequence": result.first_bad_seq,
                    "Reason": result.reason,
                }
            )

        return await self._answer(request, run)

    # --- keys (admin) ------------------------------------------------------------------------------
    async def keys(self, request: Request) -> Response:
        async def run(request: Request, ex: Exchange) -> Response:
            changes = request.method == "POST"
            _, ctx = await self._authenticate(request, ex, changes_state=changes)
            ex.operation = MANAGE_KEYS
            check_scope(ctx.scope, MANAGE_KEYS)
            store, timeout = self.regard.store, self.endpoint.request_timeout
            if not changes:
                records = await self.endpoint.auth.run(lambda: list_keys(store), timeout)
                return _json({"Keys": [_key_to_json(r) for r in records]})
            body = await _json_body(request, MAX_SIGN_IN_BODY)
            action = body.get("Action")
            if action == "Create":
                scope, name = body.get("Scope"), body.get("Name") or None
                if not isinstance(scope, str) or not (name is None or isinstance(name, str)):
                    raise ConsoleRefusal(400, "InvalidParameterException", "Scope and Name must be text.")
                record = await self.endpoint.auth.run(lambda: create_key(store, scope, name), timeout)
                self._record(ctx, "CreateAccessKey", new_key=record.access_key_id, scope=record.scope)
                return _json({**_key_to_json(record), "SecretAccessKey": record.secret_access_key})
            if action == "Revoke":
                key_id = body.get("AccessKeyId")
                if not isinstance(key_id, str):
                    raise ConsoleRefusal(400, "InvalidParameterException", "AccessKeyId must be text.")
                done = await self.endpoint.auth.run(lambda: revoke_key(store, key_id), timeout)
                self._record(ctx, "RevokeAccessKey", revoked_key=key_id, done=done)
                return _json({"Revoked": done})
            raise ConsoleRefusal(400, "InvalidParameterException", "Action must be Create or Revoke.")

        return await self._answer(request, run)

    def _record(self, ctx: RequestContext, operation: str, **details: Any) -> None:
        self.regard.record(self.regard.audit_entry(ctx, operation, **details))

    # --- plumbing ----------------------------------------------------------------------------------
    async def _authenticate(
        self, request: Request, ex: Exchange, *, changes_state: bool
    ) -> tuple[s.Session, RequestContext]:
        """The cookie's session and a context with its key's scope; CSRF-checked if it changes state."""
        session = self.sessions.get(request.cookies.get(COOKIE))
        if session is None:
            raise ConsoleRefusal(401, "NotSignedIn", "Your session has ended. Sign in again.")
        ex.access_key = session.access_key
        if changes_state and not (
            same_origin(request) and csrf_ok(session.csrf_token, request.headers.get(CSRF_HEADER))
        ):
            raise ConsoleRefusal(
                403, "CsrfCheckFailed", "The request lacks a valid CSRF token; reload the page."
            )
        store = self.regard.store
        key = await self.endpoint.auth.run(
            lambda: store.get_key(session.access_key), self.endpoint.request_timeout
        )
        if key is None or key.revoked_at is not None:
            self.sessions.end(session.session_id)
            raise ConsoleRefusal(401, "NotSignedIn", "This access key has been revoked. Sign in again.")
        return session, self._context(key.access_key_id, key.scope, ex)

    @staticmethod
    def _context(access_key: str, scope: str, ex: Exchange) -> RequestContext:
        return RequestContext(access_key=access_key, scope=scope, client=ex.client, request_id=ex.request_id)

    async def _answer(
        self, request: Request, handler: Callable[[Request, Exchange], Awaitable[Response]]
    ) -> Response:
        """Run ``handler``; refusals and Regard errors become JSON errors, anything else a request ID only."""
        ex = Exchange(client=request.client.host if request.client else "-")
        try:
            response = await handler(request, ex)
        except ConsoleRefusal as refusal:
            response = _error(refusal.status, refusal.code, refusal.message, ex)
        except RegardError as error:
            response = _error(error.status, error.code, error.message, ex)
        except Exception:
            log.exception("console failure", extra={"request_id": ex.request_id, "operation": ex.operation})
            error = InternalServerError("An internal error occurred. Quote the request ID when reporting it.")
            response = _error(error.status, error.code, error.message, ex)
        ex.status = response.status_code
        self.endpoint._log(ex)
        return response


def _allowed(scope: str, action: str) -> bool:
    try:
        check_scope(scope, action)
    except AccessDeniedException:
        return False
    return True


async def _json_body(request: Request, limit: int) -> dict[str, Any]:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ConsoleRefusal(413, "RequestTooLarge", "The request body is too large.")
    try:
        data = json.loads(body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ConsoleRefusal(400, "SerializationException", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ConsoleRefusal(400, "SerializationException", "The request body must be a JSON object.")
    return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _json(data: Any, status: int = 200) -> Response:
    body = json.dumps(data, default=_jsonable, separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json")


def _error(status: int, code: str, message: str, ex: Exchange) -> Response:
    ex.error = code
    return _json({"Code": code, "Message": message, "RequestId": ex.request_id}, status)


def _key_to_json(record: Any) -> dict[str, Any]:
    return {
        "AccessKeyId": record.access_key_id,
        "Scope": record.scope,
        "Name": record.name,
        "CreatedAt": record.created_at,
        "RevokedAt": record.revoked_at,
    }


def create_console(endpoint: Endpoint) -> Starlette:
    """The console app, to be mounted at ``/console`` next to the Rekognition endpoint."""
    console = Console(endpoint)
    routes = [
        Route("/", console.index, methods=["GET"]),
        Route("/api/session", console.sign_in, methods=["POST"]),
        Route("/api/session", console.whoami, methods=["GET"]),
        Route("/api/session", console.sign_out, methods=["DELETE"]),
        Route("/api/op/{name:str}", console.operation, methods=["POST"]),
        Route("/api/audit/verify", console.verify_audit, methods=["GET"]),
        Route("/api/keys", console.keys, methods=["GET", "POST"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.console = console
    app.add_middleware(SecurityHeaders)
    return app


async def redirect_to_console(request: Request) -> Response:
    """``/console`` -> ``/console/``, so relative links in the page resolve under it."""
    return RedirectResponse("/console/", status_code=308)
