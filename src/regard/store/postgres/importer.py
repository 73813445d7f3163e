"""``regard db import``: copy an embedded store (a data folder) into an empty PostgreSQL database.

Everything moves in one transaction, so a failed import leaves the database empty: collections (each with
its partition; the HNSW index is built once its faces are loaded, faster than growing it row by row),
faces with their float32 vectors and cluster assignments, users, idempotency records, access keys (with
their rate limits), video jobs (unleased, so a replica resumes the unfinished ones), stream processors and
the audit chain, copied record by record with its hashes, so it
verifies on PostgreSQL exactly as it did in SQLite. The data folder is held (locked) while it is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from psycopg import sql

from regard.store.embedded import EmbeddedStore
from regard.store.embedded import schema as sqlite_schema
from regard.store.embedded.audit import AUDIT_COLUMNS
from regard.store.embedded.rows import (
    COLLECTION_COLUMNS,
    FACE_COLUMNS,
    JOB_COLUMNS,
    KEY_COLUMNS,
    STREAM_PROCESSOR_COLUMNS,
    vector,
)
from regard.store.embedded.store import DB_NAME
from regard.store.postgres.store import PostgresStore, insert_face_clusters

_BATCH = 1000


class TargetNotEmptyError(RuntimeError):
    """The database already holds Regard data; importing would mix two histories (and two audit chains)."""


@dataclass(frozen=True, slots=True)
class ImportReport:
    collections: int
    faces: int
    users: int
    audit_records: int
    keys: int
    jobs: int
    stream_processors: int = 0
    cluster_assignments: int = 0


def import_embedded(data_dir: Path, url: str) -> ImportReport:
    source = EmbeddedStore(Path(data_dir), save_interval=3600.0)  # holds the folder's lock while we read
    target = PostgresStore(url, eager_erasure=False)
    try:
        verdict = source.verify_audit()
        if not verdict.ok:
            raise RuntimeError(f"the data folder's audit chain does not verify: {verdict.reason}")
        src = sqlite_schema.connect(Path(data_dir) / DB_NAME, readonly=True)
        try:
            return _copy(src, target)
        finally:
            src.close()
    finally:
        target.close()
        source.close()


def _copy(src, target: PostgresStore) -> ImportReport:  # type: ignore[no-untyped-def]
    with target._pool.connection() as c, c.transaction():
        busy = c.execute(
            "SELECT (SELECT count(*) FROM collections) + (SELECT count(*) FROM audit) "
            "+ (SELECT count(*) FROM access_keys) + (SELECT count(*) FROM jobs) "
            "+ (SELECT count(*) FROM stream_processors)"
        ).fetchone()
        if busy and busy[0]:
            raise TargetNotEmptyError("the database already holds Regard data; import into an empty one")
        counts = {"faces": 0, "clusters": 0}
        collections = src.execute(
            f"SELECT cid, {COLLECTION_COLUMNS} FROM collections ORDER BY cid"
        ).fetchall()
        for (
            old_cid,
            cid_name,
            fmv,
            size,
            created,
            face_count,
            user_count,
            tags,
            purpose,
            retention,
        ) in collections:
            row = c.execute(
                "INSERT INTO collections (collection_id, face_model_version, embedding_size, created_at, "
                "tags, purpose, retention_days, face_count, user_count) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING cid",
                (cid_name, fmv, size, created, tags, purpose, retention, face_count, user_count),
            ).fetchone()
            assert row is not None
            cid = int(row[0])
            target.create_partition(c, cid, size, index=False)
            cur = src.execute(
                f"SELECT {FACE_COLUMNS}, embedding FROM faces WHERE cid = ? ORDER BY fid", (old_cid,)
            )
            insert = f"INSERT INTO faces (cid, {FACE_COLUMNS}, embedding) VALUES ({', '.join(['%s'] * 16)})"
            while batch := cur.fetchmany(_BATCH):
                params = [(cid, *r[:-1], vector(r[-1], size)) for r in batch]
                with c.cursor() as pg:
                    pg.executemany(insert, params)
                counts["faces"] += len(batch)
            c.execute(target.index_ddl(cid, size))
            clusters = src.execute(
                "SELECT f.face_id, k.cluster_id FROM face_clusters k JOIN faces f ON f.fid = k.fid "
                "WHERE k.cid = ?",
                (old_cid,),
            ).fetchall()
            insert_face_clusters(c, cid, dict(clusters))  # keyed by the faces' new fids
            counts["clusters"] += len(clusters)
            users = src.execute(
                "SELECT user_id, status, created_at FROM users WHERE cid = ?", (old_cid,)
            ).fetchall()
            with c.cursor() as pg:
                pg.executemany(
                    "INSERT INTO users (cid, user_id, status, created_at) VALUES (%s, %s, %s, %s)",
                    [(cid, *u) for u in users],
                )
            counts["users"] = counts.get("users", 0) + len(users)
        keys = _copy_table(src, c, "access_keys", KEY_COLUMNS)
        jobs = _copy_table(src, c, "jobs", JOB_COLUMNS)
        processors = _copy_table(src, c, "stream_processors", STREAM_PROCESSOR_COLUMNS)
        _copy_table(src, c, "requests", "token, operation, digest, response, created_at")
        audit = _copy_table(src, c, "audit", AUDIT_COLUMNS, order="seq")
        head = src.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        if head is not None:
            c.execute("UPDATE audit_head SET seq = %s, hash = %s", head)
    faces, users, clusters = counts["faces"], counts.get("users", 0), counts["clusters"]
    return ImportReport(len(collections), faces, users, audit, keys, jobs, processors, clusters)


def _copy_table(src, c, table: str, columns: str, *, order: str | None = None) -> int:  # type: ignore[no-untyped-def]
    query = f"SELECT {columns} FROM {table}" + (f" ORDER BY {order}" if order else "")
    n = len(columns.split(","))
    insert = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(table), sql.SQL(columns), sql.SQL(", ".join(["%s"] * n))
    )
    cur = src.execute(query)
    total = 0
    while batch := cur.fetchmany(_BATCH):
        with c.cursor() as pg:
            pg.executemany(insert, batch)
        total += len(batch)
    return total
