"""Retention and erasure: faces are held for a stated time, and deleting a person really deletes them.

``sweep`` erases every face whose expiry has passed (disassociating it from its user first) and audits
what it erased. ``erase`` removes a whole user (the user and all its faces) or every face indexed
under an ExternalImageId; the store removes the templates from the database pages and the vector
index files, not only from view.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from regard.errors import InvalidParameterException
from regard.service.context import RequestContext
from regard.service.periodic import PeriodicWorker

if TYPE_CHECKING:
    from regard.service.app import Regard

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ErasureReport:
    collection_id: str
    face_ids: list[str]
    user_ids: list[str]


def sweep(
    regard: Regard, ctx: RequestContext | None = None, *, now: float | None = None
) -> list[ErasureReport]:
    """Erase the faces whose expiry is at or before ``now``; one audited deletion per collection."""
    ctx = ctx or RequestContext(client="retention")
    now = regard.clock() if now is None else now
    reports: list[ErasureReport] = []
    while True:
        expired = regard.store.expired_faces(now, limit=1000)
        if not expired:
            return reports
        by_collection: dict[str, list[str]] = defaultdict(list)
        for collection_id, face_id in expired:
            by_collection[collection_id].append(face_id)
        for collection_id, face_ids in by_collection.items():
            _release_from_users(regard, ctx, collection_id, face_ids, "RetentionSweep")
            audit = regard.audit_entry(
                ctx, "RetentionSweep", collection_id, face_ids=face_ids, expired_before=now
            )
            deleted = regard.store.delete_faces(collection_id, face_ids, audit=audit)
            reports.append(ErasureReport(collection_id, deleted, []))


def _release_from_users(
    regard: Regard, ctx: RequestContext, collection_id: str, face_ids: list[str], operation: str
) -> None:
    by_user: dict[str, list[str]] = defaultdict(list)
    for record in regard.store.get_faces(collection_id, face_ids):
        if record.user_id is not None:
            by_user[record.user_id].append(record.face_id)
    for user_id, ids in by_user.items():
        audit = regard.audit_entry(ctx, operation, collection_id, user_id=user_id, disassociated=ids)
        regard.store.disassociate_faces(collection_id, user_id, ids, audit=audit)


def erase(
    regard: Regard,
    collection_id: str,
    *,
    user_id: str | None = None,
    external_image_id: str | None = None,
    ctx: RequestContext | None = None,
) -> ErasureReport:
    """Erase a user with all its faces, or every face of an ExternalImageId, from a collection."""
    ctx = ctx or RequestContext(client="cli")
    if (user_id is None) == (external_image_id is None):
        raise InvalidParameterException("Give exactly one of a user or an external image ID to erase.")
    regard.store.get_collection(collection_id)
    face_ids = _faces_of(regard, collection_id, user_id=user_id, external_image_id=external_image_id)
    users: list[str] = []
    if user_id is not None:
        if regard.store.get_user(collection_id, user_id) is None and not face_ids:
            raise InvalidParameterException(f"Collection {collection_id} has no user {user_id}.")
        if regard.store.get_user(collection_id, user_id) is not None:
            audit = regard.audit_entry(ctx, "Erase", collection_id, user_id=user_id, faces=len(face_ids))
            regard.store.delete_user(collection_id, user_id, audit=audit)
            users.append(user_id)
    else:
        _release_from_users(regard, ctx, collection_id, face_ids, "Erase")
    audit = regard.audit_entry(
        ctx, "Erase", collection_id, face_ids=face_ids, user_id=user_id, external_image_id=external_image_id
    )
    deleted = regard.store.delete_faces(collection_id, face_ids, audit=audit) if face_ids else []
    if not face_ids:
        regard.record(audit)
    return ErasureReport(collection_id, deleted, users)


def _faces_of(
    regard: Regard, collection_id: str, *, user_id: str | None, external_image_id: str | None
) -> list[str]:
    found: list[str] = []
    after: str | None = None
    while True:
        batch = regard.store.list_faces(collection_id, after=after, limit=1000, user_id=user_id)
        if not batch:
            return found
        found.extend(
            f.face_id for f in batch if external_image_id is None or f.external_image_id == external_image_id
        )
        after = batch[-1].face_id


class RetentionWorker(PeriodicWorker):
    """Runs ``sweep`` every ``interval`` seconds in a daemon thread until stopped (used by the server)."""

    def __init__(self, regard: Regard, interval: float = 3600.0) -> None:
        self._regard = regard
        super().__init__("retention", interval, self._sweep)

    def _sweep(self) -> None:
        lease = getattr(self._regard.store, "try_lease", None)  # a shared store: one sweep per period
        owner = getattr(self._regard.store, "owner", "local")
        if lease is not None and not lease("retention-sweep", owner, self._interval * 0.9):
            return
        erased = sweep(self._regard)
        if erased:
            log.info("retention sweep erased %d faces", sum(len(r.face_ids) for r in erased))
