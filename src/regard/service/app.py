"""The application object: one per data folder, shared by the Python API, the CLI and the HTTP server.

``Regard.invoke(operation, params, ctx)`` runs a Rekognition operation by name on request members
(blobs already as bytes) and returns the response body. Every call is checked against the caller's
scope and leaves an audit record, including calls that fail; an operation whose audit record cannot be
written fails too. State hangs off this object, never off modules.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regard.errors import InternalServerError, InvalidParameterException, RegardError
from regard.service import (
    analysis,
    audit_log,
    clustering,
    collections,
    indexing,
    recognizing,
    searching,
    subject_report,
    users,
)
from regard.service.auditing import append_or_fail, audit_entry
from regard.service.context import RequestContext
from regard.service.pagination import TokenSigner
from regard.service.periodic import PeriodicWorker
from regard.service.purpose import check_purpose
from regard.service.scopes import check_scope
from regard.store import open_store
from regard.store.base import Store
from regard.store.records import AuditEntry

if TYPE_CHECKING:
    from regard.vision.engine import FaceEngine

log = logging.getLogger(__name__)

Handler = Callable[["Regard", dict[str, Any], RequestContext], dict[str, Any]]

HANDLERS: dict[str, Handler] = {
    "DetectFaces": analysis.detect_faces,
    "CompareFaces": analysis.compare_faces,
    "CreateCollection": collections.create_collection,
    "DeleteCollection": collections.delete_collection,
    "ListCollections": collections.list_collections,
    "DescribeCollection": collections.describe_collection,
    "IndexFaces": indexing.index_faces,
    "ListFaces": indexing.list_faces,
    "DeleteFaces": indexing.delete_faces,
    "SearchFaces": searching.search_faces,
    "SearchFacesByImage": searching.search_faces_by_image,
    "CreateUser": users.create_user,
    "DeleteUser": users.delete_user,
    "ListUsers": users.list_users,
    "AssociateFaces": users.associate_faces,
    "DisassociateFaces": users.disassociate_faces,
    "SearchUsers": users.search_users,
    "SearchUsersByImage": users.search_users_by_image,
    audit_log.OPERATION: audit_log.list_audit_records,
    recognizing.OPERATION: recognizing.recognize_faces,
    subject_report.OPERATION: subject_report.list_subject_audit_records,
    clustering.OPERATION: clustering.cluster_faces,
}


class Regard:
    """Regard's operations over one store and one face engine."""

    def __init__(
        self,
        store: Store,
        *,
        data_dir: Path | None = None,
        engine: FaceEngine | None = None,
        engine_factory: Callable[[], FaceEngine] | None = None,
        buckets: Mapping[str, Path] | None = None,
        token_secret: bytes | None = None,
        region: str = "local",
        account: str = "000000000000",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.data_dir = data_dir
        self.buckets: dict[str, Path] = {name: Path(path) for name, path in (buckets or {}).items()}
        self.region = region
        self.account = account
        self.clock = clock
        self.tokens = TokenSigner(token_secret or secrets.token_bytes(32))
        self._engine = engine
        self._engine_factory = engine_factory
        self._engine_lock = threading.Lock()
        self._handlers: dict[str, Handler] = dict(HANDLERS)
        self._video_jobs: Any = None
        self._stream_processors: Any = None
        self._workers: list[Any] = []

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        engine: FaceEngine | None = None,
        buckets: Mapping[str, Path] | None = None,
        streams: Mapping[str, str] | None = None,
        sinks: Mapping[str, str] | None = None,
        database: str | None = None,
    ) -> Regard:
        """Open (creating if needed) the data folder ``data_dir``, or the PostgreSQL ``database`` (a URL):
        then every replica shares the store and the pagination-token key, and ``data_dir`` is not used.

        ``streams`` maps Kinesis video stream names to source URLs, ``sinks`` Kinesis data stream names
        to JSON-lines files or webhook URLs (``service.stream_processors``).
        """
        data_dir = Path(data_dir)
        store = open_store(data_dir, database=database)
        shared = getattr(store, "shared_secret", None)
        secret = shared("token.key", lambda: secrets.token_bytes(32)) if shared else _token_secret(data_dir)
        regard = cls(store, data_dir=data_dir, engine=engine, buckets=buckets, token_secret=secret)
        regard._attach_video_jobs(secret)
        regard.attach_stream_processors(streams, sinks)
        return regard

    # --- engine ----------------------------------------------------------------------------------
    @property
    def engine(self) -> FaceEngine:
        """The face engine, built on first use (model loading takes a second or two)."""
        if self._engine is None:
            with self._engine_lock:
                if self._engine is None:
                    if self._engine_factory is not None:
                        self._engine = self._engine_factory()
                    else:
                        from regard.vision.engine import FaceEngine

                        self._engine = FaceEngine()
        return self._engine

    # --- operations ------------------------------------------------------------------------------
    @property
    def operations(self) -> frozenset[str]:
        return frozenset(self._handlers)

    def register(self, operation: str, handler: Handler) -> None:
        """Add an operation (video jobs plug in this way)."""
        self._handlers[operation] = handler

    def invoke(
        self, operation: str, params: Mapping[str, Any], ctx: RequestContext | None = None
    ) -> dict[str, Any]:
        """Run ``operation`` with Rekognition request members ``params``; returns the response body."""
        ctx = ctx or RequestContext()
        handler = self._handlers.get(operation)
        if handler is None:
            raise InvalidParameterException(f"Regard does not offer the operation {operation!r}.")
        request = dict(params)
        try:
            check_scope(ctx.scope, operation)
            check_purpose(self.store, operation, request, ctx)
            return handler(self, request, ctx)
        except RegardError as error:
            self._audit_failure(operation, request, ctx, error)
            raise
        except Exception as error:
            log.exception("operation %s failed (request %s)", operation, ctx.request_id)
            failure = InternalServerError(f"Internal error; request id {ctx.request_id}.")
            self._audit_failure(operation, request, ctx, failure)
            raise failure from error

    # --- audit -----------------------------------------------------------------------------------
    def audit_entry(
        self, ctx: RequestContext, operation: str, collection_id: str | None = None, **details: Any
    ) -> AuditEntry:
        return audit_entry(ctx, operation, collection_id, **details)

    def record(self, entry: AuditEntry) -> None:
        """Append an audit record for an operation that changed nothing; failing to write fails the call."""
        append_or_fail(self.store, entry)

    def _audit_failure(
        self, operation: str, params: Mapping[str, Any], ctx: RequestContext, error: RegardError
    ) -> None:
        collection = params.get("CollectionId")
        entry = self.audit_entry(
            ctx,
            operation,
            collection if isinstance(collection, str) else None,
            outcome="error",
            error=error.code,
        )
        try:
            self.store.append_audit(entry)
        except Exception:
            log.exception("audit record for failed %s could not be written", operation)

    # --- video jobs and lifecycle ----------------------------------------------------------------
    def _attach_video_jobs(self, token_secret: bytes) -> None:
        from regard.service.images import resolve_s3_object
        from regard.service.video_jobs import VideoJobs

        jobs = VideoJobs(
            self.store,
            lambda: self.engine,
            lambda s3: resolve_s3_object(s3, self.buckets),
            token_secret=token_secret,
        )
        for operation, method in (
            ("StartFaceDetection", jobs.start_face_detection),
            ("GetFaceDetection", jobs.get_face_detection),
            ("StartFaceSearch", jobs.start_face_search),
            ("GetFaceSearch", jobs.get_face_search),
        ):
            self.register(operation, _bound(method))
        self._video_jobs = jobs

    def attach_stream_processors(
        self, streams: Mapping[str, str] | None, sinks: Mapping[str, str] | None, **options: Any
    ) -> Any:
        """Offer the stream-processor operations over these sources and sinks; returns their owner."""
        from regard.service.stream_processors import StreamProcessors

        if self._stream_processors is not None:
            self._stream_processors.shutdown()
        processors = StreamProcessors(self, streams, sinks, **options)
        processors.register()
        self._stream_processors = processors
        return processors

    def start_background_work(self, *, retention_interval: float = 3600.0) -> None:
        """What a long-running server does besides answering: resume video jobs, sweep expired faces.

        Only the server calls this, so a short CLI command never picks up (and then abandons) a job.
        """
        from regard.service.retention import RetentionWorker

        if self._video_jobs is not None:
            self._video_jobs.resume()
            lease = getattr(self.store, "job_lease", None)
            if lease is not None:  # replicas: take over the jobs of one that died, once its lease ran out
                takeover = PeriodicWorker("job-takeover", lease, self._video_jobs.resume)
                takeover.start()
                self._workers.append(takeover)
        if self._stream_processors is not None:
            self._stream_processors.resume()
        worker = RetentionWorker(self, interval=retention_interval)
        worker.start()
        self._workers.append(worker)

    def start_audit_anchoring(self, key: Any, target: str, *, interval: float) -> None:
        """Publish a signed anchor of the audit head to ``target`` every ``interval`` s (server only)."""
        from regard.service.audit_anchor import AnchorWorker

        worker = AnchorWorker(self.store, key, target, interval, data_dir=self.data_dir)
        worker.start()  # anchors at once: a bad target shows in the log at start, not an hour later
        self._workers.append(worker)

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()
        if self._video_jobs is not None:
            self._video_jobs.shutdown()
        if self._stream_processors is not None:
            self._stream_processors.shutdown()
        self.store.close()

    def __enter__(self) -> Regard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _bound(method: Callable[[dict[str, Any], RequestContext], dict[str, Any]]) -> Handler:
    def handler(_regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        return method(params, ctx)

    return handler


def _token_secret(data_dir: Path) -> bytes:
    """The pagination-token key, made once per data folder and readable by its owner only."""
    path = data_dir / "token.key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    secret = secrets.token_bytes(32)
    draft = data_dir / f".token.key.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(draft, path)  # atomic: a second process either wins or reads the complete winner
    except FileExistsError:
        secret = path.read_bytes()
    finally:
        draft.unlink()
    return secret
