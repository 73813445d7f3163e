"""The behaviour every ``Store`` backend must show; a backend's test module subclasses ``StoreContract``.

The subclass provides a ``store_factory`` fixture: a callable that opens (or reopens) the backend on a
data directory. Everything here goes through the ``Store`` interface only.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from regard.errors import (
    ConflictException,
    InvalidParameterException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from regard.store.base import Store
from regard.store.records import (
    AccessKeyRecord,
    AuditEntry,
    BoundingBox,
    CollectionRecord,
    FaceRecord,
    JobRecord,
)

DIM = 32
StoreFactory = Callable[[Path], Store]


def unit_vectors(n: int, rng: np.random.Generator, dim: int = DIM) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def make_faces(n: int, **fields: object) -> list[FaceRecord]:
    image_id = str(uuid.uuid4())
    base: dict[str, object] = {
        "image_id": image_id,
        "bounding_box": BoundingBox(0.1, 0.2, 0.3, 0.4),
        "confidence": 99.5,
        "index_model_version": "7.0",
        "indexed_at": 1000.0,
    }
    base.update(fields)
    return [FaceRecord(face_id=str(uuid.uuid4()), **base) for _ in range(n)]  # type: ignore[arg-type]


def collection(cid: str = "c1", **fields: object) -> CollectionRecord:
    return CollectionRecord(
        collection_id=cid, face_model_version="buffalo_s/1.0", embedding_size=DIM, created_at=10.0, **fields
    )  # type: ignore[arg-type]


def brute_force(vecs: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    scores = vecs @ query
    return list(np.argsort(-scores, kind="stable")[:k])


class StoreContract:
    """Subclasses provide ``store_factory``; ``many`` is a face count that exercises the backend's index."""

    many = 300

    @pytest.fixture
    def data_dir(self, tmp_path: Path) -> Path:
        return tmp_path / "data"

    @pytest.fixture
    def store(self, store_factory: StoreFactory, data_dir: Path) -> Iterator[Store]:
        s = store_factory(data_dir)
        yield s
        s.close()

    @pytest.fixture
    def rng(self) -> np.random.Generator:
        return np.random.default_rng(7)

    def _filled(self, store: Store, rng: np.random.Generator, n: int) -> tuple[list[FaceRecord], np.ndarray]:
        store.create_collection(collection())
        faces, vecs = make_faces(n), unit_vectors(n, rng)
        for start in range(0, n, 100):
            store.add_faces("c1", faces[start : start + 100], vecs[start : start + 100])
        return faces, vecs

    # --- collections -----------------------------------------------------------------------------
    def test_collection_round_trip(self, store: Store) -> None:
        record = collection(tags={"team": "a"}, purpose="door access", retention_days=30.0)
        store.create_collection(record)
        assert store.get_collection("c1") == record
        with pytest.raises(ResourceAlreadyExistsException):
            store.create_collection(record)

    def test_unknown_collection_raises_everywhere(self, store: Store) -> None:
        q = np.ones(DIM, np.float32) / np.sqrt(DIM)
        calls: list[Callable[[], object]] = [
            lambda: store.get_collection("nope"),
            lambda: store.delete_collection("nope"),
            lambda: store.add_faces("nope", [], np.empty((0, DIM), np.float32)),
            lambda: store.get_faces("nope", ["x"]),
            lambda: store.list_faces("nope", after=None, limit=10),
            lambda: store.find_faces_by_image("nope", "ab", None),
            lambda: store.get_embeddings("nope", ["x"]),
            lambda: store.delete_faces("nope", ["x"]),
            lambda: store.search_faces("nope", q, max_results=1),
            lambda: store.create_user("nope", "u"),
            lambda: store.get_user("nope", "u"),
            lambda: store.list_users("nope", after=None, limit=10),
            lambda: store.delete_user("nope", "u"),
            lambda: store.associate_faces("nope", "u", ["x"]),
            lambda: store.disassociate_faces("nope", "u", ["x"]),
        ]
        for call in calls:
            with pytest.raises(ResourceNotFoundException):
                call()

    def test_list_collections_paginates_by_id(self, store: Store) -> None:
        ids = [f"col-{i:02d}" for i in range(7)]
        for cid in reversed(ids):
            store.create_collection(collection(cid))
        seen: list[str] = []
        after = None
        while page := store.list_collections(after=after, limit=3):
            seen += [c.collection_id for c in page]
            after = page[-1].collection_id
        assert seen == ids
        assert [c.collection_id for c in store.list_collections(after="col-04", limit=10)] == ids[5:]

    def test_counts_are_live(self, store: Store, rng: np.random.Generator) -> None:
        faces, _ = self._filled(store, rng, 5)
        store.create_user("c1", "u1")
        store.create_user("c1", "u2")
        store.delete_faces("c1", [faces[0].face_id])
        store.delete_user("c1", "u2")
        got = store.get_collection("c1")
        assert (got.face_count, got.user_count) == (4, 1)
        assert store.list_collections(after=None, limit=1)[0].face_count == 4

    def test_delete_collection_removes_everything(self, store: Store, rng: np.random.Generator) -> None:
        faces, vecs = self._filled(store, rng, 20)
        store.create_user("c1", "u1")
        store.delete_collection("c1")
        with pytest.raises(ResourceNotFoundException):
            store.get_collection("c1")
        store.create_collection(collection())  # same ID again: a new, empty collection
        assert store.get_collection("c1").face_count == 0
        assert store.search_faces("c1", vecs[0], max_results=5) == []
        assert store.get_user("c1", "u1") is None
        assert store.get_faces("c1", [f.face_id for f in faces]) == []

    # --- faces -----------------------------------------------------------------------------------
    def test_faces_round_trip_in_asked_order(self, store: Store, rng: np.random.Generator) -> None:
        store.create_collection(collection())
        faces = make_faces(
            3, external_image_id="img.jpg", indexed_by="AKIA1", expires_at=5000.0, image_sha256="ab"
        )
        vecs = unit_vectors(3, rng)
        store.add_faces("c1", faces, vecs)
        ids = [faces[2].face_id, "missing", faces[0].face_id]
        assert store.get_faces("c1", ids) == [faces[2], faces[0]]
        got = store.get_embeddings("c1", [faces[1].face_id, "missing"])
        assert list(got) == [faces[1].face_id]
        assert got[faces[1].face_id].tobytes() == vecs[1].tobytes()

    def test_add_faces_checks_embeddings(self, store: Store, rng: np.random.Generator) -> None:
        store.create_collection(collection())
        with pytest.raises(InvalidParameterException):
            store.add_faces("c1", make_faces(2), unit_vectors(3, rng))
        with pytest.raises(InvalidParameterException):
            store.add_faces("c1", make_faces(1), unit_vectors(1, rng, DIM + 1))
        with pytest.raises(InvalidParameterException):
            store.add_faces("c1", make_faces(1), 2 * unit_vectors(1, rng))
        assert store.get_collection("c1").face_count == 0

    def test_list_faces_paginates_and_filters(self, store: Store, rng: np.random.Generator) -> None:
        faces, _ = self._filled(store, rng, 25)
        ids = sorted(f.face_id for f in faces)
        seen: list[str] = []
        after = None
        while page := store.list_faces("c1", after=after, limit=7):
            seen += [f.face_id for f in page]
            after = page[-1].face_id
        assert seen == ids
        store.create_user("c1", "u1")
        store.associate_faces("c1", "u1", ids[3:6])
        assert [f.face_id for f in store.list_faces("c1", after=None, limit=10, user_id="u1")] == ids[3:6]
        picked = [ids[9], ids[1], "nope"]
        assert [f.face_id for f in store.list_faces("c1", after=None, limit=10, face_ids=picked)] == sorted(
            ids[i] for i in (1, 9)
        )
        both = store.list_faces("c1", after=ids[3], limit=10, user_id="u1", face_ids=ids[:5])
        assert [f.face_id for f in both] == [ids[4]]

    def test_find_faces_by_image(self, store: Store, rng: np.random.Generator) -> None:
        store.create_collection(collection())
        a = make_faces(2, image_sha256="aa", external_image_id="x.jpg")
        b = make_faces(1, image_sha256="aa")
        store.add_faces("c1", a + b, unit_vectors(3, rng))
        assert {f.face_id for f in store.find_faces_by_image("c1", "aa", "x.jpg")} == {f.face_id for f in a}
        assert [f.face_id for f in store.find_faces_by_image("c1", "aa", None)] == [b[0].face_id]
        assert store.find_faces_by_image("c1", "bb", "x.jpg") == []

    def test_delete_faces_returns_existing_and_erases(self, store: Store, rng: np.random.Generator) -> None:
        faces, vecs = self._filled(store, rng, 40)
        gone = store.delete_faces("c1", [faces[3].face_id, "missing", faces[5].face_id, faces[3].face_id])
        assert gone == [faces[3].face_id, faces[5].face_id]
        assert store.delete_faces("c1", [faces[3].face_id]) == []
        assert store.get_collection("c1").face_count == 38
        for i in (3, 5):
            hits = store.search_faces("c1", vecs[i], max_results=40)
            assert faces[i].face_id not in {f.face_id for f, _ in hits}
            assert len(hits) == 38
        assert store.get_embeddings("c1", [faces[3].face_id]) == {}

    # --- search ----------------------------------------------------------------------------------
    def test_search_matches_brute_force(self, store: Store, rng: np.random.Generator) -> None:
        faces, vecs = self._filled(store, rng, self.many)
        for qi in range(10):
            query = unit_vectors(1, rng)[0]
            hits = store.search_faces("c1", query, max_results=10)
            expected = brute_force(vecs, query, 10)
            assert [f.face_id for f, _ in hits] == [faces[i].face_id for i in expected], qi
            np.testing.assert_allclose([s for _, s in hits], vecs[expected] @ query, rtol=0, atol=1e-5)

    def test_search_threshold_exclude_and_limit(self, store: Store, rng: np.random.Generator) -> None:
        faces, vecs = self._filled(store, rng, 50)
        own = store.search_faces("c1", vecs[7], max_results=1)
        assert own[0][0].face_id == faces[7].face_id
        assert own[0][1] == pytest.approx(1.0, abs=1e-5)
        hits = store.search_faces("c1", vecs[7], max_results=5, exclude=[faces[7].face_id])
        assert faces[7].face_id not in {f.face_id for f, _ in hits}
        assert len(hits) == 5
        scores = [s for _, s in hits]
        assert scores == sorted(scores, reverse=True)
        high = store.search_faces("c1", vecs[7], max_results=50, min_cosine=0.3)
        assert all(s >= 0.3 for _, s in high)
        assert len(high) == int(np.sum(vecs @ vecs[7] >= 0.3))
        assert (
            store.search_faces("c1", vecs[7], max_results=1000)
            and len(store.search_faces("c1", vecs[7], max_results=1000)) == 50
        )

    def test_search_normalises_query_and_checks_size(self, store: Store, rng: np.random.Generator) -> None:
        faces, vecs = self._filled(store, rng, 10)
        hits = store.search_faces("c1", 3.0 * vecs[2], max_results=1)
        assert hits[0][0].face_id == faces[2].face_id and hits[0][1] == pytest.approx(1.0, abs=1e-5)
        with pytest.raises(InvalidParameterException):
            store.search_faces("c1", np.ones(DIM + 1, np.float32), max_results=1)

    def test_batch_search_equals_one_search_per_query(self, store: Store, rng: np.random.Generator) -> None:
        faces, vecs = self._filled(store, rng, self.many)
        queries = np.vstack([unit_vectors(6, rng), 2.5 * vecs[[3, 11]], np.zeros((1, DIM), np.float32)])
        for max_results, min_cosine in ((10, -1.0), (5, 0.3), (1, 0.999), (1000, -1.0)):
            batch = store.search_faces_batch("c1", queries, max_results=max_results, min_cosine=min_cosine)
            assert len(batch) == len(queries)
            for query, hits in zip(queries, batch, strict=True):
                single = store.search_faces("c1", query, max_results=max_results, min_cosine=min_cosine)
                assert [f.face_id for f, _ in hits] == [f.face_id for f, _ in single]
                np.testing.assert_allclose([s for _, s in hits], [s for _, s in single], rtol=0, atol=1e-6)
                assert [f for f, _ in hits] == [f for f, _ in single]  # whole records, not only IDs
        best = store.search_faces_batch("c1", queries, max_results=1)
        assert [hits[0][0].face_id for hits in best[6:8]] == [faces[3].face_id, faces[11].face_id]
        assert best[6][0][1] == pytest.approx(1.0, abs=1e-5)  # queries are normalised
        assert best[8] == []  # a zero query finds nothing, as in search_faces
        for qi in range(6):
            expected = brute_force(vecs, queries[qi], 10)
            top = store.search_faces_batch("c1", queries, max_results=10)[qi]
            assert [f.face_id for f, _ in top] == [faces[i].face_id for i in expected], qi

    def test_batch_search_edges(self, store: Store, rng: np.random.Generator) -> None:
        faces, vecs = self._filled(store, rng, 20)
        assert store.search_faces_batch("c1", np.empty((0, DIM), np.float32), max_results=5) == []
        assert store.search_faces_batch("c1", vecs[:3], max_results=0) == [[], [], []]
        store.delete_faces("c1", [faces[0].face_id])
        after = store.search_faces_batch("c1", vecs[:2], max_results=3)
        assert faces[0].face_id not in {f.face_id for hits in after for f, _ in hits}
        assert after[1][0][0].face_id == faces[1].face_id
        for bad in (vecs[0], np.ones((2, DIM + 1), np.float32), np.full((1, DIM), np.nan, np.float32)):
            with pytest.raises(InvalidParameterException):
                store.search_faces_batch("c1", bad, max_results=1)
        with pytest.raises(ResourceNotFoundException):
            store.search_faces_batch("nope", vecs[:1], max_results=1)
        store.create_collection(collection("empty"))
        assert store.search_faces_batch("empty", vecs[:2], max_results=3) == [[], []]

    # --- retention -------------------------------------------------------------------------------
    def test_expired_faces_and_collection_default(self, store: Store, rng: np.random.Generator) -> None:
        store.create_collection(collection("keep"))
        store.create_collection(collection("short", retention_days=1.0))
        explicit = make_faces(1, expires_at=2000.0)
        never = make_faces(1)
        defaulted = make_faces(1, indexed_at=1000.0)
        store.add_faces("keep", explicit + never, unit_vectors(2, rng))
        store.add_faces("short", defaulted, unit_vectors(1, rng))
        assert store.get_faces("short", [defaulted[0].face_id])[0].expires_at == 1000.0 + 86400.0
        assert store.expired_faces(1999.0) == []
        assert store.expired_faces(2000.0) == [("keep", explicit[0].face_id)]
        assert store.expired_faces(1e9) == [("keep", explicit[0].face_id), ("short", defaulted[0].face_id)]
        assert store.expired_faces(1e9, limit=1) == [("keep", explicit[0].face_id)]

    # --- users -----------------------------------------------------------------------------------
    def test_users(self, store: Store, rng: np.random.Generator) -> None:
        faces, _ = self._filled(store, rng, 6)
        store.create_user("c1", "u1")
        with pytest.raises(ConflictException):
            store.create_user("c1", "u1")
        user = store.get_user("c1", "u1")
        assert user is not None and user.face_count == 0
        store.associate_faces("c1", "u1", [f.face_id for f in faces[:3]] + ["missing"])
        user = store.get_user("c1", "u1")
        assert user is not None and user.face_count == 3 and user.status == "ACTIVE"
        assert store.get_faces("c1", [faces[0].face_id])[0].user_id == "u1"
        store.create_user("c1", "u2")
        store.disassociate_faces("c1", "u2", [faces[0].face_id])  # not u2's face: untouched
        store.disassociate_faces("c1", "u1", [faces[0].face_id])
        assert store.get_faces("c1", [faces[0].face_id])[0].user_id is None
        assert [(u.user_id, u.face_count) for u in store.list_users("c1", after=None, limit=10)] == [
            ("u1", 2),
            ("u2", 0),
        ]
        assert [u.user_id for u in store.list_users("c1", after="u1", limit=10)] == ["u2"]
        store.delete_user("c1", "u1")
        assert store.get_user("c1", "u1") is None
        assert all(f.user_id is None for f in store.get_faces("c1", [f.face_id for f in faces]))
        assert store.get_collection("c1").face_count == 6  # the faces stay
        with pytest.raises(ResourceNotFoundException):
            store.delete_user("c1", "u1")
        with pytest.raises(ResourceNotFoundException):
            store.associate_faces("c1", "u1", [faces[0].face_id])

    def test_list_users_paginates(self, store: Store) -> None:
        store.create_collection(collection())
        names = [f"user-{i}" for i in range(9)]
        for name in reversed(names):
            store.create_user("c1", name)
        seen: list[str] = []
        after = None
        while page := store.list_users("c1", after=after, limit=4):
            seen += [u.user_id for u in page]
            after = page[-1].user_id
        assert seen == names

    # --- idempotency, keys, jobs -----------------------------------------------------------------
    def test_idempotency_tokens(self, store: Store) -> None:
        assert store.recall_request("t1", "CreateUser") is None
        store.remember_request("t1", "CreateUser", "d1", {"ok": True})
        store.remember_request("t1", "CreateUser", "d2", {"ok": False})  # first answer wins
        assert store.recall_request("t1", "CreateUser") == ("d1", {"ok": True})
        assert store.recall_request("t1", "DeleteUser") is None

    def test_access_keys(self, store: Store) -> None:
        key = AccessKeyRecord("AKIAB", "secret", "search", "ci", 5.0)
        store.create_key(AccessKeyRecord("AKIAA", "s2", "admin", None, 4.0))
        store.create_key(key)
        with pytest.raises(ResourceAlreadyExistsException):
            store.create_key(key)
        assert store.get_key("AKIAB") == key
        assert store.get_key("nope") is None
        assert [k.access_key_id for k in store.list_keys()] == ["AKIAA", "AKIAB"]
        assert store.revoke_key("AKIAB", 9.0) is True
        assert store.revoke_key("AKIAB", 10.0) is False
        assert store.revoke_key("nope", 10.0) is False
        got = store.get_key("AKIAB")
        assert got is not None and got.revoked_at == 9.0

    def test_jobs(self, store: Store) -> None:
        job = JobRecord(
            "j1",
            "FaceSearch",
            "IN_PROGRESS",
            {"CollectionId": "c1"},
            1.0,
            1.0,
            client_request_token="tok",
            job_tag="tag",
            access_key="AKIA",
        )
        store.create_job(job, audit=AuditEntry("StartFaceSearch", details={"JobId": "j1"}))
        store.create_job(JobRecord("j0", "FaceDetection", "IN_PROGRESS", {}, 2.0, 2.0))
        assert store.get_job("j1") == job
        assert store.get_job("nope") is None
        assert store.find_job_by_token("FaceSearch", "tok") == job
        assert store.find_job_by_token("FaceDetection", "tok") is None
        store.update_job("j1", status="SUCCEEDED", result={"Persons": [1, 2]})
        done = store.get_job("j1")
        assert done is not None and done.status == "SUCCEEDED" and done.result == {"Persons": [1, 2]}
        assert [j.job_id for j in store.list_jobs()] == ["j1", "j0"]
        assert [j.job_id for j in store.list_jobs(status="IN_PROGRESS")] == ["j0"]
        with pytest.raises(ResourceNotFoundException):
            store.update_job("nope", status="FAILED")
        assert [r.entry.operation for r in store.list_audit()] == ["StartFaceSearch"]

    # --- audit -----------------------------------------------------------------------------------
    def test_audit_chain_and_listing(self, store: Store, rng: np.random.Generator) -> None:
        store.create_collection(
            collection(), audit=AuditEntry("CreateCollection", "AKIA1", "c1", "r1", "cli")
        )
        faces = make_faces(2)
        store.add_faces(
            "c1",
            faces,
            unit_vectors(2, rng),
            audit=AuditEntry(
                "IndexFaces", collection_id="c1", details={"FaceIds": [f.face_id for f in faces]}
            ),
        )
        rec = store.append_audit(AuditEntry("SearchFaces", collection_id="c1", details={"Threshold": 80.0}))
        store.append_audit(AuditEntry("DetectFaces", details={"count": 1}))
        assert rec.seq == 3
        records = list(store.iter_audit())
        assert [r.seq for r in records] == [1, 2, 3, 4]
        assert records[0].entry == AuditEntry("CreateCollection", "AKIA1", "c1", "r1", "cli")
        assert records[1].entry.details == {"FaceIds": [f.face_id for f in faces]}
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(records))
        assert records[2] == rec
        assert [r.seq for r in store.list_audit(collection_id="c1")] == [1, 2, 3]
        assert [r.seq for r in store.list_audit(after_seq=2, limit=1)] == [3]
        assert [r.seq for r in store.list_audit(since=records[3].time)] == [4]
        verdict = store.verify_audit()
        assert verdict.ok and verdict.records_checked == 4

    def test_audit_head(self, store: Store) -> None:
        assert store.audit_head() == (0, "0" * 64)
        store.append_audit(AuditEntry("DetectFaces"))
        newest = store.append_audit(AuditEntry("DetectFaces", details={"count": 2}))
        assert store.audit_head() == (2, newest.hash)

    def test_failed_operation_writes_no_audit(self, store: Store, rng: np.random.Generator) -> None:
        store.create_collection(collection(), audit=AuditEntry("CreateCollection"))
        with pytest.raises(ResourceAlreadyExistsException):
            store.create_collection(collection(), audit=AuditEntry("CreateCollection"))
        with pytest.raises(InvalidParameterException):
            store.add_faces("c1", make_faces(1), unit_vectors(2, rng), audit=AuditEntry("IndexFaces"))
        with pytest.raises(ResourceNotFoundException):
            store.delete_user("c1", "ghost", audit=AuditEntry("DeleteUser"))
        assert [r.entry.operation for r in store.list_audit()] == ["CreateCollection"]
        assert store.verify_audit().ok

    def test_audit_details_must_be_json(self, store: Store) -> None:
        with pytest.raises((TypeError, ValueError)):
            store.append_audit(AuditEntry("X", details={"bad": object()}))
        store.create_collection(collection())
        with pytest.raises((TypeError, ValueError)):
            store.create_user("c1", "u1", audit=AuditEntry("CreateUser", details={"bad": {1, 2}}))
        assert store.get_user("c1", "u1") is None  # the change rolled back with its record

    # --- durability and concurrency --------------------------------------------------------------
    def test_restart_keeps_everything(
        self, store_factory: StoreFactory, data_dir: Path, rng: np.random.Generator
    ) -> None:
        store = store_factory(data_dir)
        faces, vecs = self._filled(store, rng, self.many)
        store.create_user("c1", "u1")
        store.associate_faces("c1", "u1", [faces[0].face_id])
        store.delete_faces("c1", [faces[1].face_id])
        store.append_audit(AuditEntry("SearchFaces"))
        store.create_key(AccessKeyRecord("AKIA", "s", "admin", None, 1.0))
        store.remember_request("t", "op", "d", {"a": 1})
        before = store.list_faces("c1", after=None, limit=10_000)
        store.close()
        store = store_factory(data_dir)
        try:
            assert store.list_faces("c1", after=None, limit=10_000) == before
            assert store.get_collection("c1").face_count == self.many - 1
            user = store.get_user("c1", "u1")
            assert user is not None and user.face_count == 1
            assert store.verify_audit().ok
            assert store.get_key("AKIA") is not None
            assert store.recall_request("t", "op") == ("d", {"a": 1})
            keep = [i for i in range(self.many) if i != 1]
            for i in (0, 2, self.many - 1):
                hits = store.search_faces("c1", vecs[i], max_results=5)
                expected = [keep[j] for j in brute_force(vecs[keep], vecs[i], 5)]
                assert [f.face_id for f, _ in hits] == [faces[j].face_id for j in expected]
            assert faces[1].face_id not in {
                f.face_id for f, _ in store.search_faces("c1", vecs[1], max_results=20)
            }
        finally:
            store.close()

    def test_concurrent_writers_and_searchers(self, store: Store, rng: np.random.Generator) -> None:
        store.create_collection(collection())
        base_faces, base_vecs = make_faces(self.many), unit_vectors(self.many, rng)
        store.add_faces("c1", base_faces, base_vecs)
        errors: list[BaseException] = []
        added: dict[str, np.ndarray] = {}
        lock = threading.Lock()

        def writer(seed: int) -> None:
            local = np.random.default_rng(seed)
            try:
                for _ in range(15):
                    faces, vecs = make_faces(3), unit_vectors(3, local)
                    store.add_faces("c1", faces, vecs, audit=AuditEntry("IndexFaces", collection_id="c1"))
                    with lock:
                        added.update({f.face_id: v for f, v in zip(faces, vecs, strict=True)})
                    store.delete_faces("c1", [faces[0].face_id])
                    with lock:
                        added.pop(faces[0].face_id)
            except BaseException as exc:
                errors.append(exc)

        def searcher(seed: int) -> None:
            local = np.random.default_rng(seed)
            try:
                for _ in range(40):
                    i = int(local.integers(self.many))
                    hits = store.search_faces("c1", base_vecs[i], max_results=3)
                    assert hits[0][0].face_id == base_faces[i].face_id
                    store.append_audit(AuditEntry("SearchFaces", details={"hits": len(hits)}))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(s,)) for s in range(3)]
        threads += [threading.Thread(target=searcher, args=(s,)) for s in range(10, 13)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert store.get_collection("c1").face_count == self.many + len(added)
        for face_id, vec in added.items():
            assert store.search_faces("c1", vec, max_results=1)[0][0].face_id == face_id
        verdict = store.verify_audit()
        assert verdict.ok and verdict.records_checked == 3 * 15 + 3 * 40
