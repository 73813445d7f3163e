"""The hash chain of audit records, and the anchor that makes a cut-off tail visible.

Each record's hash is sha256 over the canonical JSON of its sequence number, time, entry fields and the hash
of the record before it (64 zeros for the first). Changing, inserting or removing a record breaks the chain
at that point. Removing the newest records leaves a valid but shorter chain, so the newest (seq, hash) is
also written to ``audit.anchor`` beside the database; that file carries its own checksum. What this can and
cannot detect is written down in docs/data-layout.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regard.store.records import AuditEntry, AuditRecord, AuditVerification

GENESIS = "0" * 64
_ANCHOR_MAGIC = "regard-audit-anchor-v1"


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces, UTF-8 text, no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def record_hash(seq: int, time: float, entry: AuditEntry, prev_hash: str) -> str:
    body = {
        "seq": seq,
        "time": time,
        "operation": entry.operation,
        "access_key": entry.access_key,
        "collection_id": entry.collection_id,
        "request_id": entry.request_id,
        "client": entry.client,
        "details": entry.details,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


AUDIT_COLUMNS = (
    "seq, time, operation, access_key, collection_id, request_id, client, details, prev_hash, hash"
)


def row_to_record(row: sqlite3.Row | tuple[Any, ...]) -> AuditRecord:
    seq, time, operation, access_key, collection_id, request_id, client, details, prev_hash, hash_ = row
    entry = AuditEntry(
        operation=operation,
        access_key=access_key,
        collection_id=collection_id,
        request_id=request_id,
        client=client,
        details=json.loads(details),
    )
    return AuditRecord(seq=seq, time=time, entry=entry, prev_hash=prev_hash, hash=hash_)


def prepare(entry: AuditEntry) -> tuple[AuditEntry, str]:
    """(the entry as it will read back, its details as stored); every backend hashes exactly this."""
    details = canonical_json(entry.details)  # fails early on values JSON cannot hold
    entry = AuditEntry(
        operation=entry.operation,
        access_key=entry.access_key,
        collection_id=entry.collection_id,
        request_id=entry.request_id,
        client=entry.client,
        details=json.loads(details),  # hash what will be read back (tuples become lists, and so on)
    )
    return entry, details


def list_query(
    mark: str, collection_id: str | None, since: float | None, after_seq: int | None, limit: int
) -> tuple[str, list[Any]]:
    """The SELECT behind ``Store.list_audit`` with ``mark`` as the parameter placeholder (? or %s)."""
    sql = f"SELECT {AUDIT_COLUMNS} FROM audit WHERE seq > {mark}"
    params: list[Any] = [after_seq or 0]
    if collection_id is not None:
        sql += f" AND collection_id = {mark}"
        params.append(collection_id)
    if since is not None:
        sql += f" AND time >= {mark}"
        params.append(since)
    sql += f" ORDER BY seq LIMIT {mark}"
    params.append(limit)
    return sql, params


def append(conn: sqlite3.Connection, entry: AuditEntry, now: float) -> AuditRecord:
    """Insert the next record inside the caller's open write transaction."""
    entry, details = prepare(entry)
    last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    record = link(last[0] + 1 if last else 1, last[1] if last else GENESIS, now, entry)
    conn.execute(
        f"INSERT INTO audit ({AUDIT_COLUMNS}) VALUES ({', '.join('?' * 10)})", row_values(record, details)
    )
    return record


def link(seq: int, prev_hash: str, now: float, entry: AuditEntry) -> AuditRecord:
    """The record that follows (seq - 1, prev_hash), with its hash."""
    digest = record_hash(seq, now, entry, prev_hash)
    return AuditRecord(seq=seq, time=now, entry=entry, prev_hash=prev_hash, hash=digest)


def row_values(record: AuditRecord, details: str) -> tuple[Any, ...]:
    """The values of ``AUDIT_COLUMNS`` for ``record`` (``details`` as ``prepare`` gave it)."""
    e = record.entry
    return (
        record.seq,
        record.time,
        e.operation,
        e.access_key,
        e.collection_id,
        e.request_id,
        e.client,
        details,
        record.prev_hash,
        record.hash,
    )


@dataclass(frozen=True, slots=True)
class Anchor:
    seq: int
    hash: str


def write_anchor(path: Path, anchor: Anchor) -> None:
    """Replace the anchor file atomically (mode 0600); after a crash it may lag the database, not lead it."""
    body = f"{_ANCHOR_MAGIC} {anchor.seq} {anchor.hash}"
    check = hashlib.sha256(body.encode()).hexdigest()
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, f"{body} {check}\n".encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_anchor(path: Path) -> Anchor | str | None:
    """The anchor; None when there is none yet; a reason string when the file is damaged."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    parts = text.split(" ")
    if len(parts) != 4 or parts[0] != _ANCHOR_MAGIC:
        return "audit anchor file is malformed"
    body = " ".join(parts[:3])
    if hashlib.sha256(body.encode()).hexdigest() != parts[3] or not parts[1].isdigit():
        return "audit anchor file fails its checksum"
    return Anchor(int(parts[1]), parts[2])


def verify(rows: Iterable[tuple[Any, ...]], anchor: Anchor | str | None) -> AuditVerification:
    """Walk the chain in seq order; report the first record that is not what the chain says it must be."""
    expected_seq, prev_hash, checked = 1, GENESIS, 0
    hashes: dict[int, str] = {}
    want = anchor.seq if isinstance(anchor, Anchor) else None
    for row in rows:
        rec = row_to_record(row)
        if rec.seq != expected_seq:
            return AuditVerification(False, checked, expected_seq, f"record {expected_seq} is missing")
        if rec.prev_hash != prev_hash:
            return AuditVerification(
                False, checked, rec.seq, f"record {rec.seq} does not link to record {rec.seq - 1}"
            )
        if record_hash(rec.seq, rec.time, rec.entry, rec.prev_hash) != rec.hash:
            return AuditVerification(False, checked, rec.seq, f"record {rec.seq} was changed (hash mismatch)")
        if want is not None and rec.seq == want:
            hashes[rec.seq] = rec.hash
        checked += 1
        expected_seq, prev_hash = rec.seq + 1, rec.hash
    if isinstance(anchor, str):
        return AuditVerification(False, checked, None, anchor)
    if anchor is not None:
        if checked < anchor.seq:
            return AuditVerification(
                False,
                checked,
                checked + 1,
                f"records {checked + 1}..{anchor.seq} are missing: the log ends before its anchor",
            )
        if anchor.seq and hashes.get(anchor.seq) != anchor.hash:
            return AuditVerification(
                False, checked, anchor.seq, f"record {anchor.seq} differs from the anchored head hash"
            )
    elif checked:
        return AuditVerification(False, checked, None, "audit anchor file is missing")
    return AuditVerification(True, checked)
