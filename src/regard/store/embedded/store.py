"""``EmbeddedStore``: one data directory, SQLite for records and embeddings, a vector index per collection.

Writes are serialised by one lock and one writer connection, each in an explicit transaction; reads use one
connection per thread, so searches run while a write commits (WAL). A write that returns has been fsynced.
Vector indexes change only after their rows commit, still under the writer lock, so they follow the database
in commit order; a crash between the two is repaired at start-up (``VectorIndex.open``).
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from regard.errors import (
    ConflictException,
    InvalidParameterException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    StorageFullError,
)
from regard.store.base import DataDirInUseError, Vector
from regard.store.embedded import audit as chain
from regard.store.embedded import keys as access_keys
from regard.store.embedded import rows, schema
from regard.store.records import (
    AccessKeyRecord,
    AuditEntry,
    AuditRecord,
    AuditVerification,
    CollectionRecord,
    FaceRecord,
    JobRecord,
    StreamProcessorRecord,
    UserRecord,
)
from regard.store.vector_index import IndexSettings, Keys, Matrix, VectorIndex

log = logging.getLogger(__name__)

DB_NAME = "regard.db"
ANCHOR_NAME = "audit.anchor"
LOCK_NAME = "lock"
INDEX_DIR = "index"
_PAGE = 1000
_LIST = "(SELECT value FROM json_each(?))"  # a whole list bound as one JSON parameter


class EmbeddedStore:
    """The ``Store`` for one machine. ``save_interval`` is how often dirty HNSW graphs are written to disk."""

    def __init__(
        self,
        data_dir: Path,
        *,
        index_settings: IndexSettings | None = None,
        save_interval: float = 60.0,
    ) -> None:
        self.data_dir = Path(data_dir)
        self._settings = index_settings or IndexSettings()
        _private_dir(self.data_dir)
        _private_dir(self.data_dir / INDEX_DIR)
        self._lock_fd = _lock_dir(self.data_dir / LOCK_NAME)
        try:
            self._open(save_interval)
        except BaseException:
            if hasattr(self, "_w"):
                self._w.close()
            os.close(self._lock_fd)
            raise

    def _open(self, save_interval: float) -> None:
        self._db_path = self.data_dir / DB_NAME
        self._anchor_path = self.data_dir / ANCHOR_NAME
        _private_file(self._db_path)  # before SQLite creates it: its -wal and -shm files copy its mode
        self._w = schema.connect(self._db_path)
        self._wlock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._indexes: dict[int, VectorIndex] = {}
        self._closed = False
        self._last_audit: AuditRecord | None = None
        schema.migrate(self._w)
        self._fix_modes()
        self._open_anchor()
        self._open_indexes()
        self._stop = threading.Event()
        self._wake = threading.Event()  # a graph lost vectors: save soon, so its file is rewritten
        self._saver = threading.Thread(
            target=self._save_loop, args=(save_interval,), name="regard-index-saver", daemon=True
        )
        self._saver.start()

    # --- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        """Save dirty vector indexes, fold the WAL into the database, release the directory."""
        with self._wlock:
            if self._closed or self._stop.is_set():
                return
            self._stop.set()
            self._wake.set()
        self._saver.join()
        for index in list(self._indexes.values()):
            index.close()  # a graph still being built is built again from the database at the next start
        with self._wlock:
            try:
                self._save_indexes()
            except OSError:  # a full disk: the graphs are rebuilt from the database at the next start
                log.exception("vector indexes not saved at close")
            with self._readers_lock:
                for conn in self._readers:
                    conn.close()
                self._readers.clear()
            try:
                self._truncate_wal()
            except sqlite3.Error:  # a full disk: the WAL stays and SQLite replays it at the next open
                log.exception("WAL not folded into the database at close")
            self._w.close()
            self._closed = True
            os.close(self._lock_fd)

    def checkpoint(self) -> None:
        """Save dirty vector indexes and truncate the WAL (the saver thread calls this periodically)."""
        with self._wlock:
            self._check_open()
            self._save_indexes()
            self._truncate_wal()

    def __enter__(self) -> EmbeddedStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- collections -----------------------------------------------------------------------------
    def create_collection(self, record: CollectionRecord, *, audit: AuditEntry | None = None) -> None:
        with self._wlock:
            with self._write(audit) as c:
                try:
                    cur = c.execute(
                        "INSERT INTO collections (collection_id, face_model_version, embedding_size, "
                        "created_at, tags, purpose, retention_days) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            record.collection_id,
                            record.face_model_version,
                            record.embedding_size,
                            record.created_at,
                            json.dumps(record.tags),
                            record.purpose,
                            record.retention_days,
                        ),
                    )
                except sqlite3.IntegrityError:
                    raise ResourceAlreadyExistsException(
                        f"The collection id: {record.collection_id} already exists"
                    ) from None
                cid = int(cur.lastrowid or 0)
            self._indexes[cid] = self._new_index(cid, record.embedding_size)

    def get_collection(self, collection_id: str) -> CollectionRecord:
        row = self._one(
            f"SELECT {rows.COLLECTION_COLUMNS} FROM collections WHERE collection_id = ?", (collection_id,)
        )
        if row is None:
            raise _no_collection(collection_id)
        return rows.collection(row)

    def list_collections(self, *, after: str | None, limit: int) -> list[CollectionRecord]:
        found = self._all(
            f"SELECT {rows.COLLECTION_COLUMNS} FROM collections WHERE collection_id > ? "
            "ORDER BY collection_id LIMIT ?",
            (after or "", limit),
        )
        return [rows.collection(r) for r in found]

    def delete_collection(self, collection_id: str, *, audit: AuditEntry | None = None) -> None:
        with self._wlock:
            with self._write(audit) as c:
                cid, _, _ = self._collection(c, collection_id)
                c.execute("DELETE FROM face_clusters WHERE cid = ?", (cid,))
                c.execute("DELETE FROM faces WHERE cid = ?", (cid,))
                c.execute("DELETE FROM users WHERE cid = ?", (cid,))
                c.execute("DELETE FROM collections WHERE cid = ?", (cid,))
            index = self._indexes.pop(cid, None)
            if index is not None:
                index.clear()
            self._truncate_wal()

    # --- faces -----------------------------------------------------------------------------------
    def add_faces(
        self,
        collection_id: str,
        faces: Sequence[FaceRecord],
        embeddings: Vector,
        *,
        audit: AuditEntry | None = None,
    ) -> None:
        emb = np.ascontiguousarray(embeddings, dtype=np.float32)
        with self._wlock:
            with self._write(audit) as c:
                cid, size, retention_days = self._collection(c, collection_id)
                _check_embeddings(emb, len(faces), size)
                fids: list[int] = []
                try:
                    for face, vec in zip(faces, emb, strict=True):
                        expires = face.expires_at
                        if expires is None and retention_days is not None:
                            expires = face.indexed_at + retention_days * 86400.0  # the collection's default
                        cur = c.execute(
                            rows.FACE_INSERT,
                            rows.face_params(cid, face, expires, vec.astype("<f4").tobytes()),
                        )
                        fids.append(int(cur.lastrowid or 0))
                except sqlite3.IntegrityError as exc:
                    raise InvalidParameterException(f"face already stored: {exc}") from None
                c.execute(
                    "UPDATE collections SET face_count = face_count + ? WHERE cid = ?", (len(fids), cid)
                )
            if fids:
                self._indexes[cid].add(np.asarray(fids, np.int64), emb)

    def get_faces(self, collection_id: str, face_ids: Sequence[str]) -> list[FaceRecord]:
        cid = self._cid(collection_id)
        found = self._all(
            f"SELECT {rows.FACE_COLUMNS} FROM faces WHERE cid = ? AND face_id IN " + _LIST,
            (cid, json.dumps(list(face_ids))),
        )
        by_id = {r[0]: rows.face(r) for r in found}
        return [by_id.pop(f) for f in face_ids if f in by_id]

    def list_faces(
        self,
        collection_id: str,
        *,
        after: str | None,
        limit: int,
        user_id: str | None = None,
        face_ids: Sequence[str] | None = None,
    ) -> list[FaceRecord]:
        cid = self._cid(collection_id)
        sql = f"SELECT {rows.FACE_COLUMNS} FROM faces WHERE cid = ? AND face_id > ?"
        params: list[Any] = [cid, after or ""]
        if user_id is not None:
            sql += " AND user_id = ?"
            params.append(user_id)
        if face_ids is not None:
            sql += " AND face_id IN " + _LIST
            params.append(json.dumps(list(face_ids)))
        sql += " ORDER BY face_id LIMIT ?"
        params.append(limit)
        return [rows.face(r) for r in self._all(sql, params)]

    def find_faces_by_image(
        self, collection_id: str, image_sha256: str, external_image_id: str | None
    ) -> list[FaceRecord]:
        cid = self._cid(collection_id)
        found = self._all(
            f"SELECT {rows.FACE_COLUMNS} FROM faces WHERE cid = ? AND image_sha256 = ? "
            "AND external_image_id IS ? ORDER BY face_id",
            (cid, image_sha256, external_image_id),
        )
        return [rows.face(r) for r in found]

    def get_embeddings(self, collection_id: str, face_ids: Sequence[str]) -> dict[str, Vector]:
        cid, size = self._cid_size(collection_id)
        found = self._all(
            "SELECT face_id, embedding FROM faces WHERE cid = ? AND face_id IN " + _LIST,
            (cid, json.dumps(list(face_ids))),
        )
        return {face_id: rows.vector(blob, size) for face_id, blob in found}

    def delete_faces(
        self, collection_id: str, face_ids: Sequence[str], *, audit: AuditEntry | None = None
    ) -> list[str]:
        with self._wlock:
            with self._write(audit) as c:
                cid, _, _ = self._collection(c, collection_id)
                found = c.execute(
                    "SELECT fid, face_id FROM faces WHERE cid = ? AND face_id IN " + _LIST,
                    (cid, json.dumps(list(face_ids))),
                ).fetchall()
                fids = [fid for fid, _ in found]
                c.execute("DELETE FROM faces WHERE fid IN " + _LIST, (json.dumps(fids),))
                c.execute(
                    "UPDATE collections SET face_count = face_count - ? WHERE cid = ?", (len(fids), cid)
                )
            if fids:
                if self._indexes[cid].remove(fids) and self._indexes[cid].approximate:
                    self._wake.set()
                self._truncate_wal()
        gone = {face_id for _, face_id in found}
        return [f for f in dict.fromkeys(face_ids) if f in gone]

    def search_faces(
        self,
        collection_id: str,
        query: Vector,
        *,
        max_results: int,
        min_cosine: float = -1.0,
        exclude: Sequence[str] = (),
    ) -> list[tuple[FaceRecord, float]]:
        cid, size = self._cid_size(collection_id)
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if q.shape != (size,):
            raise InvalidParameterException(f"query must be {size} finite values")
        return self._search(cid, size, q[None, :], max_results, min_cosine, exclude)[0]

    def search_faces_batch(
        self, collection_id: str, queries: Vector, *, max_results: int, min_cosine: float = -1.0
    ) -> list[list[tuple[FaceRecord, float]]]:
        cid, size = self._cid_size(collection_id)
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim != 2 or q.shape[1] != size:
            raise InvalidParameterException(f"queries must be rows of {size} finite values")
        return self._search(cid, size, q, max_results, min_cosine, ())

    def _search(
        self,
        cid: int,
        size: int,
        queries: Vector,
        max_results: int,
        min_cosine: float,
        exclude: Sequence[str],
    ) -> list[list[tuple[FaceRecord, float]]]:
        """The index proposes candidates for all queries in one batch; scores are then computed exactly from
        the stored float32 vectors, read in one query for the whole batch.

        Re-scoring also drops any candidate whose row is gone (a delete racing this search).
        """
        if not np.all(np.isfinite(queries)):
            raise InvalidParameterException(f"queries must be rows of {size} finite values")
        hits: list[list[tuple[FaceRecord, float]]] = [[] for _ in range(len(queries))]
        norms = np.linalg.norm(queries, axis=1)
        live = np.flatnonzero(norms > 0.0)
        index = self._indexes.get(cid)
        if index is None or max_results <= 0 or len(live) == 0:
            return hits
        q = queries[live] / norms[live, None]
        skip = set(exclude)
        want = max_results + len(skip) + (16 if index.approximate else 0)
        proposed = index.search_batch(q, want)
        keys = np.unique(np.concatenate([k for k, _ in proposed]))
        if len(keys) == 0:
            return hits
        found = self._all(
            f"SELECT fid, {rows.FACE_COLUMNS}, embedding FROM faces WHERE fid IN " + _LIST,
            (json.dumps(keys.tolist()),),
        )
        if not found:
            return hits
        position = {r[0]: i for i, r in enumerate(found)}
        records = [rows.face(r[1:-1]) for r in found]
        scores = np.stack([rows.vector(r[-1], size) for r in found]) @ q.T  # (candidates, queries)
        for column, (row_keys, _) in enumerate(proposed):
            query_hits = []
            for key in row_keys.tolist():
                at = position.get(key)
                if at is None or records[at].face_id in skip:
                    continue
                score = float(scores[at, column])
                if score >= min_cosine:
                    query_hits.append((records[at], score))
            query_hits.sort(key=lambda h: (-h[1], h[0].face_id))
            hits[int(live[column])] = query_hits[:max_results]
        return hits

    def expired_faces(self, now: float, *, limit: int = 1000) -> list[tuple[str, str]]:
        found = self._all(
            "SELECT c.collection_id, f.face_id FROM faces f JOIN collections c ON c.cid = f.cid "
            "WHERE f.expires_at <= ? ORDER BY f.expires_at, f.fid LIMIT ?",
            (now, limit),
        )
        return [(c, f) for c, f in found]

    # --- face clusters ---------------------------------------------------------------------------
    def get_face_clusters(self, collection_id: str) -> dict[str, str]:
        cid = self._cid(collection_id)
        found = self._all(
            "SELECT f.face_id, k.cluster_id FROM face_clusters k JOIN faces f ON f.fid = k.fid "
            "WHERE k.cid = ?",
            (cid,),
        )
        return dict(found)

    def set_face_clusters(
        self, collection_id: str, assignments: Mapping[str, str], *, audit: AuditEntry | None = None
    ) -> None:
        with self._wlock, self._write(audit) as c:
            cid, _, _ = self._collection(c, collection_id)
            c.execute("DELETE FROM face_clusters WHERE cid = ?", (cid,))
            c.executemany(  # one index lookup per face (a join on json_each took 17 s for 5,000 faces)
                "INSERT INTO face_clusters (fid, cid, cluster_id) "
                "SELECT fid, cid, ? FROM faces WHERE cid = ? AND face_id = ?",
                [(cluster_id, cid, face_id) for face_id, cluster_id in assignments.items()],
            )

    # --- users -----------------------------------------------------------------------------------
    def create_user(self, collection_id: str, user_id: str, *, audit: AuditEntry | None = None) -> None:
        with self._wlock, self._write(audit) as c:
            cid, _, _ = self._collection(c, collection_id)
            try:
                c.execute(
                    "INSERT INTO users (cid, user_id, status, created_at) VALUES (?, ?, 'CREATED', ?)",
                    (cid, user_id, time.time()),
                )
            except sqlite3.IntegrityError:
                raise ConflictException(
                    f"User {user_id} already exists in collection {collection_id}"
                ) from None
            c.execute("UPDATE collections SET user_count = user_count + 1 WHERE cid = ?", (cid,))

    _USER_SELECT = (
        "SELECT u.user_id, u.status, u.created_at, "
        "(SELECT count(*) FROM faces f WHERE f.cid = u.cid AND f.user_id = u.user_id) FROM users u "
    )

    def get_user(self, collection_id: str, user_id: str) -> UserRecord | None:
        cid = self._cid(collection_id)
        row = self._one(self._USER_SELECT + "WHERE u.cid = ? AND u.user_id = ?", (cid, user_id))
        return rows.user(row) if row else None

    def list_users(self, collection_id: str, *, after: str | None, limit: int) -> list[UserRecord]:
        cid = self._cid(collection_id)
        found = self._all(
            self._USER_SELECT + "WHERE u.cid = ? AND u.user_id > ? ORDER BY u.user_id LIMIT ?",
            (cid, after or "", limit),
        )
        return [rows.user(r) for r in found]

    def delete_user(self, collection_id: str, user_id: str, *, audit: AuditEntry | None = None) -> None:
        """Unknown users raise ResourceNotFoundException, as Rekognition's DeleteUser does."""
        with self._wlock, self._write(audit) as c:
            cid, _, _ = self._collection(c, collection_id)
            cur = c.execute("DELETE FROM users WHERE cid = ? AND user_id = ?", (cid, user_id))
            if cur.rowcount == 0:
                raise ResourceNotFoundException(
                    f"User {user_id} does not exist in collection {collection_id}"
                )
            c.execute("UPDATE faces SET user_id = NULL WHERE cid = ? AND user_id = ?", (cid, user_id))
            c.execute("UPDATE collections SET user_count = user_count - 1 WHERE cid = ?", (cid,))

    def associate_faces(
        self, collection_id: str, user_id: str, face_ids: Sequence[str], *, audit: AuditEntry | None = None
    ) -> None:
        """Sets user_id on the listed faces that exist; the service decides which faces may move."""
        with self._wlock, self._write(audit) as c:
            cid, _, _ = self._collection(c, collection_id)
            self._require_user(c, cid, collection_id, user_id)
            c.execute(
                "UPDATE faces SET user_id = ? WHERE cid = ? AND face_id IN " + _LIST,
                (user_id, cid, json.dumps(list(face_ids))),
            )
            c.execute("UPDATE users SET status = 'ACTIVE' WHERE cid = ? AND user_id = ?", (cid, user_id))

    def disassociate_faces(
        self, collection_id: str, user_id: str, face_ids: Sequence[str], *, audit: AuditEntry | None = None
    ) -> None:
        """Clears user_id on the listed faces that belong to this user; others are left alone."""
        with self._wlock, self._write(audit) as c:
            cid, _, _ = self._collection(c, collection_id)
            self._require_user(c, cid, collection_id, user_id)
            c.execute(
                "UPDATE faces SET user_id = NULL WHERE cid = ? AND user_id = ? AND face_id IN " + _LIST,
                (cid, user_id, json.dumps(list(face_ids))),
            )

    # --- idempotency -----------------------------------------------------------------------------
    def recall_request(self, token: str, operation: str) -> tuple[str, dict[str, object]] | None:
        row = self._one(
            "SELECT digest, response FROM requests WHERE token = ? AND operation = ?", (token, operation)
        )
        return (row[0], json.loads(row[1])) if row else None

    def remember_request(self, token: str, operation: str, digest: str, response: dict[str, object]) -> None:
        """The first answer for a token wins; a later one is ignored."""
        with self._wlock, self._write(None) as c:
            c.execute(
                "INSERT OR IGNORE INTO requests (token, operation, digest, response, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (token, operation, digest, json.dumps(response), time.time()),
            )

    # --- audit -----------------------------------------------------------------------------------
    def append_audit(self, entry: AuditEntry) -> AuditRecord:
        with self._wlock:
            with self._write(entry):
                pass
            assert self._last_audit is not None
            return self._last_audit

    def list_audit(
        self,
        *,
        collection_id: str | None = None,
        since: float | None = None,
        after_seq: int | None = None,
        limit: int = 1000,
    ) -> list[AuditRecord]:
        """Ordered by seq; ``since`` is inclusive (time >= since), ``after_seq`` exclusive."""
        sql = f"SELECT {chain.AUDIT_COLUMNS} FROM audit WHERE seq > ?"
        params: list[Any] = [after_seq or 0]
        if collection_id is not None:
            sql += " AND collection_id = ?"
            params.append(collection_id)
        if since is not None:
            sql += " AND time >= ?"
            params.append(since)
        sql += " ORDER BY seq LIMIT ?"
        params.append(limit)
        return [chain.row_to_record(r) for r in self._all(sql, params)]

    def iter_audit(self) -> Iterator[AuditRecord]:
        for row in self._audit_rows():
            yield chain.row_to_record(row)

    def verify_audit(self) -> AuditVerification:
        """Walk the whole chain, then compare its head with the anchor file (catches a cut-off tail)."""
        return chain.verify(self._audit_rows(), chain.read_anchor(self._anchor_path))

    def audit_head(self) -> tuple[int, str]:
        """(seq, hash) of the newest record, to keep outside this machine as an independent anchor."""
        row = self._one("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", ())
        return (row[0], row[1]) if row else (0, chain.GENESIS)

    def _audit_rows(self) -> Iterator[tuple[Any, ...]]:
        """Pages by seq, so no read transaction stays open while a caller walks a long log."""
        last = -1
        while True:
            page = self._all(
                f"SELECT {chain.AUDIT_COLUMNS} FROM audit WHERE seq > ? ORDER BY seq LIMIT ?", (last, _PAGE)
            )
            yield from page
            if len(page) < _PAGE:
                return
            last = page[-1][0]

    # --- access keys -----------------------------------------------------------------------------
    def create_key(self, record: AccessKeyRecord) -> None:
        with self._wlock, self._write(None) as c:
            access_keys.insert(c, record)

    def get_key(self, access_key_id: str) -> AccessKeyRecord | None:
        return access_keys.select(self._reader(), access_key_id)

    def list_keys(self) -> list[AccessKeyRecord]:
        return access_keys.select_all(self._reader())

    def revoke_key(self, access_key_id: str, when: float) -> bool:
        """True when an active key was revoked now; False for an unknown or already revoked key."""
        with self._wlock, self._write(None) as c:
            return access_keys.revoke(c, access_key_id, when)

    def set_key_rate_limit(self, access_key_id: str, rate_limit: float | None) -> bool:
        """True when the key exists; ``rate_limit`` None returns it to the server's default."""
        with self._wlock, self._write(None) as c:
            return access_keys.set_rate_limit(c, access_key_id, rate_limit)

    # --- video jobs ------------------------------------------------------------------------------
    def create_job(self, record: JobRecord, *, audit: AuditEntry | None = None) -> None:
        with self._wlock, self._write(audit) as c:
            try:
                c.execute(
                    f"INSERT INTO jobs ({rows.JOB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        record.job_id,
                        record.kind,
                        record.status,
                        json.dumps(record.params),
                        record.created_at,
                        record.updated_at,
                        record.status_message,
                        record.client_request_token,
                        record.job_tag,
                        record.access_key,
                        None if record.result is None else json.dumps(record.result),
                    ),
                )
            except sqlite3.IntegrityError:
                raise ResourceAlreadyExistsException(f"Job {record.job_id} exists") from None

    def get_job(self, job_id: str) -> JobRecord | None:
        row = self._one(f"SELECT {rows.JOB_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,))
        return rows.job(row) if row else None

    def find_job_by_token(self, kind: str, client_request_token: str) -> JobRecord | None:
        row = self._one(
            f"SELECT {rows.JOB_COLUMNS} FROM jobs WHERE kind = ? AND client_request_token = ? "
            "ORDER BY created_at LIMIT 1",
            (kind, client_request_token),
        )
        return rows.job(row) if row else None

    def update_job(
        self,
        job_id: str,
        *,
        status: str,
        status_message: str | None = None,
        result: dict[str, object] | None = None,
    ) -> None:
        with self._wlock, self._write(None) as c:
            cur = c.execute(
                "UPDATE jobs SET status = ?, status_message = ?, result = ?, updated_at = ? WHERE job_id = ?",
                (status, status_message, None if result is None else json.dumps(result), time.time(), job_id),
            )
            if cur.rowcount == 0:
                raise ResourceNotFoundException(f"Job {job_id} does not exist")

    def list_jobs(self, *, status: str | None = None) -> list[JobRecord]:
        """Oldest first (the order a restarted worker resumes them)."""
        if status is None:
            found = self._all(f"SELECT {rows.JOB_COLUMNS} FROM jobs ORDER BY created_at, job_id", ())
        else:
            found = self._all(
                f"SELECT {rows.JOB_COLUMNS} FROM jobs WHERE status = ? ORDER BY created_at, job_id", (status,)
            )
        return [rows.job(r) for r in found]

    # --- stream processors -----------------------------------------------------------------------
    def create_stream_processor(
        self, record: StreamProcessorRecord, *, audit: AuditEntry | None = None
    ) -> None:
        marks = rows.placeholders(rows.STREAM_PROCESSOR_COLUMNS)
        with self._wlock, self._write(audit) as c:
            try:
                c.execute(
                    f"INSERT INTO stream_processors ({rows.STREAM_PROCESSOR_COLUMNS}) VALUES ({marks})",
                    rows.stream_processor_values(record),
                )
            except sqlite3.IntegrityError:
                raise ResourceAlreadyExistsException(f"Stream processor {record.name} exists") from None

    def get_stream_processor(self, name: str) -> StreamProcessorRecord | None:
        row = self._one(
            f"SELECT {rows.STREAM_PROCESSOR_COLUMNS} FROM stream_processors WHERE name = ?", (name,)
        )
        return rows.stream_processor(row) if row else None

    def list_stream_processors(
        self, *, after: str | None = None, limit: int = 1000
    ) -> list[StreamProcessorRecord]:
        found = self._all(
            f"SELECT {rows.STREAM_PROCESSOR_COLUMNS} FROM stream_processors "
            "WHERE name > ? ORDER BY name LIMIT ?",
            (after or "", limit),
        )
        return [rows.stream_processor(r) for r in found]

    def update_stream_processor(
        self, record: StreamProcessorRecord, *, audit: AuditEntry | None = None
    ) -> None:
        columns = rows.STREAM_PROCESSOR_COLUMNS.split(", ")
        assignments = ", ".join(f"{column} = ?" for column in columns[1:])
        values = rows.stream_processor_values(record)
        with self._wlock, self._write(audit) as c:
            cur = c.execute(
                f"UPDATE stream_processors SET {assignments} WHERE name = ?", (*values[1:], values[0])
            )
            if cur.rowcount == 0:
                raise ResourceNotFoundException(f"Stream processor {record.name} does not exist")

    def delete_stream_processor(self, name: str, *, audit: AuditEntry | None = None) -> bool:
        with self._wlock, self._write(audit) as c:
            return c.execute("DELETE FROM stream_processors WHERE name = ?", (name,)).rowcount > 0

    # --- internals: transactions and reads -------------------------------------------------------
    @contextmanager
    def _write(self, audit: AuditEntry | None) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction; the audit record (if any) commits with the change or not at all.

        A full disk rolls the whole transaction back and raises StorageFullError (nothing half-written).
        """
        with self._wlock:
            self._check_open()
            c = self._w
            try:
                c.execute("BEGIN IMMEDIATE")
                yield c
                record = chain.append(c, audit, time.time()) if audit is not None else None
                c.execute("COMMIT")
            except BaseException as exc:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                if _disk_full(exc):
                    log.error("write refused: the data volume is full (%s)", exc)
                    raise StorageFullError(DISK_FULL) from exc
                raise
            self._last_audit = record
            if record is not None:
                self._anchor(chain.Anchor(record.seq, record.hash))

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            self._check_open()
            conn = schema.connect(self._db_path, readonly=True)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def _all(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        self._check_open()
        return self._reader().execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        found = self._all(sql, params)
        return found[0] if found else None

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("store is closed")

    def _collection(self, c: sqlite3.Connection, collection_id: str) -> tuple[int, int, float | None]:
        row = c.execute(
            "SELECT cid, embedding_size, retention_days FROM collections WHERE collection_id = ?",
            (collection_id,),
        ).fetchall()
        if not row:
            raise _no_collection(collection_id)
        return row[0][0], row[0][1], row[0][2]

    def _cid_size(self, collection_id: str) -> tuple[int, int]:
        row = self._one(
            "SELECT cid, embedding_size FROM collections WHERE collection_id = ?", (collection_id,)
        )
        if row is None:
            raise _no_collection(collection_id)
        return row[0], row[1]

    def _cid(self, collection_id: str) -> int:
        return self._cid_size(collection_id)[0]

    def _require_user(self, c: sqlite3.Connection, cid: int, collection_id: str, user_id: str) -> None:
        if not c.execute("SELECT 1 FROM users WHERE cid = ? AND user_id = ?", (cid, user_id)).fetchall():
            raise ResourceNotFoundException(f"User {user_id} does not exist in collection {collection_id}")

    # --- internals: files, anchor, indexes -------------------------------------------------------
    def _fix_modes(self) -> None:
        for name in (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm", ANCHOR_NAME, LOCK_NAME):
            path = self.data_dir / name
            if path.exists():
                os.chmod(path, 0o600)

    def _open_anchor(self) -> None:
        """Create the anchor with a new log; move a lagging one (crash after commit) up to the head."""
        anchor = chain.read_anchor(self._anchor_path)
        head = self.audit_head()
        if anchor is None and head[0] == 0:
            self._anchor(chain.Anchor(0, chain.GENESIS))
        elif isinstance(anchor, chain.Anchor) and anchor.seq < head[0]:
            row = self._one("SELECT hash FROM audit WHERE seq = ?", (anchor.seq,))
            if anchor.seq == 0 or (row is not None and row[0] == anchor.hash):
                self._anchor(chain.Anchor(*head))

    def _anchor(self, anchor: chain.Anchor) -> None:
        try:
            chain.write_anchor(self._anchor_path, anchor)
        except OSError:  # the record itself is committed; a lagging anchor is caught up at the next start
            log.exception("could not write the audit anchor")

    def _index_path(self, cid: int) -> Path:
        return self.data_dir / INDEX_DIR / f"{cid}.usearch"

    def _new_index(self, cid: int, size: int) -> VectorIndex:
        return VectorIndex(size, self._index_path(cid), self._settings)

    def _open_indexes(self) -> None:
        known: set[str] = set()
        for cid, size in self._all("SELECT cid, embedding_size FROM collections ORDER BY cid", ()):
            index = self._new_index(cid, size)
            known.add(index.path.name)
            keys = np.asarray(
                [r[0] for r in self._all("SELECT fid FROM faces WHERE cid = ? ORDER BY fid", (cid,))],
                np.int64,
            )
            index.open(keys, lambda k, cid=cid, size=size: self._fetch(cid, size, k))
            self._indexes[cid] = index
        for stale in (self.data_dir / INDEX_DIR).iterdir():
            if stale.name not in known:  # a deleted collection's graph, or a torn temporary file
                stale.unlink()
        self._save_indexes()

    def _fetch(self, cid: int, size: int, keys: Keys) -> Matrix:
        """Float32 vectors of ``keys`` (sorted ascending), read from the database in key order."""
        out = np.empty((len(keys), size), np.float32)
        if len(keys) == 0:
            return out
        pos = {int(k): i for i, k in enumerate(keys.tolist())}
        cur = self._reader().execute(
            "SELECT fid, embedding FROM faces WHERE cid = ? AND fid BETWEEN ? AND ?",
            (cid, int(keys.min()), int(keys.max())),
        )
        filled = 0
        while batch := cur.fetchmany(10_000):
            for fid, blob in batch:
                i = pos.get(fid)
                if i is not None:
                    out[i] = rows.vector(blob, size)
                    filled += 1
        if filled != len(keys):
            raise RuntimeError(f"{len(keys) - filled} vectors missing from the database")
        return out

    def _save_indexes(self) -> None:
        for index in list(self._indexes.values()):
            if index.save():
                log.info("saved vector index %s", index.path.name)

    def _save_loop(self, interval: float) -> None:
        while not self._stop.is_set():
            if self._wake.wait(interval):
                self._stop.wait(1.0)  # let a burst of deletes finish first
                self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.checkpoint()
            except Exception:  # keep saving later; a lagging graph is repaired at start-up
                log.exception("periodic vector index save failed")

    def _truncate_wal(self) -> None:
        """Copy the WAL into the database and cut it to zero bytes, so deleted rows' old pages are gone."""
        busy = 1
        for _ in range(10):
            busy = self._w.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()[0][0]
            if not busy:
                return
            time.sleep(0.05)
        log.warning("WAL truncation postponed: readers kept it busy")


DISK_FULL = (
    "The server's disk is full: the request was not stored and nothing of it was written. "
    "Free space on the data volume, then retry."
)


def _disk_full(exc: BaseException) -> bool:
    """SQLite's SQLITE_FULL, or an OS write refused for lack of space, quota or file size."""
    if isinstance(exc, sqlite3.OperationalError):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _no_collection(collection_id: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"The collection id: {collection_id} does not exist")


def _check_embeddings(emb: np.ndarray, count: int, size: int) -> None:
    if emb.shape != (count, size):
        raise InvalidParameterException(f"embeddings must have shape ({count}, {size}), not {emb.shape}")
    if count and not np.all(np.isfinite(emb)):
        raise InvalidParameterException("embeddings must be finite")
    if count and np.max(np.abs(np.linalg.norm(emb, axis=1) - 1.0)) > 1e-3:
        raise InvalidParameterException("embeddings must be L2-normalised")


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _private_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def _lock_dir(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DataDirInUseError(f"{path.parent} is open in another Regard store (a server or CLI)") from None
    os.chmod(path, 0o600)
    return fd
