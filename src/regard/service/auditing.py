"""Building audit records and writing them so that an operation fails when its record cannot be kept."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from regard.errors import InternalServerError
from regard.service.context import RequestContext
from regard.store.base import Store
from regard.store.records import AuditEntry

log = logging.getLogger(__name__)


class MatchedFace(Protocol):
    """What a match record needs of a face: a stored FaceRecord, or a ``Matched`` built from the wire."""

    @property
    def face_id(self) -> str: ...

    @property
    def user_id(self) -> str | None: ...


class Matched(NamedTuple):
    face_id: str
    user_id: str | None = None


def audit_entry(
    ctx: RequestContext, operation: str, collection_id: str | None = None, **details: Any
) -> AuditEntry:
    """The audit record of ``operation`` run for ``ctx``; details that are None are left out.

    The caller's stated purpose (``ctx.purpose``) goes into every record that has one.
    """
    if ctx.purpose is not None:
        details = {**details, "purpose": ctx.purpose}
    return AuditEntry(
        operation=operation,
        access_key=ctx.access_key,
        collection_id=collection_id,
        request_id=ctx.request_id,
        client=ctx.client,
        details={key: value for key, value in details.items() if value is not None},
    )


def append_or_fail(store: Store, entry: AuditEntry) -> None:
    """Append ``entry``; if it cannot be written, the operation it records fails (InternalServerError)."""
    try:
        store.append_audit(entry)
    except Exception as error:
        log.exception("audit record for %s could not be written", entry.operation)
        raise InternalServerError(
            f"The audit record could not be written, so {entry.operation} was not completed."
        ) from error


def sha256_hex(data: bytes) -> str:
    """The hex SHA-256 of probe bytes: names the photo searched with, without keeping it."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """The hex SHA-256 of a file read in chunks (a video may be gigabytes: never read whole)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def probe_details(
    probe: bytes | str | None,
    *,
    faces: Iterable[tuple[MatchedFace, float]] | None = None,
    users: Iterable[tuple[str, float]] | None = None,
    similarities: Iterable[float] | None = None,
) -> dict[str, Any]:
    """The audit details every search by image records: ``probe_sha256`` and ``matches``.

    ``probe`` is the image bytes searched with (or their hex SHA-256 when hashed already, as for a video
    file). ``matches`` lists each returned match with its similarity: stored faces as
    ``{"face_id", "similarity", "user_id"?}``, users as ``{"user_id", "similarity"}``, and faces found in
    a second image (CompareFaces) as ``{"similarity"}``. Never the image itself.
    """
    found: list[dict[str, Any]] = []
    for face, similarity in faces or ():
        match: dict[str, Any] = {"face_id": face.face_id, "similarity": round(float(similarity), 5)}
        if face.user_id is not None:
            match["user_id"] = face.user_id
        found.append(match)
    found.extend({"user_id": user, "similarity": round(float(s), 5)} for user, s in users or ())
    found.extend({"similarity": round(float(s), 5)} for s in similarities or ())
    details: dict[str, Any] = {"matches": found}
    if probe is not None:
        details["probe_sha256"] = probe if isinstance(probe, str) else sha256_hex(probe)
    return details
