"""Stored-video jobs: StartFaceDetection / GetFaceDetection and StartFaceSearch / GetFaceSearch.

A Start call checks its parameters, resolves the video (an ``S3Object`` in a configured bucket folder),
enforces Rekognition's limits (10 GB, 6 hours), records the job in the store with its audit record in
the same transaction, and queues it on a bounded thread pool; it returns the JobId at once. The job
decodes frames sampled at ``sample_fps`` (5 a second by default), detects faces, and for face search
follows each face across frames (``vision.tracking``) so that a face is embedded a few times per
appearance rather than every frame; each track's quality-weighted mean embedding is searched in the
collection, and every timestamp of the track carries that track's matches. The result is stored with
the job (``store.update_job``), so a Get call only pages through it.

Jobs survive restarts: ``resume()`` (run at start-up) re-queues every job the store holds as
IN_PROGRESS; one whose video or collection is gone is marked FAILED with the reason. ``shutdown()``
stops running jobs between frames and leaves them IN_PROGRESS for the next ``resume()``.

Deviations from Rekognition, on purpose: ``Person.BoundingBox`` is the face's box (Regard detects
faces, not bodies); persons that match nobody are listed with an empty ``FaceMatches``; keys with a
scope other than ``admin`` read only the jobs they started; NotificationChannel (SNS) is accepted and
ignored (poll GetFaceDetection / GetFaceSearch instead).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from regard.errors import (
    IdempotentParameterMismatchException,
    InvalidPaginationTokenException,
    InvalidParameterException,
    InvalidS3ObjectException,
    LimitExceededException,
    RegardError,
    ResourceNotFoundException,
)
from regard.service import params as p
from regard.service.auditing import Matched, append_or_fail, audit_entry, probe_details, sha256_file
from regard.service.context import RequestContext
from regard.service.pagination import TokenSigner
from regard.service.purpose import check_purpose
from regard.service.scopes import check_scope
from regard.store.records import AuditEntry, JobRecord
from regard.vision.tracking import Track, Tracker
from regard.vision.video import (
    DEFAULT_SAMPLE_FPS,
    MAX_SAMPLE_FPS,
    VideoDecodeError,
    VideoMetadata,
    VideoReader,
    check_video_limits,
)

if TYPE_CHECKING:
    from regard.store.base import Store
    from regard.vision.engine import FaceEngine
    from regard.vision.face import Face

log = logging.getLogger(__name__)

FACE_DETECTION = "FaceDetection"
FACE_SEARCH = "FaceSearch"
IN_PROGRESS, SUCCEEDED, FAILED = "IN_PROGRESS", "SUCCEEDED", "FAILED"
DEFAULT_THRESHOLD = 80.0
MAX_RESULTS = 1000  # Rekognition: MaxResults default and maximum for the video Get operations
MAX_MATCHES_PER_PERSON = 10
MAX_QUEUED_JOBS = 20  # Rekognition's historical default of 20 concurrent stored-video jobs
MAX_FACES_PER_FRAME = 100
JOB_TAG = re.compile(r"[a-zA-Z0-9_.\-:+=\/]+")
JOB_ID = p.CLIENT_REQUEST_TOKEN
SAMPLE_FPS_KEY = "RegardSampleFps"  # kept in the job's params; not a Rekognition member
PROBE_KEY = "_probe_sha256"  # the searched video's hash, kept with the job for its finished record
PURPOSE_KEY = "_purpose"  # the purpose stated at StartFaceSearch, likewise

Progress = Callable[[float], None]
StopFlag = Callable[[], bool]


# =================================================================================================
# The pipelines (also used in-process by the CLI and the benchmark)
# =================================================================================================
@dataclass(slots=True)
class VideoStats:
    """What a pipeline run cost: frames sampled, faces detected, embeddings computed, seconds spent."""

    frames_sampled: int = 0
    faces_detected: int = 0
    embeddings: int = 0
    tracks: int = 0
    persons: int = 0
    seconds: float = 0.0
    detect_seconds: float = 0.0
    embed_seconds: float = 0.0


@dataclass(slots=True)
class TrackedVideo:
    """Output of ``track_video``: the tracks, a FaceDetail per tracked face, metadata and costs."""

    metadata: VideoMetadata
    tracks: list[Track]
    details: dict[int, dict[str, Any]] = field(default_factory=dict)  # id(Face) -> FaceDetail
    stats: VideoStats = field(default_factory=VideoStats)


def _frame_image(pixels: np.ndarray) -> Any:
    from regard.vision.image import DecodedImage

    return DecodedImage(pixels=pixels, format="VIDEO")


def _face_detail(face: Face, image: Any) -> dict[str, Any]:
    """DetectFaces' FaceDetail (``service.faces``): 30 landmark types when the face carries 106 landmarks
    (FaceAttributes ALL), else the 5 of DEFAULT."""
    from regard.service.faces import face_detail

    return face_detail(face, image)


def _detected_frames(
    reader: VideoReader,
    engine: FaceEngine,
    stats: VideoStats,
    fps: float,
    progress: Progress | None,
    should_stop: StopFlag | None,
    *,
    landmarks: bool = False,
) -> Iterator[tuple[int, Any, list[Face]]]:
    """(timestamp ms, image, faces) for each sampled frame, counting detection costs in ``stats``;
    ``landmarks`` runs the 106-point model (FaceAttributes ALL), as DetectFaces does for Attributes ALL."""
    for frame in reader.frames(fps, should_stop=should_stop):
        image = _frame_image(frame.pixels)
        t0 = time.perf_counter()
        faces = engine.detect(image, max_faces=MAX_FACES_PER_FRAME, landmarks=landmarks)
        stats.detect_seconds += time.perf_counter() - t0
        stats.frames_sampled += 1
        stats.faces_detected += len(faces)
        yield frame.timestamp_ms, image, faces
        if progress is not None:
            progress(reader.progress)


def detect_video(
    path: Path,
    engine: FaceEngine,
    *,
    fps: float = DEFAULT_SAMPLE_FPS,
    progress: Progress | None = None,
    should_stop: StopFlag | None = None,
    attributes: str = "DEFAULT",
) -> tuple[VideoMetadata, list[dict[str, Any]], VideoStats]:
    """Faces in each sampled frame: (metadata, ``[{Timestamp, Face: FaceDetail}]`` in time order, stats).

    ``attributes`` is StartFaceDetection's FaceAttributes: ALL gives each FaceDetail the 30 landmark types
    of DetectFaces ALL (the 106-point model runs only then); DEFAULT the 5 keypoint types.
    """
    stats = VideoStats()
    started = time.perf_counter()
    faces_out: list[dict[str, Any]] = []
    with VideoReader(path) as reader:
        for timestamp, image, faces in _detected_frames(
            reader, engine, stats, fps, progress, should_stop, landmarks=attributes == "ALL"
        ):
            faces_out.extend({"Timestamp": timestamp, "Face": _face_detail(face, image)} for face in faces)
        metadata = reader.metadata
    stats.seconds = time.perf_counter() - started
    return metadata, faces_out, stats


def track_video(
    path: Path,
    engine: FaceEngine,
    *,
    fps: float = DEFAULT_SAMPLE_FPS,
    tracker: Tracker | None = None,
    progress: Progress | None = None,
    should_stop: StopFlag | None = None,
) -> TrackedVideo:
    """Detect, track and sparsely embed the faces of a video."""
    tracker = tracker or Tracker()
    stats = VideoStats()
    details: dict[int, dict[str, Any]] = {}
    started = time.perf_counter()
    with VideoReader(path) as reader:
        for timestamp, image, faces in _detected_frames(reader, engine, stats, fps, progress, should_stop):
            for face in faces:
                details[id(face)] = _face_detail(face, image)
            requests = tracker.update(timestamp, faces)
            if requests:
                t0 = time.perf_counter()
                vectors = engine.embed(image, [r.face for r in requests])
                stats.embed_seconds += time.perf_counter() - t0
                stats.embeddings += len(requests)
                for request, vector in zip(requests, vectors, strict=True):
                    tracker.add_embedding(request, vector)
        metadata = reader.metadata
    tracks = tracker.finish()
    stats.tracks = len(tracks)
    stats.persons = len({t.person_index for t in tracks})
    stats.seconds = time.perf_counter() - started
    return TrackedVideo(metadata=metadata, tracks=tracks, details=details, stats=stats)


def search_tracks(
    store: Store,
    collection_id: str,
    tracked: TrackedVideo,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    max_matches: int = MAX_MATCHES_PER_PERSON,
) -> list[dict[str, Any]]:
    """Rekognition ``Persons`` (PersonMatch items) in timestamp order, then by Person Index."""
    from regard.service.common import face_to_wire
    from regard.vision.similarity import cosine_from_similarity, similarity_from_cosine

    # One search per person: the quality-weighted mean of all its tracks' embeddings.
    by_person: dict[int, list[Track]] = {}
    for track in tracked.tracks:
        by_person.setdefault(track.person_index, []).append(track)
    person_matches: dict[int, list[dict[str, Any]]] = {}
    min_cosine = float(cosine_from_similarity(threshold))
    for index, tracks in by_person.items():
        vectors = [(v, w) for t in tracks for _, v, w in t.embeddings]
        if not vectors:
            person_matches[index] = []
            continue
        mean = np.sum([v * max(w, 1e-6) for v, w in vectors], axis=0)
        mean = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
        found = store.search_faces(collection_id, mean, max_results=max_matches, min_cosine=min_cosine)
        matches = []
        for record, cosine in found:
            similarity = float(similarity_from_cosine(cosine))
            if similarity >= threshold:
                matches.append({"Similarity": round(similarity, 5), "Face": face_to_wire(record)})
        person_matches[index] = matches
    persons: list[dict[str, Any]] = []
    for track in tracked.tracks:
        for point in track.points:
            detail = tracked.details.get(id(point.face))
            if detail is None:
                continue
            persons.append(
                {
                    "Timestamp": point.timestamp_ms,
                    "Person": {
                        "Index": track.person_index,
                        "BoundingBox": detail["BoundingBox"],
                        "Face": detail,
                    },
                    "FaceMatches": person_matches[track.person_index],
                }
            )
    persons.sort(key=lambda item: (item["Timestamp"], item["Person"]["Index"]))
    return persons


# =================================================================================================
# The jobs
# =================================================================================================
def _digest(params: Mapping[str, Any]) -> str:
    relevant = {k: v for k, v in params.items() if k != "ClientRequestToken"}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()


class _Stopped(Exception):
    """The service is shutting down; the job stays IN_PROGRESS for the next resume()."""


class VideoJobs:
    """The four stored-video operations, over one store, one engine and a bounded pool of job threads.

    ``engine_provider`` is called in job threads (and at StartFaceSearch, for the model version), so
    the engine may load lazily; ``resolve_video`` maps an ``S3Object`` dict to a local file or raises
    InvalidS3ObjectException. ``token_secret`` signs NextTokens; pass the server's persistent secret so
    that tokens outlive a restart (a random one is used otherwise).
    """

    def __init__(
        self,
        store: Store,
        engine_provider: Callable[[], FaceEngine],
        resolve_video: Callable[[dict[str, Any]], Path],
        *,
        max_concurrent_jobs: int = 1,
        max_queued_jobs: int = MAX_QUEUED_JOBS,
        sample_fps: float = DEFAULT_SAMPLE_FPS,
        token_secret: bytes | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_concurrent_jobs < 1:
            raise ValueError("max_concurrent_jobs must be at least 1")
        self.store = store
        self.engine_provider = engine_provider
        self.resolve_video = resolve_video
        self.max_queued_jobs = max_queued_jobs
        self.sample_fps = _check_fps(sample_fps)
        self.clock = clock
        self._tokens = TokenSigner(token_secret or secrets.token_bytes(32))
        self._pool = ThreadPoolExecutor(max_workers=max_concurrent_jobs, thread_name_prefix="regard-video")
        self._lock = threading.Lock()
        self._pending: set[str] = set()
        self._progress: dict[str, float] = {}
        self._stopping = threading.Event()
        self.started: list[str] = []  # JobIds started through this object, oldest first

    # --- Start -----------------------------------------------------------------------------------
    def start_face_detection(
        self, params: dict[str, Any], ctx: RequestContext, *, sample_fps: float | None = None
    ) -> dict[str, Any]:
        check_scope(ctx.scope, "StartFaceDetection")
        attributes = params.get("FaceAttributes", "DEFAULT")
        if attributes not in ("DEFAULT", "ALL"):
            raise InvalidParameterException("FaceAttributes must be DEFAULT or ALL.")
        return self._start(FACE_DETECTION, params, ctx, sample_fps, collection_id=None)

    def start_face_search(
        self, params: dict[str, Any], ctx: RequestContext, *, sample_fps: float | None = None
    ) -> dict[str, Any]:
        check_scope(ctx.scope, "StartFaceSearch")
        check_purpose(self.store, "StartFaceSearch", params, ctx)  # also when run without Regard.invoke
        collection_id = p.collection_id(params)
        p.number(params, "FaceMatchThreshold", default=DEFAULT_THRESHOLD)
        return self._start(FACE_SEARCH, params, ctx, sample_fps, collection_id=collection_id)

    def _start(
        self,
        kind: str,
        params: dict[str, Any],
        ctx: RequestContext,
        sample_fps: float | None,
        *,
        collection_id: str | None,
    ) -> dict[str, Any]:
        token = p.client_request_token(params)
        job_tag = p.string(params, "JobTag", pattern=JOB_TAG, max_length=1024, required=False)
        s3 = _s3_object(params)
        stored = {k: v for k, v in params.items() if v is not None}
        stored[SAMPLE_FPS_KEY] = _check_fps(sample_fps if sample_fps is not None else self.sample_fps)
        digest = _digest(stored)
        operation = f"Start{kind}"
        earlier = self._earlier_job(kind, token, digest)
        if earlier is not None:
            return {"JobId": earlier}
        # Checks that may load the model or read the file header run outside the lock.
        if collection_id is not None:
            self._check_collection(collection_id)
        path = self.resolve_video(s3)
        check_video_limits(path)
        # The searched video is named by its hash in the audit (a search's probe), never kept.
        probe = sha256_file(path) if kind == FACE_SEARCH else None
        with self._lock:
            earlier = self._earlier_job(kind, token, digest)  # a concurrent Start with the same token
            if earlier is not None:
                return {"JobId": earlier}
            if len(self._pending) >= self.max_queued_jobs:
                raise LimitExceededException(
                    f"{len(self._pending)} video jobs are queued or running; "
                    f"the limit is {self.max_queued_jobs}."
                )
            now = self.clock()
            job_id = uuid.uuid4().hex  # 32 characters of [0-9a-f]: inside JobId's pattern and 64-char limit
            record = JobRecord(
                job_id=job_id,
                kind=kind,
                status=IN_PROGRESS,
                params={**stored, "_digest": digest, **_provenance(probe, ctx.purpose)},
                created_at=now,
                updated_at=now,
                client_request_token=token,
                job_tag=job_tag,
                access_key=ctx.access_key,
            )
            audit = self._audit(
                ctx,
                operation,
                collection_id,
                job_id=job_id,
                video={"Bucket": s3.get("Bucket"), "Name": s3.get("Name")},
                threshold=(params.get("FaceMatchThreshold", DEFAULT_THRESHOLD) if collection_id else None),
                sample_fps=stored[SAMPLE_FPS_KEY],
                job_tag=job_tag,
                probe_sha256=probe,
            )
            self.store.create_job(record, audit=audit)
            self.started.append(job_id)
            self._submit(job_id)
        return {"JobId": job_id}

    def _earlier_job(self, kind: str, token: str | None, digest: str) -> str | None:
        """The JobId a ClientRequestToken was used for before, with the same parameters."""
        if token is None:
            return None
        earlier = self.store.find_job_by_token(kind, token)
        if earlier is None:
            return None
        if earlier.params.get("_digest") != digest:
            raise IdempotentParameterMismatchException(
                f"ClientRequestToken {token} was used with different parameters."
            )
        return earlier.job_id

    def _check_collection(self, collection_id: str) -> None:
        collection = self.store.get_collection(collection_id)  # ResourceNotFoundException if absent
        version = self.engine_provider().model_version
        if collection.face_model_version != version:
            raise InvalidParameterException(
                f"Collection {collection_id} holds faces of model {collection.face_model_version}, "
                f"but this server runs {version}. Re-index the images into a new collection."
            )

    # --- Get -------------------------------------------------------------------------------------
    def get_face_detection(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        check_scope(ctx.scope, "GetFaceDetection")
        return self._get(FACE_DETECTION, "Faces", params, ctx, sort_by="TIMESTAMP")

    def get_face_search(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        check_scope(ctx.scope, "GetFaceSearch")
        sort_by = params.get("SortBy", "TIMESTAMP")
        if sort_by not in ("INDEX", "TIMESTAMP"):
            raise InvalidParameterException("SortBy must be INDEX or TIMESTAMP.")
        return self._get(FACE_SEARCH, "Persons", params, ctx, sort_by=sort_by)

    def _get(
        self, kind: str, items_key: str, params: dict[str, Any], ctx: RequestContext, *, sort_by: str
    ) -> dict[str, Any]:
        job_id = p.required_string(params, "JobId", pattern=JOB_ID, max_length=64)
        limit = params.get("MaxResults")
        if limit is None:
            limit = MAX_RESULTS
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidParameterException("MaxResults must be a whole number of at least 1.")
        limit = min(limit, MAX_RESULTS)  # Rekognition: "greater than 1000 returns 1000"
        next_token = p.string(params, "NextToken", max_length=255, required=False)
        job = self.store.get_job(job_id)
        if job is None or job.kind != kind or not _may_read(job, ctx):
            raise ResourceNotFoundException(f"Job {job_id} was not found.")
        operation = f"Get{kind}"
        scope = f"{job_id}:{sort_by}"
        offset = 0
        if next_token is not None:
            where = self._tokens.read(next_token, operation, scope)
            try:
                offset = int(where)
            except (TypeError, ValueError):
                raise _invalid_token() from None
        body: dict[str, Any] = {"JobStatus": job.status}
        if job.status_message:
            body["StatusMessage"] = job.status_message
        result = job.result or {}
        if "VideoMetadata" in result:
            body["VideoMetadata"] = result["VideoMetadata"]
        items: list[dict[str, Any]] = []
        if job.status == SUCCEEDED:
            everything = list(result.get(items_key, []))
            if sort_by == "INDEX":
                everything.sort(key=lambda item: (item["Person"]["Index"], item["Timestamp"]))
            if offset > len(everything):
                raise _invalid_token()
            items = everything[offset : offset + limit]
            if offset + limit < len(everything):
                body["NextToken"] = self._tokens.issue(operation, scope, str(offset + limit), position=0)
            body[items_key] = items
        body["JobId"] = job.job_id
        if "Video" in job.params:
            body["Video"] = job.params["Video"]
        if job.job_tag is not None:
            body["JobTag"] = job.job_tag
        self._record_read(ctx, operation, job, items, items_key, offset)
        return body

    def _record_read(
        self,
        ctx: RequestContext,
        operation: str,
        job: JobRecord,
        items: list[dict[str, Any]],
        items_key: str,
        offset: int,
    ) -> None:
        details: dict[str, Any] = {"job_id": job.job_id, "job_status": job.status, "offset": offset}
        details["items_returned"] = len(items)
        if items_key == "Persons":
            matched: dict[int, set[str]] = {}
            for item in items:
                for match in item.get("FaceMatches", []):
                    matched.setdefault(item["Person"]["Index"], set()).add(match["Face"]["FaceId"])
            details["matched_persons"] = {str(k): sorted(v) for k, v in sorted(matched.items())}
            details["matched_face_ids"] = sorted({f for v in matched.values() for f in v})
        collection_id = job.params.get("CollectionId")
        self._append_audit(self._audit(ctx, operation, collection_id, **details))

    # --- running ---------------------------------------------------------------------------------
    def progress(self, job_id: str) -> float | None:
        """How far (0-1) a job queued or running in this process has got; None if it is not here."""
        with self._lock:
            return self._progress.get(job_id)

    def _submit(self, job_id: str) -> None:
        self._pending.add(job_id)
        self._progress[job_id] = 0.0
        try:
            self._pool.submit(self._run, job_id)
        except RuntimeError:  # the pool is shut down: leave the job IN_PROGRESS for the next resume()
            self._pending.discard(job_id)
            self._progress.pop(job_id, None)

    def _run(self, job_id: str) -> None:
        try:
            if self._stopping.is_set():
                return
            job = self.store.get_job(job_id)
            if job is None or job.status != IN_PROGRESS:
                return
            try:
                result = self._analyse(job)
            except _Stopped:
                log.info("video job %s interrupted by shutdown; it will resume", job_id)
                return
            except VideoDecodeError as error:
                self._finish(job, FAILED, error.message)
            except RegardError as error:
                self._finish(job, FAILED, f"{error.code}: {error.message}")
            except Exception:
                log.exception("video job %s failed", job_id)
                self._finish(job, FAILED, f"Internal error while analysing the video (job {job_id}).")
            else:
                self._finish(job, SUCCEEDED, None, result)
        except Exception:  # never let a job thread die silently
            log.exception("video job %s could not be recorded", job_id)
        finally:
            with self._lock:
                self._pending.discard(job_id)
                self._progress.pop(job_id, None)

    def _analyse(self, job: JobRecord) -> dict[str, Any]:
        params = job.params
        fps = float(params.get(SAMPLE_FPS_KEY, self.sample_fps))
        path = self.resolve_video(_s3_object(params))
        engine = self.engine_provider()

        def report(fraction: float) -> None:
            self._progress[job.job_id] = fraction

        stop = self._stopping.is_set
        if job.kind == FACE_DETECTION:
            metadata, faces, _stats = detect_video(
                path,
                engine,
                fps=fps,
                progress=report,
                should_stop=stop,
                attributes=params.get("FaceAttributes", "DEFAULT"),
            )
            if stop():
                raise _Stopped
            return {"VideoMetadata": metadata.as_dict(), "Faces": faces}
        collection_id = params["CollectionId"]
        self._check_collection(collection_id)
        tracked = track_video(path, engine, fps=fps, progress=report, should_stop=stop)
        if stop():
            raise _Stopped
        threshold = float(params.get("FaceMatchThreshold", DEFAULT_THRESHOLD))
        persons = search_tracks(self.store, collection_id, tracked, threshold=threshold)
        return {
            "VideoMetadata": tracked.metadata.as_dict(),
            "Persons": persons,
            "Stats": {
                "FramesSampled": tracked.stats.frames_sampled,
                "FacesDetected": tracked.stats.faces_detected,
                "Embeddings": tracked.stats.embeddings,
                "Persons": tracked.stats.persons,
            },
        }

    def _finish(
        self, job: JobRecord, status: str, message: str | None, result: dict[str, Any] | None = None
    ) -> None:
        with self._lock:  # free the queue place first: whoever sees the job done may start another
            self._pending.discard(job.job_id)
            self._progress.pop(job.job_id, None)
        self.store.update_job(job.job_id, status=status, status_message=message, result=result)
        details: dict[str, Any] = {"job_id": job.job_id, "job_status": status}
        if message:
            details["status_message"] = message
        if result is not None and "Persons" in result:
            matched: dict[int, set[str]] = {}
            for item in result["Persons"]:
                for match in item["FaceMatches"]:
                    matched.setdefault(item["Person"]["Index"], set()).add(match["Face"]["FaceId"])
            details["persons"] = len({item["Person"]["Index"] for item in result["Persons"]})
            details["matched_persons"] = {str(k): sorted(v) for k, v in sorted(matched.items())}
            details.update(_search_details(job.params, result["Persons"]))
        elif result is not None:
            details["faces"] = len(result.get("Faces", []))
        entry = AuditEntry(
            operation=f"{job.kind}JobFinished",
            access_key=job.access_key,
            collection_id=job.params.get("CollectionId"),
            client="video-job",
            details=details,
        )
        try:
            self.store.append_audit(entry)
        except Exception:
            log.exception("audit record for video job %s could not be written", job.job_id)

    # --- lifecycle -------------------------------------------------------------------------------
    def resume(self) -> list[str]:
        """Re-queue the jobs the store holds as IN_PROGRESS (run at start-up); returns their IDs.

        A job whose video can no longer be resolved is marked FAILED with the reason at once; a job
        beyond the queue limit is queued all the same (it was accepted before the restart).
        """
        resumed: list[str] = []
        claim = getattr(self.store, "claim_jobs", None)  # a shared store: take only jobs no replica holds
        for job in claim(limit=1000) if claim is not None else self.store.list_jobs(status=IN_PROGRESS):
            with self._lock:
                if job.job_id in self._pending:
                    continue
            try:
                self.resolve_video(_s3_object(job.params))
            except RegardError as error:
                self._finish(job, FAILED, f"Could not resume after a restart: {error.message}")
                continue
            except Exception as error:  # a malformed record must not stop the others
                self._finish(job, FAILED, f"Could not resume after a restart: {type(error).__name__}.")
                continue
            with self._lock:
                self._submit(job.job_id)
            resumed.append(job.job_id)
        return resumed

    def wait(self, job_id: str, timeout: float | None = None, poll: float = 0.05) -> JobRecord:
        """Block until the job leaves IN_PROGRESS (tests, CLI); returns its record."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.store.get_job(job_id)
            if job is None:
                raise ResourceNotFoundException(f"Job {job_id} was not found.")
            if job.status != IN_PROGRESS:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"video job {job_id} still running after {timeout} s")
            time.sleep(poll)

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop taking jobs; running ones stop between frames and stay IN_PROGRESS for resume()."""
        self._stopping.set()
        self._pool.shutdown(wait=wait, cancel_futures=True)

    # --- helpers ---------------------------------------------------------------------------------
    def _audit(
        self, ctx: RequestContext, operation: str, collection_id: str | None, **details: Any
    ) -> AuditEntry:
        return audit_entry(ctx, operation, collection_id, **details)

    def _append_audit(self, entry: AuditEntry) -> None:
        append_or_fail(self.store, entry)


def _provenance(probe: str | None, purpose: str | None) -> dict[str, str]:
    """What the finished-job record repeats from the start: the video's hash and the stated purpose."""
    kept = {PROBE_KEY: probe, PURPOSE_KEY: purpose}
    return {key: value for key, value in kept.items() if value is not None}


