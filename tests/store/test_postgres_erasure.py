"""Erasure on PostgreSQL, proven on the cluster's files: after a delete, a template's float32 bytes (table
and WAL) and float16 bytes (halfvec HNSW index and WAL) are nowhere in the data directory.

A positive control first finds them in the heap, the index and pg_wal, so a scan that could not see them
would fail the test rather than pass it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest

from regard.store.postgres import PostgresStore
from regard.store.postgres.local import LocalPostgres
from regard.store.records import CollectionRecord

from .contract import make_faces, unit_vectors

DIM = 512  # the size of real templates: 2 KiB rows


def patterns(vec: np.ndarray) -> dict[str, bytes]:
    """64 bytes from the middle of the float32 form, 32 of the float16 form (what halfvec stores)."""
    return {"float32": vec.astype("<f4").tobytes()[256:320], "float16": vec.astype("<f2").tobytes()[256:288]}


def scan(pgdata: Path, vec: np.ndarray) -> dict[str, set[str]]:
    """Which kinds of file hold the vector's bytes: 'heap' / 'index' (by relation), 'wal', 'other'."""
    found: dict[str, set[str]] = {}
    for root, _, files in os.walk(pgdata):
        for name in files:
            path = Path(root) / name
            try:
                data = path.read_bytes()
            except OSError:
                continue
            for kind, needle in patterns(vec).items():
                if needle in data:
                    found.setdefault(kind, set()).add(str(path.relative_to(pgdata)))
    return found


def where(store: PostgresStore, found: dict[str, set[str]]) -> set[str]:
    """Map files to 'wal' or the relation name they belong to."""
    names: dict[str, str] = {}
    with psycopg.connect(store.url) as c:
        for rel, filenode in c.execute("SELECT relname, pg_relation_filenode(oid) FROM pg_class").fetchall():
            if filenode:
                names[str(filenode)] = rel
    out: set[str] = set()
    for paths in found.values():
        for p in paths:
            if p.startswith("pg_wal/"):
                out.add("wal")
            else:
                out.add(names.get(Path(p).name.split(".")[0], f"unknown:{p}"))
    return out


@pytest.fixture
def cluster(postgres: LocalPostgres) -> LocalPostgres:
    return postgres


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresStore]:
    s = PostgresStore(pg_url, migrate=True)
    yield s
    s.close()


def _fill(store: PostgresStore, n: int = 300) -> tuple[list, np.ndarray]:
    store.create_collection(CollectionRecord("c1", "buffalo_s/1.0", DIM, 1.0))
    rng = np.random.default_rng(11)
    faces, vecs = make_faces(n), unit_vectors(n, rng, DIM)
    for i in range(0, n, 50):
        store.add_faces("c1", faces[i : i + 50], vecs[i : i + 50])
    with psycopg.connect(store.url, autocommit=True) as c:
        c.execute("CHECKPOINT")  # dirty pages reach the files, so the control can see them
    return faces, vecs


def test_deleted_face_leaves_no_bytes_anywhere(store: PostgresStore, cluster: LocalPostgres) -> None:
    faces, vecs = _fill(store)
    victim, keeper = 7, 8
    before = where(store, scan(cluster.pgdata, vecs[victim]))
    assert {"faces_1", "faces_1_hnsw", "wal"} <= before, before  # the control: the scan sees every copy
    assert store.delete_faces("c1", [faces[victim].face_id]) == [faces[victim].face_id]
    store.flush_erasure()
    assert scan(cluster.pgdata, vecs[victim]) == {}
    assert {"faces_1", "faces_1_hnsw"} <= where(store, scan(cluster.pgdata, vecs[keeper]))
    hits = store.search_faces("c1", vecs[keeper], max_results=1)
    assert hits[0][0].face_id == faces[keeper].face_id and hits[0][1] == pytest.approx(1.0, abs=1e-5)


def test_large_collection_keeps_heap_copy_until_compact(pg_url: str, cluster: LocalPostgres) -> None:
    """Above the rewrite limit a delete only VACUUMs: the index and WAL copies go, the heap copy stays in
    the page's free space (PostgreSQL does not zero it) until ``compact``. The documented limitation."""
    store = PostgresStore(pg_url, migrate=True, rewrite_limit=0)
    try:
        faces, vecs = _fill(store)
        # The copy that survives VACUUM is a dead tuple no live tuple is moved over when the page is
        # compacted: the newest on its page (tuples fill a page from its end down). Pick such a face.
        with psycopg.connect(store.url) as c:
            newest = c.execute(
                "SELECT face_id FROM (SELECT face_id, ctid, max((ctid::text::point)[1]) OVER "
                "(PARTITION BY (ctid::text::point)[0]) AS top FROM faces_1) t "
                "WHERE (ctid::text::point)[1] = top AND top > 1 ORDER BY ctid LIMIT 1"
            ).fetchone()
        assert newest is not None
        victim = [f.face_id for f in faces].index(newest[0])
        store.delete_faces("c1", [faces[victim].face_id])
        store.flush_erasure()
        assert where(store, scan(cluster.pgdata, vecs[victim])) == {"faces_1"}  # not the index, not the WAL
        store.compact()
        assert scan(cluster.pgdata, vecs[victim]) == {}
        keeper = (victim + 1) % len(faces)
        assert store.search_faces("c1", vecs[keeper], max_results=1)[0][0].face_id == faces[keeper].face_id
    finally:
        store.close()


def test_deleted_collection_leaves_no_bytes(store: PostgresStore, cluster: LocalPostgres) -> None:
    _, vecs = _fill(store, 100)
    assert scan(cluster.pgdata, vecs[0])
    store.delete_collection("c1")
    store.flush_erasure()
    assert scan(cluster.pgdata, vecs[0]) == {}
    assert scan(cluster.pgdata, vecs[99]) == {}
