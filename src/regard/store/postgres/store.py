"""``PostgresStore``: records, vectors, keys, jobs and the audit chain in PostgreSQL, searched with pgvector.

Every write is one transaction on a pooled connection; one that carries ``audit`` appends the record in the
same transaction, after locking the chain's head row, so appends from any number of replicas form one chain.
Each collection has its own partition of ``faces`` with an HNSW index over ``embedding::halfvec(d)`` (or
``vector(d)``); a search
asks it for candidates with ``hnsw.ef_search`` set for that query, then re-scores them exactly from the stored
float32 vectors. Deletions are followed by the erasure steps of ``erasure.py`` (docs/data-layout.md).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql
from psycopg_pool import ConnectionPool

from regard.errors import (
    ConflictException,
    InvalidParameterException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from regard.store import search
from regard.store.base import Vector
from regard.store.embedded import audit as chain
from regard.store.embedded import rows
from regard.store.embedded.store import _check_embeddings, _no_collection
from regard.store.postgres import erasure, schema
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

log = logging.getLogger(__name__)

_PAGE = 1000


_FACE_INSERT = rows.FACE_INSERT.replace("?", "%s")
_KEY_INSERT = (
    f"INSERT INTO access_keys ({rows.KEY_COLUMNS}) VALUES ({rows.placeholders(rows.KEY_COLUMNS, '%s')})"
)
_STREAM_COLUMNS = rows.STREAM_PROCESSOR_COLUMNS
_STREAM_INSERT = (
    f"INSERT INTO stream_processors ({_STREAM_COLUMNS}) VALUES ({rows.placeholders(_STREAM_COLUMNS, '%s')})"
)


@dataclass(frozen=True, slots=True)
class PgIndexSettings:
    """HNSW parameters. ``halfvec`` stores 16-bit floats in the graph (half the size of ``vector``)."""

    kind: str = "halfvec"  # "halfvec" | "vector"
    m: int = 16
    # At 1M faces (bench/results/postgres.md) a graph built with ef_construction 64 reached recall@10 0.67
    # at ef_search 100 and 0.87 at 400; with 128: 0.90 at 100, 0.98 at 200, 0.99 at 400 (build 1.2x as long).
    ef_construction: int = 128
    ef_search: int = 100  # up to ``ef_base_size`` faces (recall@10 0.999 at 100k); then grows, see ``ef_for``
    ef_base_size: int = 100_000
    max_ef_search: int = 400  # reached at 400k faces; at 1M: recall@10 0.991, p50 8 ms (200: 0.981, 6.8 ms)
    headroom: int = 16  # extra candidates fetched for exact re-scoring

    def ef_for(self, size: int, want: int) -> int:
        """``hnsw.ef_search`` for a collection of ``size`` faces asked for ``want`` candidates: recall falls
        as graphs grow at a fixed breadth; never below 2x ``want``, never above pgvector's 1000."""
        grown = min(int(self.ef_search * max(1.0, size / self.ef_base_size)), self.max_ef_search)
        return min(1000, max(grown, 2 * want))