def _search_details(params: Mapping[str, Any], persons: list[dict[str, Any]]) -> dict[str, Any]:
    """``probe_sha256``, ``matches`` (best similarity per face) and ``purpose`` of a finished search."""
    best: dict[str, tuple[Matched, float]] = {}
    for item in persons:
        for match in item["FaceMatches"]:
            face = match["Face"]
            similarity = float(match["Similarity"])
            if face["FaceId"] not in best or similarity > best[face["FaceId"]][1]:
                best[face["FaceId"]] = (Matched(face["FaceId"], face.get("UserId")), similarity)
    details = probe_details(params.get(PROBE_KEY), faces=[best[k] for k in sorted(best)])
    if params.get(PURPOSE_KEY) is not None:
        details["purpose"] = params[PURPOSE_KEY]
    return details


def _invalid_token() -> RegardError:
    return InvalidPaginationTokenException("Invalid pagination token.")


def _may_read(job: JobRecord, ctx: RequestContext) -> bool:
    return ctx.scope == "admin" or job.access_key is None or job.access_key == ctx.access_key


def _s3_object(params: Mapping[str, Any]) -> dict[str, Any]:
    video = params.get("Video")
    if not isinstance(video, Mapping) or not isinstance(video.get("S3Object"), Mapping):
        raise InvalidParameterException("Video must hold an S3Object with Bucket and Name.")
    s3 = dict(video["S3Object"])
    if not isinstance(s3.get("Bucket"), str) or not isinstance(s3.get("Name"), str) or not s3["Name"]:
        raise InvalidS3ObjectException("Video.S3Object needs a Bucket and a Name.")
    return s3


def _check_fps(fps: float) -> float:
    if isinstance(fps, bool) or not isinstance(fps, int | float) or not 0 < fps <= MAX_SAMPLE_FPS:
        raise InvalidParameterException(
            f"The sampling rate must be more than 0 and at most {MAX_SAMPLE_FPS:g} fps."
        )
    return float(fps)
