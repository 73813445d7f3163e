"""PostgresStore: the same contract as the embedded store (halfvec and vector HNSW), plus what only a shared
database can show: schema versions, many store instances on one database (replicas), job leases."""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest

from regard.store.base import Store
from regard.store.postgres import PostgresStore, schema
from regard.store.postgres.store import PgIndexSettings
from regard.store.records import AccessKeyRecord, AuditEntry, JobRecord

from .contract import StoreContract, collection, make_faces, unit_vectors


def _factory(url: str, settings: PgIndexSettings) -> Callable[[Path], PostgresStore]:
    """The contract reopens a store "on the same data directory": here, on the same database."""
    return lambda _data_dir: PostgresStore(url, migrate=True, index_settings=settings)


class TestHalfvec(StoreContract):
    many = 600  # enough rows for the planner to use the HNSW index rather than a scan

    @pytest.fixture
    def store_factory(self, pg_url: str) -> Callable[[Path], PostgresStore]:
        return _factory(pg_url, PgIndexSettings(kind="halfvec"))


class TestVector(StoreContract):
    @pytest.fixture
    def store_factory(self, pg_url: str) -> Callable[[Path], PostgresStore]:
        return _factory(pg_url, PgIndexSettings(kind="vector"))


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresStore]:
    s = PostgresStore(pg_url, migrate=True)
    yield s
    s.close()


def test_search_uses_the_collections_hnsw_index(store: PostgresStore) -> None:
    store.create_collection(collection())
    rng = np.random.default_rng(3)
    vecs = unit_vectors(2000, rng)
    store.add_faces("c1", make_faces(2000), vecs)
    with psycopg.connect(store.url, autocommit=True) as c:
        c.execute("ANALYZE faces")
        plan = "\n".join(
            r[0]
            for r in c.execute(
                "EXPLAIN SELECT fid FROM faces WHERE cid = 1 ORDER BY embedding::halfvec(32) <=> "
                "%s::vector::halfvec(32) LIMIT 10",
                (str(vecs[0].tolist()),),
            ).fetchall()
        )
    assert "faces_1_hnsw" in plan, plan


def test_schema_version_is_checked(pg_url: str) -> None:
    with pytest.raises(schema.SchemaVersionError, match="regard db migrate"):
        PostgresStore(pg_url, migrate=False)
    PostgresStore(pg_url).close()  # an empty database is laid out at once (an older one is not)
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute("INSERT INTO regard_migrations (version) VALUES (%s)", (schema.SCHEMA_VERSION + 1,))
    with pytest.raises(schema.SchemaVersionError, match="newer"):
        PostgresStore(pg_url)
    with pytest.raises(schema.SchemaVersionError, match="newer"):
        PostgresStore(pg_url, migrate=True)


def test_concurrent_migrations_apply_once(pg_url: str) -> None:
    errors: list[BaseException] = []

    def open_close() -> None:
        try:
            PostgresStore(pg_url, migrate=True).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_close) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with psycopg.connect(pg_url) as c:
        found = c.execute("SELECT version FROM regard_migrations ORDER BY version").fetchall()
    assert found == [(v,) for v in range(1, schema.SCHEMA_VERSION + 1)]


def test_replicas_share_one_audit_chain_and_state(pg_url: str) -> None:
    """Four store instances (as four replicas would hold) write at once: one chain, every face counted."""
    stores = [PostgresStore(pg_url, migrate=True) for _ in range(4)]
    try:
        stores[0].create_collection(collection())
        errors: list[BaseException] = []

        def work(i: int) -> None:
            rng = np.random.default_rng(i)
            try:
                for _ in range(10):
                    stores[i].add_faces(
                        "c1", make_faces(2), unit_vectors(2, rng), audit=AuditEntry("IndexFaces", "k", "c1")
                    )
                    stores[i].append_audit(AuditEntry("SearchFaces", details={"replica": i}))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert stores[3].get_collection("c1").face_count == 80
        verdict = stores[2].verify_audit()
        assert verdict.ok and verdict.records_checked == 80, verdict
        assert stores[1].audit_head()[0] == 80
    finally:
        for s in stores:
            s.close()


def test_cut_off_audit_tail_is_detected(store: PostgresStore) -> None:
    for i in range(3):
        store.append_audit(AuditEntry("X", details={"i": i}))
    with psycopg.connect(store.url, autocommit=True) as c:
        c.execute("DELETE FROM audit WHERE seq = 3")
    verdict = store.verify_audit()
    assert not verdict.ok and verdict.first_bad_seq == 3
    with psycopg.connect(store.url, autocommit=True) as c:
        c.execute("UPDATE audit SET details = '{\"i\":7}' WHERE seq = 1")
    assert store.verify_audit().first_bad_seq == 1


def test_job_claims_and_lease_takeover(pg_url: str) -> None:
    creator = PostgresStore(pg_url, job_lease=0.05)  # a replica that accepted four jobs, then died
    for i in range(4):
        creator.create_job(JobRecord(f"j{i}", "FaceDetection", "IN_PROGRESS", {}, float(i), float(i)))
    creator.close()
    time.sleep(0.1)
    a, b = PostgresStore(pg_url, migrate=True), PostgresStore(pg_url, migrate=True)
    try:
        got_a = a.claim_jobs("replica-a", 0.5, limit=3)
        got_b = b.claim_jobs("replica-b", 60.0)
        assert [j.job_id for j in got_a] == ["j0", "j1", "j2"]
        assert [j.job_id for j in got_b] == ["j3"]  # the others are leased
        assert [j.job_id for j in b.claim_jobs("replica-b", 60.0)] == ["j3"]  # its own lease, renewed
        assert a.renew_job("j0", "replica-a", 0.5)
        assert not b.renew_job("j0", "replica-b", 60.0)
        a.update_job("j1", status="SUCCEEDED", result={})
        time.sleep(0.7)  # replica-a "died": its leases ran out
        taken = b.claim_jobs("replica-b", 60.0)
        assert sorted(j.job_id for j in taken) == ["j0", "j2", "j3"]  # j1 finished; j3 renewed by its owner
        assert not a.renew_job("j0", "replica-a", 0.5)
    finally:
        a.close()
        b.close()


