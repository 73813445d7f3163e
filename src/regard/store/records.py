"""Plain records the store reads and writes; every backend returns exactly these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class CollectionRecord:
    collection_id: str
    face_model_version: str  # e.g. "buffalo_s/1.0": the pack whose embeddings this collection holds
    embedding_size: int
    created_at: float  # epoch seconds
    face_count: int = 0
    user_count: int = 0
    tags: dict[str, str] = field(default_factory=dict)
    purpose: str | None = None  # why the faces are held (provenance)
    retention_days: float | None = None  # default lifetime of a face indexed here; None = no expiry


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """Rekognition's box: ratios of the image width and height, origin top-left."""

    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class FaceRecord:
    face_id: str  # lower-case UUID
    image_id: str  # lower-case UUID shared by the faces indexed from one image
    bounding_box: BoundingBox
    confidence: float  # 0-100
    index_model_version: str  # Rekognition's IndexFacesModelVersion, digits and dots
    indexed_at: float  # epoch seconds
    external_image_id: str | None = None
    user_id: str | None = None
    indexed_by: str | None = None  # access key (or "local") that indexed it
    expires_at: float | None = None  # epoch seconds; the retention sweep erases it after this
    image_sha256: str | None = None  # of the source image bytes, so re-indexing the same file is skipped


@dataclass(frozen=True, slots=True)
class UserRecord:
    user_id: str
    status: str  # Rekognition UserStatus: ACTIVE | UPDATING | CREATING | CREATED
    created_at: float
    face_count: int = 0


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What the service asks the store to append; the store adds sequence, time and hashes."""

    operation: str
    access_key: str | None = None
    collection_id: str | None = None
    request_id: str | None = None
    client: str | None = None  # client address, or "cli" / "api"
    details: dict[str, Any] = field(default_factory=dict)  # face/user IDs, counts, thresholds, outcome


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    time: float
    entry: AuditEntry
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class AuditVerification:
    ok: bool
    records_checked: int
    first_bad_seq: int | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class AccessKeyRecord:
    access_key_id: str
    secret_access_key: str
    scope: str  # e.g. "admin", "search", "detect"
    name: str | None
    created_at: float
    revoked_at: float | None = None
    rate_limit: float | None = None  # requests per second; None: the server's default


@dataclass(frozen=True, slots=True)
class JobRecord:
    job_id: str
    kind: str  # "FaceDetection" | "FaceSearch"
    status: str  # IN_PROGRESS | SUCCEEDED | FAILED
    params: dict[str, Any]
    created_at: float
    updated_at: float
    status_message: str | None = None
    client_request_token: str | None = None
    job_tag: str | None = None
    access_key: str | None = None
    result: dict[str, Any] | None = None  # VideoMetadata and items, set on SUCCEEDED


@dataclass(frozen=True, slots=True)
class StreamProcessorRecord:
    """A stream processor's definition and state; ``params`` keeps the rest of its Create request."""

    name: str
    arn: str
    input_arn: str  # the Kinesis video stream it reads
    output_arn: str  # the Kinesis data stream it writes to
    collection_id: str
    threshold: float
    status: str  # STOPPED | STARTING | RUNNING | FAILED | STOPPING | UPDATING
    created_at: float
    updated_at: float
    status_message: str | None = None
    desired_state: str = "STOPPED"  # RUNNING: restart it when the server restarts
    params: dict[str, Any] = field(default_factory=dict)
    access_key: str | None = None
