"""Stream processors: Rekognition's live face search, from cameras and feeds to data-stream records.

CreateStreamProcessor stores a definition (the input Kinesis video stream, the output Kinesis data
stream, Settings.FaceSearch's collection and threshold) in the store; Start/Stop run it; Describe and
List read it; Update and Delete change it. Regard maps the Kinesis names the way it maps S3 buckets:
the video stream ``arn:aws:kinesisvideo:REGION:ACCOUNT:stream/NAME/...`` reads the URL given to
``regard serve --stream NAME=URL``, and the data stream ``arn:aws:kinesis:...:stream/NAME`` writes to
``--sink NAME=TARGET`` (``service.stream_sinks``).

A running processor is a thread over ``vision.live``: the newest frame is analysed, faces are tracked
and searched when they appear and at better views, and each analysed frame with faces becomes
Rekognition's documented face-search record (InputInformation.KinesisVideo, StreamProcessorInformation,
FaceSearchResponse). Matches are audited in batches (one record per processor every
``audit_interval`` seconds in which something matched), each control operation with its own record.

Replicas sharing a PostgreSQL store run each processor on exactly one of them: the one running it holds
the named lease ``stream:<name>`` (``Store.try_lease``) and renews it every third of ``lease_seconds``. A
replica that loses its lease (the database was away), or sees the processor stopped or deleted by another
replica, stops its thread; every replica's keeper also adopts processors that should run and whose lease
ran out or was released (a replica died or shut down), as ``resume()`` does at start-up.

Statuses: Start -> STARTING; RUNNING once the first frame is decoded; a source that drops is reopened
with backoff (RUNNING, with a StatusMessage saying so); one that never opens ends FAILED with the reason.
Stop -> STOPPING -> STOPPED. The desired state is stored, so ``resume()`` (server start) restarts the
processors that were running.

Deviations, on purpose: RoleArn, KmsKeyId and NotificationChannel are accepted and ignored; Output
S3Destination, ConnectedHome (label) settings, RegionsOfInterest and Start/StopSelector (for label
processors in Rekognition too) are refused with InvalidParameterException.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from regard.errors import (
    InvalidParameterException,
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from regard.service import params as p
from regard.service.auditing import audit_entry
from regard.service.common import face_to_wire, page, require_same_model
from regard.service.context import RequestContext
from regard.service.stream_sinks import Sink, open_sink
from regard.store.records import AuditEntry, StreamProcessorRecord
from regard.vision.live import LiveFaceSearch, LiveResult, LiveSource

if TYPE_CHECKING:
    from regard.service.app import Regard
    from regard.store.records import FaceRecord

log = logging.getLogger(__name__)

STOPPED, STARTING, RUNNING, FAILED, STOPPING, UPDATING = (
    "STOPPED",
    "STARTING",
    "RUNNING",
    "FAILED",
    "STOPPING",
    "UPDATING",
)
BUSY = (STARTING, RUNNING, STOPPING, UPDATING)
MAX_STREAM_PROCESSORS = 20  # definitions kept
MAX_RUNNING = 4  # running at once: each takes most of a core
MIN_THRESHOLD = DEFAULT_THRESHOLD = 80.0  # Rekognition: "values lower than 80 are set to 80"
MAX_MATCHED_FACES = 5
MAX_RESULTS = 1000
AUDIT_INTERVAL = 10.0
NAME = re.compile(r"[a-zA-Z0-9_.\-]+")
VIDEO_ARN = re.compile(r"arn:[a-z\d-]+:kinesisvideo:[a-z\d-]+:\d{12}:stream/([a-zA-Z0-9_.\-]{1,256})(/.*)?")
DATA_ARN = re.compile(r"arn:[a-z\d-]+:kinesis:[a-z\d-]+:\d{12}:stream/([a-zA-Z0-9_.\-]{1,128})")
ROLE_ARN = re.compile(r"arn:aws:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")
MATCHED_FACE_KEYS = ("BoundingBox", "FaceId", "Confidence", "ImageId", "ExternalImageId")
CLIENT = "stream-processor"
LEASE_SECONDS = 30.0  # a dead replica's processors are adopted by another within about this long


# =================================================================================================
# Records
# =================================================================================================
def face_search_record(stream_arn: str, result: LiveResult, status: str = RUNNING) -> dict[str, Any]:
    """Rekognition's Kinesis face-search record for one analysed frame.

    Each face's ``matches`` are (FaceRecord, similarity) pairs, best first, as ``searching.matches``
    returns them.
    """
    from regard.service.faces import compared_face

    frame = result.frame
    faces = []
    for live in result.faces:
        matched = [
            {"Similarity": round(similarity, 5), "Face": matched_face(record)}
            for record, similarity in (live.matches or [])
        ]
        faces.append({"DetectedFace": compared_face(live.face, result.image), "MatchedFaces": matched})
    return {
        "InputInformation": {
            "KinesisVideo": {
                "StreamArn": stream_arn,
                "FragmentNumber": str(frame.fragment),
                "ServerTimestamp": round(frame.received_at, 3),
                "ProducerTimestamp": round(frame.producer_at, 3),
                "FrameOffsetInSeconds": round(frame.fragment_offset, 3),
            }
        },
        "StreamProcessorInformation": {"Status": status},
        "FaceSearchResponse": faces,
    }


def matched_face(record: FaceRecord) -> dict[str, Any]:
    """The ``Face`` of a MatchedFaces item, with the members Rekognition's record documents."""
    return {key: value for key, value in face_to_wire(record).items() if key in MATCHED_FACE_KEYS}


