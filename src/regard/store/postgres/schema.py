"""The PostgreSQL schema as numbered migrations, recorded in ``regard_migrations``.

``MIGRATIONS[i]`` moves a database from version ``i`` to ``i + 1`` in one transaction (DDL is
transactional in PostgreSQL), under an advisory lock so two replicas starting at once do not both migrate.
A server refuses a database whose version it does not know (written by a newer Regard), and by default it
refuses one that is behind too: ``regard db migrate`` (or ``open(..., migrate=True)``) upgrades it.
``faces`` is partitioned by collection: each collection has its own table ``faces_<cid>`` with its own HNSW
index on ``embedding::halfvec(d)`` (see ``store.py``), so collections of different embedding sizes coexist,
a search touches one collection's graph, and erasure rewrites one collection's files, not everyone's.
"""

from __future__ import annotations

import psycopg

SCHEMA_VERSION = 4
_MIGRATION_LOCK = 0x7265_6761_7264_0001  # pg_advisory_xact_lock key: "regard" + 1

_V1 = """
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE collections (
    cid                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- never reused: names the HNSW index
    collection_id      text NOT NULL UNIQUE,
    face_model_version text NOT NULL,
    embedding_size     integer NOT NULL CHECK (embedding_size > 0 AND embedding_size <= 2000),
    created_at         double precision NOT NULL,
    tags               text NOT NULL,                     -- JSON object
    purpose            text,
    retention_days     double precision,
    face_count         bigint NOT NULL DEFAULT 0,         -- kept in the same transactions as the rows
    user_count         bigint NOT NULL DEFAULT 0
);

CREATE TABLE faces (
    fid                 bigint GENERATED ALWAYS AS IDENTITY,
    cid                 bigint NOT NULL REFERENCES collections (cid),
    face_id             text NOT NULL,
    image_id            text NOT NULL,
    box_left            double precision NOT NULL,
    box_top             double precision NOT NULL,
    box_width           double precision NOT NULL,
    box_height          double precision NOT NULL,
    confidence          double precision NOT NULL,
    index_model_version text NOT NULL,
    indexed_at          double precision NOT NULL,
    external_image_id   text,
    user_id             text,
    indexed_by          text,
    expires_at          double precision,
    image_sha256        text,
    embedding           vector NOT NULL,                  -- float32: searches re-score from this exactly
    PRIMARY KEY (cid, fid),
    UNIQUE (cid, face_id)
) PARTITION BY LIST (cid);                                -- one partition per collection: faces_<cid>
ALTER TABLE faces ALTER COLUMN embedding SET STORAGE PLAIN;  -- in the row, never compressed or TOASTed
CREATE INDEX faces_by_user ON faces (cid, user_id, face_id) WHERE user_id IS NOT NULL;
CREATE INDEX faces_by_image ON faces (cid, image_sha256) WHERE image_sha256 IS NOT NULL;
CREATE INDEX faces_by_expiry ON faces (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE users (
    cid        bigint NOT NULL REFERENCES collections (cid),
    user_id    text NOT NULL,
    status     text NOT NULL,
    created_at double precision NOT NULL,
    PRIMARY KEY (cid, user_id)
);

CREATE TABLE requests (
    token      text NOT NULL,
    operation  text NOT NULL,
    digest     text NOT NULL,
    response   text NOT NULL,
    created_at double precision NOT NULL,
    PRIMARY KEY (token, operation)
);

CREATE TABLE audit (
    seq           bigint PRIMARY KEY,                     -- 1, 2, 3 ... with no gaps
    time          double precision NOT NULL,
    operation     text NOT NULL,
    access_key    text,
    collection_id text,
    request_id    text,
    client        text,
    details       text NOT NULL,                          -- canonical JSON, hashed as written
    prev_hash     text NOT NULL,
    hash          text NOT NULL
);
CREATE INDEX audit_by_collection ON audit (collection_id, seq);
CREATE INDEX audit_by_time ON audit (time);

-- The chain's head: one row every append locks (FOR UPDATE) and moves, so concurrent appends from any
-- number of replicas queue up and form one chain. It is also the anchor a cut-off tail is checked against.
CREATE TABLE audit_head (
    id   boolean PRIMARY KEY DEFAULT true CHECK (id),
    seq  bigint NOT NULL,
    hash text NOT NULL
);
INSERT INTO audit_head (seq, hash) VALUES (0, repeat('0', 64));

CREATE TABLE access_keys (
    access_key_id     text PRIMARY KEY,
    secret_access_key text NOT NULL,
    scope             text NOT NULL,
    name              text,
    created_at        double precision NOT NULL,
    revoked_at        double precision
);

CREATE TABLE jobs (
    job_id               text PRIMARY KEY,
    kind                 text NOT NULL,
    status               text NOT NULL,
    params               text NOT NULL,
    created_at           double precision NOT NULL,
    updated_at           double precision NOT NULL,
    status_message       text,
    client_request_token text,
    job_tag              text,
    access_key           text,
    result               text,
    lease_owner          text,                           -- the replica running it
    lease_until          double precision                -- after this another replica may take it over
);
CREATE INDEX jobs_by_token ON jobs (kind, client_request_token) WHERE client_request_token IS NOT NULL;
CREATE INDEX jobs_by_status ON jobs (status, created_at);

-- Named leases: periodic work that must run on one replica at a time (the retention sweep, a stream).
CREATE TABLE leases (
    name        text PRIMARY KEY,
    owner       text NOT NULL,
    lease_until double precision NOT NULL
);

-- Small shared values every replica must agree on: the pagination-token key, calibration tables.
CREATE TABLE settings (
    name  text PRIMARY KEY,
    value bytea NOT NULL
);

CREATE TABLE regard_migrations (
    version    integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""

_V2 = """
ALTER TABLE access_keys ADD COLUMN rate_limit double precision;  -- requests per second; NULL: server default
"""

_V3 = """
CREATE TABLE stream_processors (
    name           text PRIMARY KEY,
    arn            text NOT NULL,
    input_arn      text NOT NULL,
    output_arn     text NOT NULL,
    collection_id  text NOT NULL,
    threshold      double precision NOT NULL,
    status         text NOT NULL,
    created_at     double precision NOT NULL,
    updated_at     double precision NOT NULL,
    status_message text,
    desired_state  text NOT NULL,
    params         text NOT NULL,                         -- JSON
    access_key     text
);
"""

# v4: ClusterFaces' assignments. No foreign key to ``faces``: one to a partitioned table would stop
# DeleteCollection from dropping the collection's partition, so the store deletes a face's row here in the
# transaction that deletes the face (and all of a collection's rows before dropping its partition).
_V4 = """
CREATE TABLE face_clusters (
    cid        bigint NOT NULL REFERENCES collections (cid),
    fid        bigint NOT NULL,
    cluster_id text NOT NULL,
    PRIMARY KEY (cid, fid)
);
"""

MIGRATIONS: list[str] = [_V1, _V2, _V3, _V4]


class SchemaVersionError(RuntimeError):
    """The database's schema is not the one this Regard runs on (newer, or not migrated yet)."""


def version(conn: psycopg.Connection) -> int:
    found = conn.execute("SELECT to_regclass('regard_migrations') IS NOT NULL").fetchone()
    if not found or not found[0]:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM regard_migrations").fetchone()
    return int(row[0]) if row else 0


def check(conn: psycopg.Connection) -> None:
    current = version(conn)
    if current > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"database schema version {current} is newer than this Regard ({SCHEMA_VERSION}); upgrade Regard"
        )
    if current < SCHEMA_VERSION:
        raise SchemaVersionError(
            f"database schema version {current} is behind this Regard ({SCHEMA_VERSION}); "
            "run `regard db migrate --database URL` first"
        )


def migrate(conn: psycopg.Connection) -> list[int]:
    """Apply the missing migrations, each in its own transaction; returns the versions applied."""
    applied: list[int] = []
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            current = version(conn)
            if current > SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"database schema version {current} is newer than this Regard ({SCHEMA_VERSION})"
                )
            if current == SCHEMA_VERSION:
                return applied
            conn.execute(MIGRATIONS[current].encode())
            conn.execute("INSERT INTO regard_migrations (version) VALUES (%s)", (current + 1,))
            applied.append(current + 1)
