"""``regard db import``: an embedded data folder copied into PostgreSQL, compared record by record."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner

from regard.adapters.cli.main import cli
from regard.store.embedded import EmbeddedStore
from regard.store.postgres import PostgresStore
from regard.store.records import AccessKeyRecord, AuditEntry, JobRecord, StreamProcessorRecord

from .contract import collection, make_faces, unit_vectors


def _fill(data_dir: Path) -> tuple[list, np.ndarray]:
    rng = np.random.default_rng(5)
    with EmbeddedStore(data_dir) as s:
        s.create_collection(
            collection("a", tags={"k": "v"}, purpose="door", retention_days=7.0),
            audit=AuditEntry("CreateCollection", "AKIA", "a"),
        )
        s.create_collection(collection("b"), audit=AuditEntry("CreateCollection", "AKIA", "b"))
        faces, vecs = make_faces(120, external_image_id="x.jpg", image_sha256="ab"), unit_vectors(120, rng)
        s.add_faces(
            "a", faces[:100], vecs[:100], audit=AuditEntry("IndexFaces", "AKIA", "a", details={"n": 100})
        )
        s.add_faces("b", faces[100:], vecs[100:])
        s.create_user("a", "u1", audit=AuditEntry("CreateUser", "AKIA", "a"))
        s.associate_faces("a", "u1", [f.face_id for f in faces[:3]])
        s.delete_faces("a", [faces[50].face_id], audit=AuditEntry("DeleteFaces", "AKIA", "a"))
        s.create_key(AccessKeyRecord("AKIA", "secret", "admin", "ops", 1.0))
        s.create_key(AccessKeyRecord("AKIB", "s2", "search", None, 2.0, revoked_at=3.0, rate_limit=2.5))
        s.set_face_clusters("a", {faces[0].face_id: "k1", faces[1].face_id: "k1", faces[50].face_id: "k2"})
        s.set_face_clusters("b", {faces[100].face_id: "k3"})
        s.create_stream_processor(
            StreamProcessorRecord(
                "door", "arn:sp", "arn:in", "arn:out", "a", 85.0, "RUNNING", 1.0, 2.0,
                desired_state="RUNNING", params={"Settings": {"FaceSearch": {}}}, access_key="AKIA",
            ),
            audit=AuditEntry("CreateStreamProcessor", "AKIA"),
        )
        s.create_job(
            JobRecord("j1", "FaceSearch", "IN_PROGRESS", {"CollectionId": "a"}, 4.0, 4.0, job_tag="t")
        )
        s.create_job(JobRecord("j2", "FaceDetection", "SUCCEEDED", {}, 5.0, 6.0, result={"Faces": []}))
        s.remember_request("tok", "CreateUser", "d", {"ok": 1})
        for i in range(30):
            s.append_audit(AuditEntry("SearchFaces", "AKIB", "a", details={"i": i, "matches": [{"s": 0.5}]}))
    return faces, vecs


def test_import_copies_everything_and_the_chain_verifies(tmp_path: Path, pg_url: str) -> None:
    data_dir = tmp_path / "data"
    faces, vecs = _fill(data_dir)
    result = CliRunner().invoke(cli, ["db", "import", "--data", str(data_dir), "--database", pg_url])
    assert result.exit_code == 0, result.output
    assert "2 collections, 119 faces, 1 users, 2 keys, 2 jobs, 1 stream processors, 3 cluster" in (
        result.output
    )
    with EmbeddedStore(data_dir) as src, PostgresStore(pg_url) as dst:
        for cid in ("a", "b"):
            assert dst.get_collection(cid) == src.get_collection(cid)
            assert dst.list_faces(cid, after=None, limit=1000) == src.list_faces(cid, after=None, limit=1000)
            ids = [f.face_id for f in src.list_faces(cid, after=None, limit=1000)]
            got, want = dst.get_embeddings(cid, ids), src.get_embeddings(cid, ids)
            assert {k: v.tobytes() for k, v in got.items()} == {k: v.tobytes() for k, v in want.items()}
        assert dst.list_users("a", after=None, limit=10) == src.list_users("a", after=None, limit=10)
        assert dst.list_keys() == src.list_keys() and dst.get_key("AKIB").rate_limit == 2.5  # type: ignore[union-attr]
        assert dst.list_stream_processors() == src.list_stream_processors() != []
        for cid in ("a", "b"):
            assert dst.get_face_clusters(cid) == src.get_face_clusters(cid) != {}
        assert dst.list_jobs() == src.list_jobs()
        assert dst.recall_request("tok", "CreateUser") == ("d", {"ok": 1})
        assert list(dst.iter_audit()) == list(src.iter_audit())
        verdict = dst.verify_audit()
        assert verdict.ok and verdict.records_checked == len(list(src.iter_audit())) == 36
        hits = dst.search_faces("a", vecs[7], max_results=1)
        assert hits[0][0].face_id == faces[7].face_id
        assert dst.claim_jobs() and dst.get_job("j1") is not None  # an unfinished job is free to resume
        dst.append_audit(AuditEntry("After"))  # the chain goes on from the imported head
        assert dst.verify_audit().ok


def test_import_refuses_a_database_in_use(tmp_path: Path, pg_url: str) -> None:
    _fill(tmp_path / "data")
    with PostgresStore(pg_url) as dst:
        dst.append_audit(AuditEntry("Existing"))
    result = CliRunner().invoke(cli, ["db", "import", "--data", str(tmp_path / "data"), "--database", pg_url])
    assert result.exit_code != 0
    assert "empty" in str(result.exception) + result.output


def test_db_migrate_lays_out_then_reports_the_version(pg_url: str) -> None:
    first = CliRunner().invoke(cli, ["db", "migrate", "--database", pg_url])
    assert first.exit_code == 0, first.output
    assert "schema at version 4 (applied [1, 2, 3, 4])" in first.output
    again = CliRunner().invoke(cli, ["db", "migrate", "--database", pg_url])
    assert again.exit_code == 0 and again.output.strip() == "schema at version 4"
    bad = CliRunner().invoke(cli, ["db", "migrate", "--database", "mysql://x"])
    assert bad.exit_code == 2 and "postgresql://" in bad.output