def searcher(regard: Regard, collection_id: str, threshold: float) -> Callable[[Any], Any]:
    """``vector -> [(FaceRecord, similarity)]`` over ``collection_id``, for ``LiveFaceSearch``."""
    from regard.service.searching import matches

    def search(vector: Any) -> list[tuple[FaceRecord, float]]:
        return matches(regard, collection_id, vector, threshold=threshold, max_faces=MAX_MATCHED_FACES)

    return search


class MatchBatch:
    """Matches gathered between audit records: best similarity per face, and what was looked at."""

    def __init__(self) -> None:
        self.best: dict[str, tuple[float, str | None]] = {}  # face_id -> (similarity, user_id)
        self.frames = 0
        self.probe_sha256: str | None = None
        self.started = time.monotonic()

    def add(self, result: LiveResult) -> None:
        self.frames += 1
        for live in result.faces:
            for record, similarity in live.matches or []:
                earlier = self.best.get(record.face_id)
                if earlier is None or similarity > earlier[0]:
                    self.best[record.face_id] = (similarity, record.user_id)
                if self.probe_sha256 is None:
                    self.probe_sha256 = hashlib.sha256(result.frame.pixels.tobytes()).hexdigest()

    def due(self, interval: float) -> bool:
        """Something matched and ``interval`` seconds have passed since the batch began."""
        return bool(self.best) and time.monotonic() - self.started >= interval

    def details(self) -> dict[str, Any]:
        matches = []
        for face_id, (similarity, user_id) in sorted(self.best.items()):
            item: dict[str, Any] = {"face_id": face_id, "similarity": round(similarity, 3)}
            if user_id is not None:
                item["user_id"] = user_id
            matches.append(item)
        return {
            "matches": matches,
            "matched_face_ids": sorted(self.best),
            "frames_with_faces": self.frames,
            "probe_sha256": self.probe_sha256,
        }


