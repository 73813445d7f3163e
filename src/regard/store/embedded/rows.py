"""Rows to records and back; the only place that knows column order."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from regard.store.records import (
    AccessKeyRecord,
    BoundingBox,
    CollectionRecord,
    FaceRecord,
    JobRecord,
    StreamProcessorRecord,
    UserRecord,
)

COLLECTION_COLUMNS = (
    "collection_id, face_model_version, embedding_size, created_at, face_count, user_count, tags, purpose, "
    "retention_days"
)
FACE_COLUMNS = (
    "face_id, image_id, box_left, box_top, box_width, box_height, confidence, index_model_version, "
    "indexed_at, external_image_id, user_id, indexed_by, expires_at, image_sha256"
)
FACE_INSERT = (
    "INSERT INTO faces (cid, face_id, image_id, box_left, box_top, box_width, box_height, confidence, "
    "index_model_version, indexed_at, external_image_id, user_id, indexed_by, expires_at, image_sha256, "
    "embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
def placeholders(columns: str, mark: str = "?") -> str:
    """One ``mark`` per column of a comma-separated column list (``?`` for SQLite, ``%s`` for psycopg)."""
    return ", ".join([mark] * len(columns.split(",")))


KEY_COLUMNS = "access_key_id, secret_access_key, scope, name, created_at, revoked_at, rate_limit"
JOB_COLUMNS = (
    "job_id, kind, status, params, created_at, updated_at, status_message, client_request_token, job_tag, "
    "access_key, result"
)

STREAM_PROCESSOR_COLUMNS = (
    "name, arn, input_arn, output_arn, collection_id, threshold, status, created_at, updated_at, "
    "status_message, desired_state, params, access_key"
)


def collection(row: tuple[Any, ...]) -> CollectionRecord:
    cid, fmv, size, created, faces, users, tags, purpose, retention = row
    return CollectionRecord(
        collection_id=cid,
        face_model_version=fmv,
        embedding_size=size,
        created_at=created,
        face_count=faces,
        user_count=users,
        tags=json.loads(tags),
        purpose=purpose,
        retention_days=retention,
    )


def face(row: tuple[Any, ...]) -> FaceRecord:
    (
        face_id,
        image_id,
        left,
        top,
        width,
        height,
        confidence,
        imv,
        indexed_at,
        ext,
        user_id,
        indexed_by,
        expires,
        sha,
    ) = row
    return FaceRecord(
        face_id=face_id,
        image_id=image_id,
        bounding_box=BoundingBox(left, top, width, height),
        confidence=confidence,
        index_model_version=imv,
        indexed_at=indexed_at,
        external_image_id=ext,
        user_id=user_id,
        indexed_by=indexed_by,
        expires_at=expires,
        image_sha256=sha,
    )


def face_params(cid: int, f: FaceRecord, expires_at: float | None, embedding: bytes) -> tuple[Any, ...]:
    b = f.bounding_box
    return (
        cid,
        f.face_id,
        f.image_id,
        b.left,
        b.top,
        b.width,
        b.height,
        f.confidence,
        f.index_model_version,
        f.indexed_at,
        f.external_image_id,
        f.user_id,
        f.indexed_by,
        expires_at,
        f.image_sha256,
        embedding,
    )


def user(row: tuple[Any, ...]) -> UserRecord:
    user_id, status, created_at, face_count = row
    return UserRecord(user_id=user_id, status=status, created_at=created_at, face_count=face_count)


def key(row: tuple[Any, ...]) -> AccessKeyRecord:
    return AccessKeyRecord(*row)


def key_params(k: AccessKeyRecord) -> tuple[Any, ...]:
    return (k.access_key_id, k.secret_access_key, k.scope, k.name, k.created_at, k.revoked_at, k.rate_limit)


def job(row: tuple[Any, ...]) -> JobRecord:
    job_id, kind, status, params, created, updated, message, token, tag, access_key, result = row
    return JobRecord(
        job_id=job_id,
        kind=kind,
        status=status,
        params=json.loads(params),
        created_at=created,
        updated_at=updated,
        status_message=message,
        client_request_token=token,
        job_tag=tag,
        access_key=access_key,
        result=json.loads(result) if result is not None else None,
    )


def vector(blob: bytes, size: int) -> np.ndarray:
    v = np.frombuffer(blob, dtype="<f4")
    if v.shape != (size,):
        raise ValueError(f"stored embedding has {v.size} values, expected {size}")
    return v.astype(np.float32)


def stream_processor(row: tuple[Any, ...]) -> StreamProcessorRecord:
    *head, params, access_key = row
    return StreamProcessorRecord(*head, params=json.loads(params), access_key=access_key)


def stream_processor_values(record: StreamProcessorRecord) -> tuple[Any, ...]:
    """The row of ``record``, in STREAM_PROCESSOR_COLUMNS order."""
    return (
        record.name,
        record.arn,
        record.input_arn,
        record.output_arn,
        record.collection_id,
        record.threshold,
        record.status,
        record.created_at,
        record.updated_at,
        record.status_message,
        record.desired_state,
        json.dumps(record.params),
        record.access_key,
    )