def test_a_replicas_jobs_stay_leased_while_it_lives(pg_url: str) -> None:
    a = PostgresStore(pg_url, job_lease=0.6)
    b = PostgresStore(pg_url, job_lease=0.6)
    try:
        a.create_job(JobRecord("j", "FaceDetection", "IN_PROGRESS", {}, 1.0, 1.0))
        time.sleep(1.5)  # longer than the lease: a's renewer kept it
        assert b.claim_jobs() == []
        a.close()  # a "dies": nobody renews
        time.sleep(0.8)
        assert [j.job_id for j in b.claim_jobs()] == ["j"]
    finally:
        a.close()
        b.close()


def test_named_lease_runs_on_one_replica(pg_url: str) -> None:
    a, b = PostgresStore(pg_url, migrate=True), PostgresStore(pg_url, migrate=True)
    try:
        assert a.try_lease("retention", "a", 0.3)
        assert not b.try_lease("retention", "b", 0.3)
        assert a.try_lease("retention", "a", 0.3)  # renewal
        time.sleep(0.4)
        assert b.try_lease("retention", "b", 60.0)
        assert not a.try_lease("retention", "a", 0.3)
        b.release_lease("retention", "b")
        assert a.try_lease("retention", "a", 0.3)
    finally:
        a.close()
        b.close()


def test_shared_secret_is_made_once(pg_url: str) -> None:
    a, b = PostgresStore(pg_url, migrate=True), PostgresStore(pg_url, migrate=True)
    try:
        first = a.shared_secret("token", lambda: b"A" * 32)
        assert b.shared_secret("token", lambda: b"B" * 32) == first == b"A" * 32
    finally:
        a.close()
        b.close()


def test_calibration_table_is_shared_through_the_database(pg_url: str, tmp_path: Path) -> None:
    from regard.evaluation import calibration

    impostors = np.random.default_rng(1).uniform(-0.2, 0.3, 5000)
    table = calibration.build_calibration("buffalo_s/1.0", impostors, None)
    a, b = PostgresStore(pg_url), PostgresStore(pg_url)
    try:
        where = calibration.save_calibration(tmp_path / "a", table, settings=a)
        assert where == "database:calibration/buffalo_s.json"
        got = calibration.load_calibration(tmp_path / "b", "buffalo_s/1.0", settings=b)
        assert got is not None and got.impostor_pairs == 5000 and got.origin.startswith("database:")
        assert not (tmp_path / "a").exists()  # nothing written to the machine
    finally:
        a.close()
        b.close()


def test_every_store_method_is_implemented_with_the_protocols_signature() -> None:
    """main's Store Protocol grows; a method PostgresStore lacks (or spells differently) fails here first."""
    methods = [n for n, v in vars(Store).items() if callable(v) and not n.startswith("_")]
    assert len(methods) > 40
    for name in methods:
        want = inspect.signature(getattr(Store, name))
        got = inspect.signature(getattr(PostgresStore, name))
        assert [(p.name, p.kind, p.default) for p in got.parameters.values()] == [
            (p.name, p.kind, p.default) for p in want.parameters.values()
        ], name


def test_a_version_1_database_is_migrated_keeping_its_data(pg_url: str) -> None:
    """A database laid out by the first PostgreSQL release gains rate limits, stream processors, clusters."""
    with psycopg.connect(pg_url, autocommit=True) as c, c.transaction():
        c.execute(schema.MIGRATIONS[0].encode())
        c.execute("INSERT INTO regard_migrations (version) VALUES (1)")
        c.execute(
            "INSERT INTO access_keys (access_key_id, secret_access_key, scope, name, created_at) "
            "VALUES ('AKIAOLD', 's', 'admin', NULL, 1.0)"
        )
    with pytest.raises(schema.SchemaVersionError, match="behind"):
        PostgresStore(pg_url)
    with PostgresStore(pg_url, migrate=True) as s:
        assert s.get_key("AKIAOLD") == AccessKeyRecord("AKIAOLD", "s", "admin", None, 1.0)
        assert s.set_key_rate_limit("AKIAOLD", 3.0) and s.get_key("AKIAOLD").rate_limit == 3.0  # type: ignore[union-attr]
        assert s.list_stream_processors() == []
        s.create_collection(collection())
        faces = make_faces(2)
        s.add_faces("c1", faces, unit_vectors(2, np.random.default_rng(1)))
        s.set_face_clusters("c1", {faces[0].face_id: "k"})
        assert s.get_face_clusters("c1") == {faces[0].face_id: "k"}


def test_deleting_faces_and_collections_leaves_no_cluster_rows(store: PostgresStore) -> None:
    """No row of a deleted face stays behind in face_clusters (the get joins faces, so look at the table)."""
    store.create_collection(collection())
    faces = make_faces(4)
    store.add_faces("c1", faces, unit_vectors(4, np.random.default_rng(2)))
    store.set_face_clusters("c1", {f.face_id: "k" for f in faces})
    store.delete_faces("c1", [faces[0].face_id])

    def stored() -> int:
        with psycopg.connect(store.url, autocommit=True) as c:
            row = c.execute("SELECT count(*) FROM face_clusters").fetchone()
        assert row is not None
        return int(row[0])

    assert stored() == 3
    store.delete_collection("c1")
    assert stored() == 0
