"""The one interface every store backend implements (embedded SQLite now, PostgreSQL + pgvector next).

Business rules (Rekognition reasons, thresholds, quotas) live in the service; the store keeps data
consistent and durable: a call that returns has committed, and a write that carries ``audit`` commits
the audit record in the same transaction, so an operation and its record stand or fall together.
Unknown collections raise ``ResourceNotFoundException``; everything else returns plain records.
``tests/store/contract.py`` is the contract every backend must pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from regard.store.records import (
    AccessKeyRecord,
    AuditEntry,
    AuditRecord,
    AuditVerification,
    CollectionRecord,
    FaceRecord,
    JobRecord,
    UserRecord,
)

Vector = NDArray[np.float32]


class DataDirInUseError(RuntimeError):
    """Another store (in this or another process) has the data folder open; two would diverge."""


class Store(Protocol):
    # --- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None: ...

    # --- collections -----------------------------------------------------------------------------
    def create_collection(self, record: CollectionRecord, *, audit: AuditEntry | None = None) -> None:
        """Raises ResourceAlreadyExistsException if the ID exists."""

    def get_collection(self, collection_id: str) -> CollectionRecord:
        """With current face_count and user_count."""

    def list_collections(self, *, after: str | None, limit: int) -> list[CollectionRecord]:
        """Ordered by collection_id; ``after`` is exclusive."""

    def delete_collection(self, collection_id: str, *, audit: AuditEntry | None = None) -> None:
        """Removes the collection, its faces, users and vectors for good."""

    # --- faces -----------------------------------------------------------------------------------
    def add_faces(
        self,
        collection_id: str,
        faces: Sequence[FaceRecord],
        embeddings: Vector,
        *,
        audit: AuditEntry | None = None,
    ) -> None:
        """Durable on return (survives kill -9); ``embeddings`` is (len(faces), d), L2-normalised."""

    def get_faces(self, collection_id: str, face_ids: Sequence[str]) -> list[FaceRecord]:
        """The faces that exist, in the order asked; missing IDs are left out."""

    def list_faces(
        self,
        collection_id: str,
        *,
        after: str | None,
        limit: int,
        user_id: str | None = None,
        face_ids: Sequence[str] | None = None,
    ) -> list[FaceRecord]:
        """Ordered by face_id; ``after`` is exclusive."""

    def find_faces_by_image(
        self, collection_id: str, image_sha256: str, external_image_id: str | None
    ) -> list[FaceRecord]:
        """Faces indexed before from the same image bytes under the same ExternalImageId."""

    def get_embeddings(self, collection_id: str, face_ids: Sequence[str]) -> dict[str, Vector]: ...

    def delete_faces(
        self, collection_id: str, face_ids: Sequence[str], *, audit: AuditEntry | None = None
    ) -> list[str]:
        """Erases faces and their vectors; returns the IDs that existed and are now gone."""

    def search_faces(
        self,
        collection_id: str,
        query: Vector,
        *,
        max_results: int,
        min_cosine: float = -1.0,
        exclude: Sequence[str] = (),
    ) -> list[tuple[FaceRecord, float]]:
        """Nearest faces by cosine similarity, best first."""

    def search_faces_batch(
        self, collection_id: str, queries: Vector, *, max_results: int, min_cosine: float = -1.0
    ) -> list[list[tuple[FaceRecord, float]]]:
        """``search_faces`` for each row of ``queries`` (n, d), answered as one batch: one list per row.

        Many faces of one photo are searched at once (RecognizeFaces); the results are exactly those of
        ``search_faces`` per row, without one round trip to the index and the database per face.
        """

    def expired_faces(self, now: float, *, limit: int = 1000) -> list[tuple[str, str]]:
        """(collection_id, face_id) of faces whose expires_at is at or before ``now``."""

    # --- users -----------------------------------------------------------------------------------
    def create_user(self, collection_id: str, user_id: str, *, audit: AuditEntry | None = None) -> None:
        """Raises ConflictException if the user exists."""

    def get_user(self, collection_id: str, user_id: str) -> UserRecord | None: ...

    def list_users(self, collection_id: str, *, after: str | None, limit: int) -> list[UserRecord]: ...

    def delete_user(self, collection_id: str, user_id: str, *, audit: AuditEntry | None = None) -> None:
        """Deletes the user and its association with faces (the faces stay)."""

    def associate_faces(
        self, collection_id: str, user_id: str, face_ids: Sequence[str], *, audit: AuditEntry | None = None
    ) -> None: ...

    def disassociate_faces(
        self, collection_id: str, user_id: str, face_ids: Sequence[str], *, audit: AuditEntry | None = None
    ) -> None: ...

    # --- idempotency -----------------------------------------------------------------------------
    def recall_request(self, token: str, operation: str) -> tuple[str, dict[str, object]] | None:
        """The (parameters digest, response) remembered for a ClientRequestToken, if any."""

    def remember_request(
        self, token: str, operation: str, digest: str, response: dict[str, object]
    ) -> None: ...

    # --- audit -----------------------------------------------------------------------------------
    def append_audit(self, entry: AuditEntry) -> AuditRecord: ...

    def list_audit(
        self,
        *,
        collection_id: str | None = None,
        since: float | None = None,
        after_seq: int | None = None,
        limit: int = 1000,
    ) -> list[AuditRecord]: ...

    def iter_audit(self) -> Iterator[AuditRecord]: ...

    def verify_audit(self) -> AuditVerification: ...

    def audit_head(self) -> tuple[int, str]:
        """(seq, hash) of the newest audit record; (0, 64 zeros) while the log is empty."""
        ...

    # --- access keys -----------------------------------------------------------------------------
    def create_key(self, record: AccessKeyRecord) -> None: ...

    def get_key(self, access_key_id: str) -> AccessKeyRecord | None: ...

    def list_keys(self) -> list[AccessKeyRecord]: ...

    def revoke_key(self, access_key_id: str, when: float) -> bool: ...

    # --- video jobs ------------------------------------------------------------------------------
    def create_job(self, record: JobRecord, *, audit: AuditEntry | None = None) -> None: ...

    def get_job(self, job_id: str) -> JobRecord | None: ...

    def find_job_by_token(self, kind: str, client_request_token: str) -> JobRecord | None: ...

    def update_job(
        self,
        job_id: str,
        *,
        status: str,
        status_message: str | None = None,
        result: dict[str, object] | None = None,
    ) -> None: ...

    def list_jobs(self, *, status: str | None = None) -> list[JobRecord]: ...