class PostgresStore:
    """The ``Store`` on a PostgreSQL database (``url``); several processes may open the same one at once."""

    def __init__(
        self,
        url: str,
        *,
        migrate: bool | None = None,
        index_settings: PgIndexSettings | None = None,
        pool_size: int = 8,
        eager_erasure: bool = True,
        rewrite_limit: int = erasure.REWRITE_LIMIT,
        job_lease: float = 60.0,
    ) -> None:
        self.url = url
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"  # this replica
        self.job_lease = job_lease
        self._settings = index_settings or PgIndexSettings()
        if self._settings.kind not in ("halfvec", "vector"):
            raise ValueError("index kind must be 'halfvec' or 'vector'")
        with psycopg.connect(url, autocommit=True) as conn:
            if migrate or (migrate is None and schema.version(conn) == 0):
                schema.migrate(conn)  # an empty database is laid out; an older one waits for `db migrate`
            schema.check(conn)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True},
            configure=register_vector,
            open=True,
            name="regard",
        )
        self._closed = False
        self._ef: weakref.WeakKeyDictionary[psycopg.Connection, int] = weakref.WeakKeyDictionary()
        self._eraser = erasure.Eraser(url, rewrite_limit=rewrite_limit) if eager_erasure else None
        self._stop = threading.Event()
        self._renewer = threading.Thread(target=self._renew_loop, name="regard-pg-leases", daemon=True)
        self._renewer.start()

    # --- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._renewer.join(timeout=10)
        if self._eraser is not None:
            self._eraser.close()
        self._pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def compact(self) -> None:
        """Rewrite every collection's table and index (``VACUUM FULL``): the heap copies of faces deleted
        from collections too large for the per-delete rewrite go too. Locks each collection in turn."""
        tables = [partition_name(int(r[0])) for r in self._all("SELECT cid FROM collections", ())]
        erasure.run_steps(self.url, tables, rewrite_limit=2**62)

    def flush_erasure(self, timeout: float = 120.0) -> None:
        """Wait until the erasure steps for every delete so far have run (tests, ``regard erase``)."""
        if self._eraser is not None:
            self._eraser.flush(timeout)

    # --- collections -----------------------------------------------------------------------------
    def create_collection(self, record: CollectionRecord, *, audit: AuditEntry | None = None) -> None:
        with self._write(audit) as c:
            try:
                with c.transaction():  # a savepoint: the unique violation must not end the transaction
                    row = c.execute(
                        "INSERT INTO collections (collection_id, face_model_version, embedding_size, "
                        "created_at, tags, purpose, retention_days) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                        "RETURNING cid",
                        (
                            record.collection_id,
                            record.face_model_version,
                            record.embedding_size,
                            record.created_at,
                            json.dumps(record.tags),
                            record.purpose,
                            record.retention_days,
                        ),
                    ).fetchone()
            except psycopg.errors.UniqueViolation:
                raise ResourceAlreadyExistsException(
                    f"The collection id: {record.collection_id} already exists"
                ) from None
            except psycopg.errors.CheckViolation:
                raise InvalidParameterException("embedding size must be between 1 and 2000") from None
            assert row is not None
            self.create_partition(c, int(row[0]), record.embedding_size)

    def get_collection(self, collection_id: str) -> CollectionRecord:
        row = self._one(
            f"SELECT {rows.COLLECTION_COLUMNS} FROM collections WHERE collection_id = %s", (collection_id,)
        )
        if row is None:
            raise _no_collection(collection_id)
        return rows.collection(row)

    def list_collections(self, *, after: str | None, limit: int) -> list[CollectionRecord]:
        found = self._all(
            f"SELECT {rows.COLLECTION_COLUMNS} FROM collections WHERE collection_id > %s "
            'ORDER BY collection_id COLLATE "C" LIMIT %s',
            (after or "", limit),
        )
        return [rows.collection(r) for r in found]

    def delete_collection(self, collection_id: str, *, audit: AuditEntry | None = None) -> None:
        with self._write(audit) as c:
            cid, _, _ = self._collection(c, collection_id, lock=True)
            c.execute("DELETE FROM face_clusters WHERE cid = %s", (cid,))
            c.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(partition_name(cid))))
            c.execute("DELETE FROM users WHERE cid = %s", (cid,))
            c.execute("DELETE FROM collections WHERE cid = %s", (cid,))
        self._erase(None)

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
        with self._write(audit) as c:
            cid, size, retention_days = self._collection(c, collection_id, lock=True)
            _check_embeddings(emb, len(faces), size)
            params = []
            for face, vec in zip(faces, emb, strict=True):
                expires = face.expires_at
                if expires is None and retention_days is not None:
                    expires = face.indexed_at + retention_days * 86400.0  # the collection's default
                params.append(rows.face_params(cid, face, expires, vec))
            try:
                with c.transaction(), c.cursor() as cur:
                    cur.executemany(_FACE_INSERT, params)
            except psycopg.errors.UniqueViolation as exc:
                raise InvalidParameterException(f"face already stored: {exc.diag.message_detail}") from None
            c.execute(
                "UPDATE collections SET face_count = face_count + %s WHERE cid = %s", (len(params), cid)
            )

    def get_faces(self, collection_id: str, face_ids: Sequence[str]) -> list[FaceRecord]:
        cid = self._cid(collection_id)
        found = self._all(
            f"SELECT {rows.FACE_COLUMNS} FROM faces WHERE cid = %s AND face_id = ANY(%s)",
            (cid, list(face_ids)),
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
        query = f"SELECT {rows.FACE_COLUMNS} FROM faces WHERE cid = %s AND face_id > %s"
        params: list[Any] = [cid, after or ""]
        if user_id is not None:
            query += " AND user_id = %s"
            params.append(user_id)
        if face_ids is not None:
            query += " AND face_id = ANY(%s)"
            params.append(list(face_ids))
        query += ' ORDER BY face_id COLLATE "C" LIMIT %s'
        params.append(limit)
        return [rows.face(r) for r in self._all(query, params)]

    def find_faces_by_image(
        self, collection_id: str, image_sha256: str, external_image_id: str | None
    ) -> list[FaceRecord]:
        cid = self._cid(collection_id)
        found = self._all(
            f"SELECT {rows.FACE_COLUMNS} FROM faces WHERE cid = %s AND image_sha256 = %s "
            'AND external_image_id IS NOT DISTINCT FROM %s ORDER BY face_id COLLATE "C"',
            (cid, image_sha256, external_image_id),
        )
        return [rows.face(r) for r in found]

    def get_embeddings(self, collection_id: str, face_ids: Sequence[str]) -> dict[str, Vector]:
        cid = self._cid(collection_id)
        found = self._all(
            "SELECT face_id, embedding FROM faces WHERE cid = %s AND face_id = ANY(%s)", (cid, list(face_ids))
        )
        return {face_id: _numpy(vec) for face_id, vec in found}

    def delete_faces(
        self, collection_id: str, face_ids: Sequence[str], *, audit: AuditEntry | None = None
    ) -> list[str]:
        with self._write(audit) as c:
            cid, _, _ = self._collection(c, collection_id, lock=True)
            found = c.execute(
                "DELETE FROM faces WHERE cid = %s AND face_id = ANY(%s) RETURNING face_id, fid",
                (cid, list(face_ids)),
            ).fetchall()
            if found:  # the faces' cluster assignments go with them (ON DELETE CASCADE in the embedded store)
                c.execute(
                    "DELETE FROM face_clusters WHERE cid = %s AND fid = ANY(%s)", (cid, [r[1] for r in found])
                )
            c.execute("UPDATE collections SET face_count = face_count - %s WHERE cid = %s", (len(found), cid))
        if found:
            self._erase(cid)
        gone = {r[0] for r in found}
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
        """HNSW proposes candidates (``hnsw.ef_search`` set for this query's size); scores are exact float32
        dot products with the stored vectors."""
        cid, size, count = self._cid_size_count(collection_id)
        q = search.unit_query(query, size)
        if q is None or max_results <= 0:
            return []
        skip = set(exclude)
        want = max_results + len(skip) + self._settings.headroom
        ef = self._settings.ef_for(count, want)
        candidates = sql.SQL(
            "WITH c AS MATERIALIZED (SELECT fid FROM faces WHERE cid = {cid} "
            "ORDER BY embedding::{kind}({d}) <=> %s::vector::{kind}({d}) LIMIT %s) "
            "SELECT {cols}, f.embedding FROM faces f JOIN c USING (fid) WHERE f.cid = {cid}"
        ).format(
            cid=sql.Literal(cid),  # a literal: the planner prunes to this collection's partition and index
            kind=sql.SQL(self._settings.kind),
            d=sql.Literal(size),
            cols=sql.SQL(", ".join(f"f.{c.strip()}" for c in rows.FACE_COLUMNS.split(","))),
        )
        with self._pool.connection() as c:
            if self._ef.get(c) != ef:  # a session setting, sent only when this connection's value differs
                c.execute(sql.SQL("SET hnsw.ef_search = {}").format(sql.Literal(ef)))
                self._ef[c] = ef
            found = c.execute(candidates, (q, want), binary=True).fetchall()  # vectors as bytes, not text
        return search.rescore(found, q, skip, min_cosine, max_results, _numpy)

    def search_faces_batch(
        self, collection_id: str, queries: Vector, *, max_results: int, min_cosine: float = -1.0
    ) -> list[list[tuple[FaceRecord, float]]]:
        """One ``search_faces`` per row (one HNSW query each: pgvector has no batched index scan)."""
        rows_ = np.asarray(queries, dtype=np.float32)
        size = self._cid_size(collection_id)[1]
        if rows_.ndim != 2 or rows_.shape[1] != size:
            raise InvalidParameterException(f"queries must be rows of {size} finite values")
        return [
            self.search_faces(collection_id, q, max_results=max_results, min_cosine=min_cosine) for q in rows_
        ]

    def expired_faces(self, now: float, *, limit: int = 1000) -> list[tuple[str, str]]:
        found = self._all(
            "SELECT c.collection_id, f.face_id FROM faces f JOIN collections c ON c.cid = f.cid "
            "WHERE f.expires_at <= %s ORDER BY f.expires_at, f.fid LIMIT %s",
            (now, limit),
        )
        return [(c, f) for c, f in found]

    # --- face clusters ---------------------------------------------------------------------------
    def get_face_clusters(self, collection_id: str) -> dict[str, str]:
        cid = self._cid(collection_id)
        found = self._all(
            "SELECT f.face_id, k.cluster_id FROM face_clusters k "
            "JOIN faces f ON f.cid = k.cid AND f.fid = k.fid WHERE k.cid = %s",
            (cid,),
        )
        return dict(found)

    def set_face_clusters(
        self, collection_id: str, assignments: Mapping[str, str], *, audit: AuditEntry | None = None
    ) -> None:
        """Face IDs not in the collection are ignored (the join finds no row for them)."""
        with self._write(audit) as c:
            cid, _, _ = self._collection(c, collection_id, lock=True)
            c.execute("DELETE FROM face_clusters WHERE cid = %s", (cid,))
            insert_face_clusters(c, cid, assignments)

    # --- users -----------------------------------------------------------------------------------
    def create_user(self, collection_id: str, user_id: str, *, audit: AuditEntry | None = None) -> None:
        with self._write(audit) as c:
            cid, _, _ = self._collection(c, collection_id, lock=True)
            try:
                with c.transaction():
                    c.execute(
                        "INSERT INTO users (cid, user_id, status, created_at) VALUES (%s, %s, 'CREATED', %s)",
                        (cid, user_id, time.time()),
                    )
            except psycopg.errors.UniqueViolation:
                raise ConflictException(
                    f"User {user_id} already exists in collection {collection_id}"
                ) from None
            c.execute("UPDATE collections SET user_count = user_count + 1 WHERE cid = %s", (cid,))

    _USER_SELECT = (
        "SELECT u.user_id, u.status, u.created_at, "
        "(SELECT count(*) FROM faces f WHERE f.cid = u.cid AND f.user_id = u.user_id) FROM users u "
    )

    def get_user(self, collection_id: str, user_id: str) -> UserRecord | None:
        cid = self._cid(collection_id)
        row = self._one(self._USER_SELECT + "WHERE u.cid = %s AND u.user_id = %s", (cid, user_id))
        return rows.user(row) if row else None

    def list_users(self, collection_id: str, *, after: str | None, limit: int) -> list[UserRecord]:
        cid = self._cid(collection_id)
        found = self._all(
            self._USER_SELECT + 'WHERE u.cid = %s AND u.user_id > %s ORDER BY u.user_id COLLATE "C" LIMIT %s',
            (cid, after or "", limit),
        )
        return [rows.user(r) for r in found]

    def delete_user(self, collection_id: str, user_id: str, *, audit: AuditEntry | None = None) -> None:
        with self._write(audit) as c:
            cid, _, _ = self._collection(c, collection_id, lock=True)
            cur = c.execute("DELETE FROM users WHERE cid = %s AND user_id = %s", (cid, user_id))
            if cur.rowcount == 0:
                raise ResourceNotFoundException(
                    f"User {user_id} does not exist in collection {collection_id}"
                )
            c.execute("UPDATE faces SET user_id = NULL WHERE cid = %s AND user_id = %s", (cid, user_id))
            c.execute("UPDATE collections SET user_count = user_count - 1 WHERE cid = %s", (cid,))

    def associate_faces(
        self, collection_id: str, user_id: str, face_ids: Sequence[str], *, audit: AuditEntry | None = None
    ) -> None:
        with self._write(audit) as c:
            cid, _, _ = self._collection(c, collection_id, lock=True)
            self._require_user(c, cid, collection_id, user_id)
            c.execute(
                "UPDATE faces SET user_id = %s WHERE cid = %s AND face_id = ANY(%s)",
                (user_id, cid, list(face_ids)),
            )
            c.execute("UPDATE users SET status = 'ACTIVE' WHERE cid = %s AND user_id = %s", (cid, user_id))

    def disassociate_faces(
        self, collection_id: str, user_id: str, face_ids: Sequence[str], *, audit: AuditEntry | None = None
    ) -> None:
        with self._write(audit) as c:
            cid, _, _ = self._collection(c, collection_id, lock=True)
            self._require_user(c, cid, collection_id, user_id)
            c.execute(
                "UPDATE faces SET user_id = NULL WHERE cid = %s AND user_id = %s AND face_id = ANY(%s)",
                (cid, user_id, list(face_ids)),
            )

    # --- idempotency -----------------------------------------------------------------------------
    def recall_request(self, token: str, operation: str) -> tuple[str, dict[str, object]] | None:
        row = self._one(
            "SELECT digest, response FROM requests WHERE token = %s AND operation = %s", (token, operation)
        )
        return (row[0], json.loads(row[1])) if row else None

    def remember_request(self, token: str, operation: str, digest: str, response: dict[str, object]) -> None:
        with self._write(None) as c:
            c.execute(
                "INSERT INTO requests (token, operation, digest, response, created_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (token, operation, digest, json.dumps(response), time.time()),
            )

    # --- audit -----------------------------------------------------------------------------------
    def append_audit(self, entry: AuditEntry) -> AuditRecord:
        with self._pool.connection() as c, c.transaction():
            return _append(c, entry, time.time())

    def list_audit(
        self,
        *,
        collection_id: str | None = None,
        since: float | None = None,
        after_seq: int | None = None,
        limit: int = 1000,
    ) -> list[AuditRecord]:
        query, params = chain.list_query("%s", collection_id, since, after_seq, limit)
        return [chain.row_to_record(r) for r in self._all(query, params)]

    def iter_audit(self) -> Iterator[AuditRecord]:
        for row in self._audit_rows():
            yield chain.row_to_record(row)

    def verify_audit(self) -> AuditVerification:
        """Walk the whole chain and compare its end with the head row (catches a cut-off tail)."""
        head = self.audit_head()
        return chain.verify(self._audit_rows(head[0]), chain.Anchor(*head))

    def audit_head(self) -> tuple[int, str]:
        row = self._one("SELECT seq, hash FROM audit_head", ())
        assert row is not None
        return int(row[0]), str(row[1])

    def _audit_rows(self, upto: int | None = None) -> Iterator[tuple[Any, ...]]:
        last = 0
        while True:
            page = self._all(
                f"SELECT {chain.AUDIT_COLUMNS} FROM audit WHERE seq > %s AND seq <= %s ORDER BY seq LIMIT %s",
                (last, upto if upto is not None else 2**62, _PAGE),
            )
            yield from page
            if len(page) < _PAGE:
                return
            last = page[-1][0]

    # --- access keys -----------------------------------------------------------------------------
    def create_key(self, record: AccessKeyRecord) -> None:
        try:
            with self._write(None) as c:
                c.execute(_KEY_INSERT, rows.key_params(record))
        except psycopg.errors.UniqueViolation:
            raise ResourceAlreadyExistsException(f"Access key {record.access_key_id} exists") from None

    def get_key(self, access_key_id: str) -> AccessKeyRecord | None:
        row = self._one(
            f"SELECT {rows.KEY_COLUMNS} FROM access_keys WHERE access_key_id = %s", (access_key_id,)
        )
        return rows.key(row) if row else None

    def list_keys(self) -> list[AccessKeyRecord]:
        found = self._all(
            f'SELECT {rows.KEY_COLUMNS} FROM access_keys ORDER BY access_key_id COLLATE "C"', ()
        )
        return [rows.key(r) for r in found]

    def revoke_key(self, access_key_id: str, when: float) -> bool:
        with self._write(None) as c:
            cur = c.execute(
                "UPDATE access_keys SET revoked_at = %s WHERE access_key_id = %s AND revoked_at IS NULL",
                (when, access_key_id),
            )
            return cur.rowcount > 0

    def set_key_rate_limit(self, access_key_id: str, rate_limit: float | None) -> bool:
        """True when the key exists (revoked or not); None returns it to the server's default."""
        with self._write(None) as c:
            cur = c.execute(
                "UPDATE access_keys SET rate_limit = %s WHERE access_key_id = %s", (rate_limit, access_key_id)
            )
            return cur.rowcount > 0

    # --- video jobs ------------------------------------------------------------------------------
    def create_job(self, record: JobRecord, *, audit: AuditEntry | None = None) -> None:
        """The new job is leased to this replica (which runs it) and renewed while this store is open."""
        try:
            with self._write(audit) as c:
                c.execute(
                    f"INSERT INTO jobs ({rows.JOB_COLUMNS}, lease_owner, lease_until) "
                    f"VALUES ({', '.join(['%s'] * 13)})",
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
                        self.owner,
                        time.time() + self.job_lease,
                    ),
                )
        except psycopg.errors.UniqueViolation:
            raise ResourceAlreadyExistsException(f"Job {record.job_id} exists") from None

    def get_job(self, job_id: str) -> JobRecord | None:
        row = self._one(f"SELECT {rows.JOB_COLUMNS} FROM jobs WHERE job_id = %s", (job_id,))
        return rows.job(row) if row else None

    def find_job_by_token(self, kind: str, client_request_token: str) -> JobRecord | None:
        row = self._one(
            f"SELECT {rows.JOB_COLUMNS} FROM jobs WHERE kind = %s AND client_request_token = %s "
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
        with self._write(None) as c:
            cur = c.execute(
                "UPDATE jobs SET status = %s, status_message = %s, result = %s, updated_at = %s, "
                "lease_owner = NULL, lease_until = NULL WHERE job_id = %s",
                (status, status_message, None if result is None else json.dumps(result), time.time(), job_id),
            )
            if cur.rowcount == 0:
                raise ResourceNotFoundException(f"Job {job_id} does not exist")

    def list_jobs(self, *, status: str | None = None) -> list[JobRecord]:
        if status is None:
            found = self._all(f"SELECT {rows.JOB_COLUMNS} FROM jobs ORDER BY created_at, job_id", ())
        else:
            found = self._all(
                f"SELECT {rows.JOB_COLUMNS} FROM jobs WHERE status = %s ORDER BY created_at, job_id",
                (status,),
            )
        return [rows.job(r) for r in found]

    def claim_jobs(
        self, owner: str | None = None, lease_seconds: float | None = None, *, limit: int = 10
    ) -> list[JobRecord]:
        """IN_PROGRESS jobs nobody holds (or whose holder's lease ran out), now leased to ``owner``
        (default: this replica, renewed while it runs).

        ``FOR UPDATE SKIP LOCKED``: replicas claiming at the same moment get disjoint jobs, never wait.
        """
        owner = owner or self.owner
        lease_seconds = self.job_lease if lease_seconds is None else lease_seconds
        now = time.time()
        with self._write(None) as c:
            found = c.execute(
                f"UPDATE jobs SET lease_owner = %s, lease_until = %s WHERE job_id IN ("
                "SELECT job_id FROM jobs WHERE status = 'IN_PROGRESS' AND (lease_until IS NULL OR "
                "lease_until < %s OR lease_owner = %s) ORDER BY created_at, job_id LIMIT %s "
                f"FOR UPDATE SKIP LOCKED) RETURNING {rows.JOB_COLUMNS}",
                (owner, now + lease_seconds, now, owner, limit),
            ).fetchall()
        return sorted((rows.job(r) for r in found), key=lambda j: (j.created_at, j.job_id))

    def renew_job(self, job_id: str, owner: str, lease_seconds: float) -> bool:
        """Extend ``owner``'s lease on a running job; False when another replica has taken it over."""
        with self._write(None) as c:
            cur = c.execute(
                "UPDATE jobs SET lease_until = %s "
                "WHERE job_id = %s AND lease_owner = %s AND status = 'IN_PROGRESS'",
                (time.time() + lease_seconds, job_id, owner),
            )
            return cur.rowcount > 0

    def _renew_loop(self) -> None:
        """Keep this replica's running jobs leased; if the process dies, the leases run out."""
        while not self._stop.wait(self.job_lease / 3):
            try:
                with self._write(None) as c:
                    c.execute(
                        "UPDATE jobs SET lease_until = %s WHERE lease_owner = %s AND status = 'IN_PROGRESS'",
                        (time.time() + self.job_lease, self.owner),
                    )
            except Exception:  # the database is away: try again next round
                log.exception("could not renew job leases")

    # --- stream processors -----------------------------------------------------------------------
    def create_stream_processor(
        self, record: StreamProcessorRecord, *, audit: AuditEntry | None = None
    ) -> None:
        try:
            with self._write(audit) as c:
                c.execute(
                    _STREAM_INSERT,
                    rows.stream_processor_values(record),
                )
        except psycopg.errors.UniqueViolation:
            raise ResourceAlreadyExistsException(f"Stream processor {record.name} exists") from None

    def get_stream_processor(self, name: str) -> StreamProcessorRecord | None:
        row = self._one(f"SELECT {_STREAM_COLUMNS} FROM stream_processors WHERE name = %s", (name,))
        return rows.stream_processor(row) if row else None

    def list_stream_processors(
        self, *, after: str | None = None, limit: int = 1000
    ) -> list[StreamProcessorRecord]:
        found = self._all(
            f"SELECT {_STREAM_COLUMNS} FROM stream_processors "
            'WHERE name > %s ORDER BY name COLLATE "C" LIMIT %s',
            (after or "", limit),
        )
        return [rows.stream_processor(r) for r in found]

    def update_stream_processor(
        self, record: StreamProcessorRecord, *, audit: AuditEntry | None = None
    ) -> None:
        columns = _STREAM_COLUMNS.split(", ")
        assignments = ", ".join(f"{column} = %s" for column in columns[1:])
        values = rows.stream_processor_values(record)
        with self._write(audit) as c:
            cur = c.execute(
                f"UPDATE stream_processors SET {assignments} WHERE name = %s", (*values[1:], values[0])
            )
            if cur.rowcount == 0:
                raise ResourceNotFoundException(f"Stream processor {record.name} does not exist")

    def delete_stream_processor(self, name: str, *, audit: AuditEntry | None = None) -> bool:
        with self._write(audit) as c:
            return c.execute("DELETE FROM stream_processors WHERE name = %s", (name,)).rowcount > 0

    # --- shared state ----------------------------------------------------------------------------
    def try_lease(self, name: str, owner: str, seconds: float) -> bool:
        """Take or renew the named lease; True when ``owner`` holds it for the next ``seconds``."""
        now = time.time()
        with self._write(None) as c:
            row = c.execute(
                "INSERT INTO leases (name, owner, lease_until) VALUES (%s, %s, %s) "
                "ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until "
                "WHERE leases.owner = EXCLUDED.owner OR leases.lease_until < %s RETURNING owner",
                (name, owner, now + seconds, now),
            ).fetchone()
        return row is not None

    def release_lease(self, name: str, owner: str) -> None:
        with self._write(None) as c:
            c.execute("DELETE FROM leases WHERE name = %s AND owner = %s", (name, owner))

    def shared_secret(self, name: str, make: Callable[[], bytes]) -> bytes:
        """The value stored under ``name``, made once by whichever replica asks first."""
        with self._write(None) as c:
            c.execute(
                "INSERT INTO settings (name, value) VALUES (%s, %s) ON CONFLICT DO NOTHING", (name, make())
            )
            row = c.execute("SELECT value FROM settings WHERE name = %s", (name,)).fetchone()
        assert row is not None
        return bytes(row[0])

    def get_setting(self, name: str) -> bytes | None:
        row = self._one("SELECT value FROM settings WHERE name = %s", (name,))
        return bytes(row[0]) if row else None

    def put_setting(self, name: str, value: bytes) -> None:
        with self._write(None) as c:
            c.execute(
                "INSERT INTO settings (name, value) VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
                (name, value),
            )

    # --- internals -------------------------------------------------------------------------------
    @contextmanager
    def _write(self, audit: AuditEntry | None) -> Iterator[psycopg.Connection]:
        """One transaction; the audit record (if any) is appended last and commits with the change."""
        self._check_open()
        with self._pool.connection() as c, c.transaction():
            yield c
            if audit is not None:
                _append(c, audit, time.time())

    def _all(self, query: Any, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        self._check_open()
        with self._pool.connection() as c:
            return c.execute(query, params).fetchall()

    def _one(self, query: Any, params: Sequence[Any]) -> tuple[Any, ...] | None:
        found = self._all(query, params)
        return found[0] if found else None

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("store is closed")

    def _collection(
        self, c: psycopg.Connection, collection_id: str, *, lock: bool = False
    ) -> tuple[int, int, float | None]:
        """(cid, embedding_size, retention_days); ``lock`` holds the row so a delete cannot race the write."""
        row = c.execute(
            "SELECT cid, embedding_size, retention_days FROM collections WHERE collection_id = %s"
            + (" FOR NO KEY UPDATE" if lock else ""),
            (collection_id,),
        ).fetchone()
        if row is None:
            raise _no_collection(collection_id)
        return int(row[0]), int(row[1]), row[2]

    def _cid_size(self, collection_id: str) -> tuple[int, int]:
        cid, size, _ = self._cid_size_count(collection_id)
        return cid, size

    def _cid_size_count(self, collection_id: str) -> tuple[int, int, int]:
        row = self._one(
            "SELECT cid, embedding_size, face_count FROM collections WHERE collection_id = %s",
            (collection_id,),
        )
        if row is None:
            raise _no_collection(collection_id)
        return int(row[0]), int(row[1]), int(row[2])

    def _cid(self, collection_id: str) -> int:
        return self._cid_size(collection_id)[0]

    def _require_user(self, c: psycopg.Connection, cid: int, collection_id: str, user_id: str) -> None:
        if (
            c.execute("SELECT 1 FROM users WHERE cid = %s AND user_id = %s", (cid, user_id)).fetchone()
            is None
        ):
            raise ResourceNotFoundException(f"User {user_id} does not exist in collection {collection_id}")

    def create_partition(self, c: psycopg.Connection, cid: int, size: int, *, index: bool = True) -> None:
        """The collection's own table of faces, and (unless loading in bulk first) its HNSW index."""
        part = sql.Identifier(partition_name(cid))
        partition = sql.SQL("CREATE TABLE {} PARTITION OF faces FOR VALUES IN ({})")
        c.execute(partition.format(part, sql.Literal(cid)))
        c.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN embedding SET STORAGE PLAIN").format(part))
        if index:
            c.execute(self.index_ddl(cid, size))

    def index_ddl(self, cid: int, size: int) -> sql.Composed:
        s = self._settings
        return sql.SQL(
            "CREATE INDEX {name} ON {part} USING hnsw ((embedding::{kind}({d})) {ops}) "
            "WITH (m = {m}, ef_construction = {efc})"
        ).format(
            name=sql.Identifier(partition_name(cid) + "_hnsw"),
            part=sql.Identifier(partition_name(cid)),
            kind=sql.SQL(s.kind),
            d=sql.Literal(size),
            ops=sql.SQL(f"{s.kind}_cosine_ops"),
            m=sql.Literal(s.m),
            efc=sql.Literal(s.ef_construction),
        )

    def _erase(self, cid: int | None) -> None:
        if self._eraser is not None:
            self._eraser.request(None if cid is None else partition_name(cid))


def _numpy(value: Any) -> Vector:
    """A stored ``vector`` as float32 (pgvector's loader returns its own ``Vector`` type)."""
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, np.float32)


def insert_face_clusters(c: psycopg.Connection, cid: int, assignments: Mapping[str, str]) -> None:
    """Store face_id -> cluster_id for the collection's faces, by fid; IDs of no face there are skipped."""
    if assignments:
        c.execute(
            "INSERT INTO face_clusters (cid, fid, cluster_id) SELECT f.cid, f.fid, a.cluster_id "
            "FROM unnest(%s::text[], %s::text[]) AS a (face_id, cluster_id) "
            "JOIN faces f ON f.cid = %s AND f.face_id = a.face_id",
            (list(assignments), list(assignments.values()), cid),
        )


def partition_name(cid: int) -> str:
    """The table holding one collection's faces (and, through its HNSW index, its graph)."""
    return f"faces_{cid:d}"


def _append(c: psycopg.Connection, entry: AuditEntry, now: float) -> AuditRecord:
    """Append the next record inside the caller's transaction, holding the head row until it commits."""
    entry, details = chain.prepare(entry)
    head = c.execute("SELECT seq, hash FROM audit_head FOR UPDATE").fetchone()
    assert head is not None
    record = chain.link(int(head[0]) + 1, str(head[1]), now, entry)
    values = chain.row_values(record, details)
    c.execute(f"INSERT INTO audit ({chain.AUDIT_COLUMNS}) VALUES ({', '.join(['%s'] * 10)})", values)
    c.execute("UPDATE audit_head SET seq = %s, hash = %s", (record.seq, record.hash))
    return record