# =================================================================================================
# The operations
# =================================================================================================
class StreamProcessors:
    """The seven stream-processor operations and the threads of the running processors."""

    def __init__(
        self,
        regard: Regard,
        streams: Mapping[str, str] | None = None,
        sinks: Mapping[str, str] | None = None,
        *,
        max_processors: int = MAX_STREAM_PROCESSORS,
        max_running: int = MAX_RUNNING,
        analysis_fps: float = 10.0,
        audit_interval: float = AUDIT_INTERVAL,
        open_attempts: int | None = None,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.regard = regard
        self.store = regard.store
        self.streams = dict(streams or {})
        self.sink_targets = dict(sinks or {})
        self.max_processors = max_processors
        self.max_running = max_running
        self.analysis_fps = analysis_fps
        self.audit_interval = audit_interval
        self.open_attempts = open_attempts
        self._sinks: dict[str, Sink] = {}
        self._runners: dict[str, _Runner] = {}
        self._lock = threading.RLock()
        self.lease_seconds = lease_seconds
        self._try_lease = getattr(self.store, "try_lease", None)  # only a shared store has leases
        self._release_lease = getattr(self.store, "release_lease", None)
        self._owner = str(getattr(self.store, "owner", "local"))
        self._keeper: threading.Thread | None = None
        self._keeper_stop = threading.Event()
        self._adopt = False  # set by resume(): a server adopts processors other replicas left

    def register(self) -> None:
        for operation, method in (
            ("CreateStreamProcessor", self.create),
            ("DescribeStreamProcessor", self.describe),
            ("ListStreamProcessors", self.list),
            ("StartStreamProcessor", self.start),
            ("StopStreamProcessor", self.stop),
            ("DeleteStreamProcessor", self.delete),
            ("UpdateStreamProcessor", self.update),
        ):
            self.regard.register(operation, _handler(method))

    # --- Create / Describe / List / Update / Delete ---------------------------------------------
    def create(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        name = _name(params)
        input_arn = _member_arn(params, "Input", "KinesisVideoStream", VIDEO_ARN)
        output = params.get("Output")
        if isinstance(output, Mapping) and output.get("S3Destination") is not None:
            raise InvalidParameterException("Output.S3Destination is not supported; use KinesisDataStream.")
        output_arn = _member_arn(params, "Output", "KinesisDataStream", DATA_ARN)
        self._stream_url(input_arn)
        self._sink_name(output_arn)
        p.required_string(params, "RoleArn", pattern=ROLE_ARN, max_length=2048)
        settings = params.get("Settings")
        if not isinstance(settings, Mapping) or not isinstance(settings.get("FaceSearch"), Mapping):
            raise InvalidParameterException(
                "Settings.FaceSearch (CollectionId, FaceMatchThreshold) is required."
            )
        if settings.get("ConnectedHome") is not None:
            raise InvalidParameterException("ConnectedHome (label detection) processors are not supported.")
        face_search = settings["FaceSearch"]
        collection_id = p.collection_id(face_search)
        threshold = max(p.number(face_search, "FaceMatchThreshold", default=DEFAULT_THRESHOLD), MIN_THRESHOLD)
        if params.get("RegionsOfInterest"):
            raise InvalidParameterException(
                "RegionsOfInterest is not supported: the whole frame is searched."
            )
        collection = self.store.get_collection(collection_id)  # ResourceNotFoundException if absent
        require_same_model(self.regard, collection)
        if len(self.store.list_stream_processors(limit=self.max_processors)) >= self.max_processors:
            raise LimitExceededException(
                f"{self.max_processors} stream processors exist, the most this server keeps; "
                "delete one first."
            )
        now = self.regard.clock()
        kept = ("RoleArn", "Tags", "NotificationChannel", "KmsKeyId", "DataSharingPreference")
        record = StreamProcessorRecord(
            name=name,
            arn=f"arn:aws:rekognition:{self.regard.region}:{self.regard.account}:streamprocessor/{name}",
            input_arn=input_arn,
            output_arn=output_arn,
            collection_id=collection_id,
            threshold=threshold,
            status=STOPPED,
            created_at=now,
            updated_at=now,
            params={key: params[key] for key in kept if params.get(key) is not None},
            access_key=ctx.access_key,
        )
        audit = self._audit(ctx, "CreateStreamProcessor", record, input_arn=input_arn, output_arn=output_arn)
        try:
            self.store.create_stream_processor(record, audit=audit)
        except ResourceAlreadyExistsException:
            raise ResourceInUseException(f"A stream processor named {name} exists.") from None
        return {"StreamProcessorArn": record.arn}

    def describe(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        record = self._get(params)
        self.regard.record(self._audit(ctx, "DescribeStreamProcessor", record))
        body: dict[str, Any] = {
            "Name": record.name,
            "StreamProcessorArn": record.arn,
            "Status": record.status,
            "CreationTimestamp": record.created_at,
            "LastUpdateTimestamp": record.updated_at,
            "Input": {"KinesisVideoStream": {"Arn": record.input_arn}},
            "Output": {"KinesisDataStream": {"Arn": record.output_arn}},
            "Settings": {
                "FaceSearch": {"CollectionId": record.collection_id, "FaceMatchThreshold": record.threshold}
            },
        }
        if record.status_message:
            body["StatusMessage"] = record.status_message
        for key in ("RoleArn", "NotificationChannel", "KmsKeyId", "DataSharingPreference"):
            if key in record.params:
                body[key] = record.params[key]
        return body

    def list(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        limit = min(p.integer(params, "MaxResults", default=MAX_RESULTS, low=1, high=None), MAX_RESULTS)
        token = p.string(params, "NextToken", required=False)
        records, next_token = page(
            self.regard,
            "ListStreamProcessors",
            "",
            token,
            limit,
            lambda after, n: self.store.list_stream_processors(after=after, limit=n),
            lambda record: record.name,
        )
        self.regard.record(audit_entry(ctx, "ListStreamProcessors", returned=len(records)))
        body: dict[str, Any] = {"StreamProcessors": [{"Name": r.name, "Status": r.status} for r in records]}
        if next_token:
            body["NextToken"] = next_token
        return body

    def update(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        with self._lock:
            record = self._get(params)
            if record.status in (STARTING, STOPPING, UPDATING):
                raise ResourceInUseException(f"Stream processor {record.name} is {record.status}.")
            settings = params.get("SettingsForUpdate")
            if isinstance(settings, Mapping) and settings.get("ConnectedHomeForUpdate") is not None:
                raise InvalidParameterException(
                    "ConnectedHome settings apply to label detection processors only."
                )
            if params.get("RegionsOfInterestForUpdate"):
                raise InvalidParameterException(
                    "RegionsOfInterest is not supported: the whole frame is searched."
                )
            deleted = params.get("ParametersToDelete") or []
            if "ConnectedHomeMinConfidence" in deleted:
                raise InvalidParameterException("ConnectedHomeMinConfidence applies to label detection only.")
            changes = dict(record.params)
            sharing = params.get("DataSharingPreferenceForUpdate")
            if sharing is not None:
                if not isinstance(sharing, Mapping) or not isinstance(sharing.get("OptIn"), bool):
                    raise InvalidParameterException(
                        "DataSharingPreferenceForUpdate needs OptIn, true or false."
                    )
                changes["DataSharingPreference"] = {"OptIn": sharing["OptIn"]}
            updated = replace(record, params=changes, updated_at=self.regard.clock())
            audit = self._audit(
                ctx, "UpdateStreamProcessor", record, updated=sorted(k for k in params if k != "Name")
            )
            self.store.update_stream_processor(updated, audit=audit)
        return {}

    def delete(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        with self._lock:
            record = self._get(params)
            if record.status in BUSY or record.name in self._runners:
                raise ResourceInUseException(
                    f"Stream processor {record.name} is {record.status}; stop it before deleting it."
                )
            self.store.delete_stream_processor(
                record.name, audit=self._audit(ctx, "DeleteStreamProcessor", record)
            )
        return {}

    # --- Start / Stop ----------------------------------------------------------------------------
    def start(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        if params.get("StartSelector") is not None or params.get("StopSelector") is not None:
            raise InvalidParameterException(
                "StartSelector and StopSelector apply to label detection processors, not to face search."
            )
        with self._lock:
            record = self._get(params)
            if record.status in BUSY or record.name in self._runners:
                raise ResourceInUseException(f"Stream processor {record.name} is {record.status}.")
            self._check_runnable(record)
            if not self._take_lease(record.name):
                raise ResourceInUseException(f"Stream processor {record.name} is running on another server.")
            session = str(uuid.uuid4())
            starting = replace(
                record,
                status=STARTING,
                status_message=None,
                desired_state=RUNNING,
                updated_at=self.regard.clock(),
            )
            audit = self._audit(ctx, "StartStreamProcessor", record, session_id=session)
            self.store.update_stream_processor(starting, audit=audit)
            self._launch(starting)
        return {"SessionId": session}

    def stop(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        with self._lock:
            record = self._get(params)
            if record.status not in (STARTING, RUNNING):
                raise ResourceInUseException(
                    f"Stream processor {record.name} is {record.status}, not running."
                )
            runner = self._runners.get(record.name)
            # Without a thread here (a process that does not run processors), it stops at once.
            status = STOPPING if runner is not None else STOPPED
            stopping = replace(record, status=status, desired_state=STOPPED, updated_at=self.regard.clock())
            self.store.update_stream_processor(
                stopping, audit=self._audit(ctx, "StopStreamProcessor", record)
            )
        if runner is not None:
            runner.request_stop(final_status=STOPPED)
        return {}

    # --- running ---------------------------------------------------------------------------------
    def _check_runnable(self, record: StreamProcessorRecord) -> None:
        self._stream_url(record.input_arn)
        self._sink_name(record.output_arn)
        require_same_model(self.regard, self.store.get_collection(record.collection_id))
        running = sum(1 for r in self._runners.values() if not r.finished)
        if running >= self.max_running:
            raise LimitExceededException(
                f"{running} stream processors are running, the most this server runs."
            )

    def _launch(self, record: StreamProcessorRecord) -> None:
        url = self._stream_url(record.input_arn)
        sink = self._sink(self._sink_name(record.output_arn))
        runner = _Runner(self, record, url, sink)
        self._runners[record.name] = runner
        runner.start()
        self._start_keeper()

    def _sink(self, name: str) -> Sink:
        with self._lock:
            if name not in self._sinks:
                self._sinks[name] = open_sink(self.sink_targets[name])
            return self._sinks[name]

    def set_state(
        self,
        name: str,
        status: str,
        message: str | None,
        *,
        desired_state: str | None = None,
        audit: AuditEntry | None = None,
    ) -> None:
        """Record a status change the running processor made (not a caller)."""
        with self._lock:
            record = self.store.get_stream_processor(name)
            if record is None:
                return
            if record.status == STOPPING and status not in (STOPPED, FAILED):
                return  # a Stop is under way: it has the last word
            if record.desired_state != RUNNING and status in (STARTING, RUNNING) and desired_state is None:
                return  # stopped (here or on another replica) while this thread was still winding down
            if (record.status, record.status_message) == (status, message) and desired_state is None:
                return
            changed = replace(
                record,
                status=status,
                status_message=message,
                desired_state=desired_state or record.desired_state,
                updated_at=self.regard.clock(),
            )
            self.store.update_stream_processor(changed, audit=audit)

    def finished(self, runner: _Runner) -> None:
        with self._lock:
            if self._runners.get(runner.name) is runner:
                del self._runners[runner.name]

    def resume(self) -> list[str]:
        """Restart the processors that were running when the server stopped (run at start-up)."""
        resumed = []
        self._adopt = True
        self._start_keeper()
        for record in self._all_records():
            if record.desired_state != RUNNING or self.runner(record.name) is not None:
                continue
            if not self._take_lease(record.name):
                continue  # another replica runs it
            try:
                with self._lock:
                    if record.name in self._runners:
                        continue  # started here meanwhile
                    current = self.store.get_stream_processor(record.name)
                    if current is None or current.desired_state != RUNNING:
                        self.release_lease(record.name)  # stopped or deleted meanwhile
                        continue
                    record = current
                    self._check_runnable(record)
                    starting = replace(
                        record, status=STARTING, status_message=None, updated_at=self.regard.clock()
                    )
                    self.store.update_stream_processor(starting)
                    self._launch(starting)
                resumed.append(record.name)
            except LimitExceededException:
                self.release_lease(record.name)  # this server is full; another replica may run it
            except Exception as error:
                message = getattr(error, "message", type(error).__name__)
                self.set_state(
                    record.name,
                    FAILED,
                    f"Could not restart after a server restart: {message}",
                    desired_state=STOPPED,
                )
                self.release_lease(record.name)
        return resumed

    def shutdown(self) -> None:
        """Stop the threads, leaving each processor's stored desired state for the next resume()."""
        self._keeper_stop.set()
        if self._keeper is not None:
            self._keeper.join(20)
        with self._lock:
            runners = list(self._runners.values())
        for runner in runners:
            runner.request_stop(final_status=None)
        for runner in runners:
            runner.join(20)
        with self._lock:
            for sink in self._sinks.values():
                sink.close()
            self._sinks.clear()

    def runner(self, name: str) -> _Runner | None:
        with self._lock:
            return self._runners.get(name)

    # --- one replica per processor (a shared store) ----------------------------------------------
    def _take_lease(self, name: str) -> bool:
        """Take or renew ``stream:<name>`` for this replica; always True on a store of one process."""
        if self._try_lease is None:
            return True
        return bool(self._try_lease(f"stream:{name}", self._owner, self.lease_seconds))

    def release_lease(self, name: str) -> None:
        """Let another replica adopt the processor at once (this one stopped running it)."""
        if self._release_lease is not None:
            try:
                self._release_lease(f"stream:{name}", self._owner)
            except Exception:  # the lease then simply runs out
                log.exception("could not release the lease of stream processor %s", name)

    def _start_keeper(self) -> None:
        with self._lock:
            if self._try_lease is None or self._keeper is not None or self._keeper_stop.is_set():
                return
            self._keeper = threading.Thread(target=self._keep, name="regard-stream-leases", daemon=True)
            self._keeper.start()

    def _keep(self) -> None:
        while not self._keeper_stop.wait(self.lease_seconds / 3):
            self.keep_once()

    def keep_once(self) -> None:
        """Renew this replica's leases, stop what it may no longer run, adopt what nobody runs."""
        with self._lock:
            runners = [r for r in self._runners.values() if not r.finished and not r.stopping]
        for runner in runners:
            try:
                record = self.store.get_stream_processor(runner.name)
                wanted = record is not None and record.desired_state == RUNNING
                keep = wanted and self._take_lease(runner.name)
            except Exception:  # the lease cannot be confirmed: another replica may take it once it runs out
                log.exception("could not renew the lease of stream processor %s", runner.name)
                keep = False
            if not keep:
                log.info("stream processor %s: stopped here (stopped elsewhere or lease lost)", runner.name)
                runner.request_stop(final_status=None)
        if self._adopt:
            try:
                self.resume()
            except Exception:
                log.exception("could not adopt stream processors")

    # --- helpers ---------------------------------------------------------------------------------
    def _all_records(self) -> list[StreamProcessorRecord]:
        out: list[StreamProcessorRecord] = []
        after: str | None = None
        while True:
            batch = self.store.list_stream_processors(after=after, limit=MAX_RESULTS)
            out.extend(batch)
            if len(batch) < MAX_RESULTS:
                return out
            after = batch[-1].name

    def _get(self, params: Mapping[str, Any]) -> StreamProcessorRecord:
        name = _name(params)
        record = self.store.get_stream_processor(name)
        if record is None:
            raise ResourceNotFoundException(f"Stream processor {name} was not found.")
        return record

    def _stream_url(self, arn: str) -> str:
        return self.streams[_mapped(arn, VIDEO_ARN, self.streams, "Kinesis video stream", "--stream", "URL")]

    def _sink_name(self, arn: str) -> str:
        return _mapped(arn, DATA_ARN, self.sink_targets, "Kinesis data stream", "--sink", "FILE-or-URL")

    def _audit(
        self, ctx: RequestContext, operation: str, record: StreamProcessorRecord, **details: Any
    ) -> AuditEntry:
        return audit_entry(ctx, operation, record.collection_id, stream_processor=record.name, **details)


def _handler(method: Callable[[dict[str, Any], RequestContext], dict[str, Any]]) -> Any:
    def handler(_regard: Any, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        return method(params, ctx)

    return handler


def _mapped(
    arn: str, pattern: re.Pattern[str], table: Mapping[str, str], what: str, flag: str, value: str
) -> str:
    """The stream name in ``arn`` if the server maps it, else InvalidParameterException saying how to."""
    match = pattern.fullmatch(arn)
    name = match.group(1) if match else ""
    if name not in table:
        raise InvalidParameterException(
            f"The {what} {name!r} is not mapped; start the server with {flag} {name or 'NAME'}={value}."
        )
    return name


def _name(params: Mapping[str, Any]) -> str:
    return p.required_string(params, "Name", pattern=NAME, max_length=128)


def _member_arn(params: Mapping[str, Any], outer: str, inner: str, pattern: re.Pattern[str]) -> str:
    holder = params.get(outer)
    member = holder.get(inner) if isinstance(holder, Mapping) else None
    arn = member.get("Arn") if isinstance(member, Mapping) else None
    if not isinstance(arn, str) or not pattern.fullmatch(arn):
        raise InvalidParameterException(f"{outer}.{inner}.Arn must be an ARN like {pattern.pattern}.")
    return arn


# =================================================================================================
# One running processor
# =================================================================================================
class _Runner:
    """The thread of one running processor: source, analysis loop, sink and batched audit."""

    def __init__(self, owner: StreamProcessors, record: StreamProcessorRecord, url: str, sink: Sink) -> None:
        self.owner = owner
        self.record = record
        self.name = record.name
        self.sink = sink
        kwargs = {} if owner.open_attempts is None else {"open_attempts": owner.open_attempts}
        self.source = LiveSource(url, on_state=self._source_state, **kwargs)
        self.loop: LiveFaceSearch | None = None
        self.records_written = 0
        self.finished = False
        self._final_status: str | None = STOPPED
        self._stop_requested = threading.Event()
        self._batch = MatchBatch()
        self._thread = threading.Thread(target=self._run, name=f"regard-stream-{record.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def request_stop(self, *, final_status: str | None) -> None:
        """Stop; ``final_status`` is stored when the thread ends (None: leave the record as it is)."""
        self._final_status = final_status
        self._stop_requested.set()
        if self.loop is not None:
            self.loop.stop()
        self.source.stop(timeout=0)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._stop_requested.is_set()

    def _source_state(self, state: str, message: str | None) -> None:
        if self.loop is not None and self.loop.stopping:
            return
        if state == "connected":
            self.owner.set_state(self.name, RUNNING, None)
        elif state == "reconnecting":
            current = self.owner.store.get_stream_processor(self.name)
            status = (
                current.status if current is not None and current.status in (STARTING, RUNNING) else STARTING
            )
            self.owner.set_state(self.name, status, message)

    def _run(self) -> None:
        try:
            engine = self.owner.regard.engine
            search = searcher(self.owner.regard, self.record.collection_id, self.record.threshold)
            self.loop = LiveFaceSearch(
                self.source, engine, search, self._emit, max_fps=self.owner.analysis_fps
            )
            if self._stop_requested.is_set():
                return
            self.source.start()
            self.loop.run()
            if self.source.failure is not None and not self.loop.stopping:
                self._final_status = None
                audit = self._system_audit("StreamProcessorFailed", status_message=self.source.failure)
                self.owner.set_state(
                    self.name, FAILED, self.source.failure, desired_state=STOPPED, audit=audit
                )
        except Exception:
            log.exception("stream processor %s failed", self.name)
            self._final_status = None
            message = "Internal error while processing the stream; see the server log."
            self.owner.set_state(self.name, FAILED, message, desired_state=STOPPED)
        finally:
            self.source.stop()
            self._flush_audit(force=True)
            self.finished = True
            self.owner.finished(self)
            if self._final_status is not None:
                self.owner.set_state(self.name, self._final_status, None)
            self.owner.release_lease(self.name)

    def _emit(self, result: LiveResult) -> None:
        try:
            self.sink.write(face_search_record(self.record.input_arn, result))
            self.records_written += 1
        except Exception:
            log.exception("stream processor %s could not write to its sink", self.name)
        self._batch.add(result)
        self._flush_audit(force=False)

    def _flush_audit(self, *, force: bool) -> None:
        batch = self._batch
        if not batch.best or not (force or batch.due(self.owner.audit_interval)):
            return
        self._batch = MatchBatch()
        entry = self._system_audit(
            "StreamProcessorMatches", seconds=round(time.monotonic() - batch.started, 1)
        )
        entry.details.update({k: v for k, v in batch.details().items() if v is not None})
        try:
            self.owner.store.append_audit(entry)
        except Exception:
            log.exception("audit record for stream processor %s could not be written", self.name)

    def _system_audit(self, operation: str, **details: Any) -> AuditEntry:
        return AuditEntry(
            operation=operation,
            access_key=self.record.access_key,
            collection_id=self.record.collection_id,
            client=CLIENT,
            details={"stream_processor": self.name, **details},
        )
