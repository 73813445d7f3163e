"""The SQLite schema, its version, and how every connection is opened.

``PRAGMA user_version`` is the schema version; ``MIGRATIONS[i]`` moves a database from version ``i`` to
``i + 1`` inside one transaction, so an interrupted upgrade leaves the old version intact.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA_VERSION = 4

_V1 = """
CREATE TABLE collections (
    cid                INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: names index files
    collection_id      TEXT NOT NULL UNIQUE,
    face_model_version TEXT NOT NULL,
    embedding_size     INTEGER NOT NULL CHECK (embedding_size > 0),
    created_at         REAL NOT NULL,
    tags               TEXT NOT NULL,                      -- JSON object
    purpose            TEXT,
    retention_days     REAL,
    face_count         INTEGER NOT NULL DEFAULT 0,         -- kept in the same transactions as the rows
    user_count         INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE faces (
    fid                 INTEGER PRIMARY KEY AUTOINCREMENT, -- the vector index key; never reused
    cid                 INTEGER NOT NULL REFERENCES collections (cid),
    face_id             TEXT NOT NULL,
    image_id            TEXT NOT NULL,
    box_left            REAL NOT NULL,
    box_top             REAL NOT NULL,
    box_width           REAL NOT NULL,
    box_height          REAL NOT NULL,
    confidence          REAL NOT NULL,
    index_model_version TEXT NOT NULL,
    indexed_at          REAL NOT NULL,
    external_image_id   TEXT,
    user_id             TEXT,
    indexed_by          TEXT,
    expires_at          REAL,
    image_sha256        TEXT,
    embedding           BLOB NOT NULL,                     -- float32, little-endian, embedding_size values
    UNIQUE (cid, face_id)
);
CREATE INDEX faces_by_user ON faces (cid, user_id, face_id) WHERE user_id IS NOT NULL;
CREATE INDEX faces_by_image ON faces (cid, image_sha256) WHERE image_sha256 IS NOT NULL;
CREATE INDEX faces_by_expiry ON faces (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE users (
    cid        INTEGER NOT NULL REFERENCES collections (cid),
    user_id    TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (cid, user_id)
) WITHOUT ROWID;

CREATE TABLE requests (
    token      TEXT NOT NULL,
    operation  TEXT NOT NULL,
    digest     TEXT NOT NULL,
    response   TEXT NOT NULL,                              -- JSON
    created_at REAL NOT NULL,
    PRIMARY KEY (token, operation)
) WITHOUT ROWID;

CREATE TABLE audit (
    seq           INTEGER PRIMARY KEY,                     -- 1, 2, 3 ... with no gaps
    time          REAL NOT NULL,
    operation     TEXT NOT NULL,
    access_key    TEXT,
    collection_id TEXT,
    request_id    TEXT,
    client        TEXT,
    details       TEXT NOT NULL,                           -- canonical JSON
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL
);
CREATE INDEX audit_by_collection ON audit (collection_id, seq);
CREATE INDEX audit_by_time ON audit (time);

CREATE TABLE access_keys (
    access_key_id     TEXT PRIMARY KEY,
    secret_access_key TEXT NOT NULL,                       -- SigV4 needs the secret itself
    scope             TEXT NOT NULL,
    name              TEXT,
    created_at        REAL NOT NULL,
    revoked_at        REAL
) WITHOUT ROWID;

CREATE TABLE jobs (
    job_id               TEXT PRIMARY KEY,
    kind                 TEXT NOT NULL,
    status               TEXT NOT NULL,
    params               TEXT NOT NULL,                    -- JSON
    created_at           REAL NOT NULL,
    updated_at           REAL NOT NULL,
    status_message       TEXT,
    client_request_token TEXT,
    job_tag              TEXT,
    access_key           TEXT,
    result               TEXT                              -- JSON
);
CREATE INDEX jobs_by_token ON jobs (kind, client_request_token) WHERE client_request_token IS NOT NULL;
CREATE INDEX jobs_by_status ON jobs (status, created_at);
"""

_V2 = """
ALTER TABLE access_keys ADD COLUMN rate_limit REAL;  -- requests per second; NULL: the server's default
"""

_V3 = """
CREATE TABLE stream_processors (
    name           TEXT PRIMARY KEY,
    arn            TEXT NOT NULL,
    input_arn      TEXT NOT NULL,
    output_arn     TEXT NOT NULL,
    collection_id  TEXT NOT NULL,
    threshold      REAL NOT NULL,
    status         TEXT NOT NULL,
    created_at     REAL NOT NULL,
    updated_at     REAL NOT NULL,
    status_message TEXT,
    desired_state  TEXT NOT NULL,
    params         TEXT NOT NULL,                          -- JSON
    access_key     TEXT
) WITHOUT ROWID;
"""

# v4: ClusterFaces' assignments; a face's row going (DeleteFaces, DeleteCollection, expiry) takes its own.
_V4 = """
CREATE TABLE face_clusters (
    fid        INTEGER PRIMARY KEY REFERENCES faces (fid) ON DELETE CASCADE,
    cid        INTEGER NOT NULL REFERENCES collections (cid),
    cluster_id TEXT NOT NULL
);
CREATE INDEX face_clusters_by_collection ON face_clusters (cid, cluster_id);
"""

MIGRATIONS: list[str] = [_V1, _V2, _V3, _V4]


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer Regard; opening it could corrupt it."""


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with the durability settings.

    WAL lets searches read while a write commits; ``synchronous=FULL`` fsyncs the WAL on every commit, so an
    acknowledged write survives power loss as well as kill -9; ``secure_delete`` zeroes deleted rows' bytes.
    """
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA page_size=16384")  # new databases only: a face row (2 KiB vector) packs 7 to a page
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA secure_delete=ON")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema to ``SCHEMA_VERSION``, one transaction per step."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"database schema version {version} is newer than this Regard ({SCHEMA_VERSION})"
        )
    for step in range(version, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[step]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {step + 1:d}")  # a pragma takes no bound parameters
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _statements(script: str) -> list[str]:
    """Split a DDL script (executescript would commit the open transaction first)."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    return [s for s in out if s]
