"""EmbeddedStore: the contract (exact and HNSW modes) plus what only a file-backed store can show.

File-level checks: permissions, kill -9 durability, index repair at start-up, erased bytes, and the audit
chain under direct tampering with the database file.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from regard.store import open_store
from regard.store.embedded import DataDirInUseError, EmbeddedStore
from regard.store.embedded.schema import SchemaTooNewError
from regard.store.records import AuditEntry
from regard.store.vector_index import IndexSettings

from .contract import DIM, StoreContract, collection, make_faces, unit_vectors

HNSW = IndexSettings(hnsw_threshold=64)  # small, so tests run the graph path too


class TestExactMode(StoreContract):
    @pytest.fixture
    def store_factory(self):  # type: ignore[no-untyped-def]
        return lambda d: EmbeddedStore(d)


class TestHnswMode(StoreContract):
    @pytest.fixture
    def store_factory(self):  # type: ignore[no-untyped-def]
        return lambda d: EmbeddedStore(d, index_settings=HNSW)


@pytest.fixture(params=["exact", "hnsw"])
def settings(request: pytest.FixtureRequest) -> IndexSettings:
    return IndexSettings() if request.param == "exact" else HNSW


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(data_dir: Path, settings: IndexSettings) -> Iterator[EmbeddedStore]:
    s = EmbeddedStore(data_dir, index_settings=settings)
    yield s
    s.close()


def all_bytes(data_dir: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in data_dir.rglob("*") if p.is_file()]


def holders(data_dir: Path, needle: bytes) -> list[str]:
    return [str(p.relative_to(data_dir)) for p, content in all_bytes(data_dir) if needle in content]


def index_agrees_with_db(store: EmbeddedStore, data_dir: Path) -> None:
    with sqlite3.connect(data_dir / "regard.db") as db:
        for cid, index in store._indexes.items():
            fids = sorted(r[0] for r in db.execute("SELECT fid FROM faces WHERE cid = ?", (cid,)))
            assert sorted(index.keys().tolist()) == fids


# --- files ------------------------------------------------------------------------------------------
def test_open_store_factory_and_modes(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        data_dir = tmp_path / "data"
        s = open_store(data_dir)
        s.create_collection(collection(), audit=AuditEntry("CreateCollection"))
        s.add_faces("c1", make_faces(100), unit_vectors(100, np.random.default_rng(0)))
        assert isinstance(s, EmbeddedStore)
        s.checkpoint()
        for path in [data_dir, *data_dir.rglob("*")]:
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
        s.close()
    finally:
        os.umask(old)


def test_hnsw_graph_file_is_private(data_dir: Path) -> None:
    old = os.umask(0o022)
    try:
        with EmbeddedStore(data_dir, index_settings=HNSW) as s:
            s.create_collection(collection())
            s.add_faces("c1", make_faces(100), unit_vectors(100, np.random.default_rng(0)))
            s.checkpoint()
            files = list((data_dir / "index").iterdir())
            assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    finally:
        os.umask(old)


def test_one_store_per_data_dir(data_dir: Path) -> None:
    with EmbeddedStore(data_dir), pytest.raises(DataDirInUseError):
        EmbeddedStore(data_dir)
    EmbeddedStore(data_dir).close()  # free again after close


def test_refuses_newer_schema(data_dir: Path) -> None:
    EmbeddedStore(data_dir).close()
    with sqlite3.connect(data_dir / "regard.db") as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(SchemaTooNewError):
        EmbeddedStore(data_dir)


def _version_1_database(data_dir: Path) -> None:
    """A data folder as Regard left it before per-key rate limits (schema version 1), holding one key."""
    from regard.store.embedded import schema

    data_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(data_dir / "regard.db", isolation_level=None)
    conn.execute("BEGIN")
    for statement in schema._statements(schema.MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO access_keys VALUES ('AKIAOLD', 'secret', 'admin', NULL, 1.0, NULL)")
    conn.execute("COMMIT")
    conn.close()


def test_version_1_database_gains_key_rate_limits(data_dir: Path) -> None:
    """A database written before per-key rate limits opens, keeps its keys, and can store a limit."""
    _version_1_database(data_dir)
    with EmbeddedStore(data_dir) as store:
        old = store.get_key("AKIAOLD")
        assert old is not None and old.scope == "admin" and old.rate_limit is None
        assert store.set_key_rate_limit("AKIAOLD", 3.0)
        assert store.get_key("AKIAOLD").rate_limit == 3.0  # type: ignore[union-attr]


def test_key_commands_migrate_a_version_1_database(data_dir: Path) -> None:
    """``regard keys ...`` on an old folder (no server running) upgrades it rather than refusing it."""
    from regard.store import open_key_store

    _version_1_database(data_dir)
    keys = open_key_store(data_dir)
    try:
        assert keys.set_key_rate_limit("AKIAOLD", 2.0)
        assert [(k.access_key_id, k.rate_limit) for k in keys.list_keys()] == [("AKIAOLD", 2.0)]
    finally:
        keys.close()


# --- erasure ----------------------------------------------------------------------------------------
def _erasure_setup(store: EmbeddedStore, data_dir: Path, n: int = 200) -> tuple[list, np.ndarray]:
    store.create_collection(collection())
    faces, vecs = make_faces(n), unit_vectors(n, np.random.default_rng(3))
    store.add_faces("c1", faces, vecs)
    store.checkpoint()  # the graph file (HNSW mode) and the database now hold every template
    for i in (4, 5, 6):
        assert holders(data_dir, vecs[i].tobytes()), "control: the template must be findable before erasure"
    if store._indexes[1].approximate:
        assert holders(data_dir, vecs[4].astype(np.float16).tobytes()), "control: the graph holds f16 copies"
    return faces, vecs


def _assert_erased(
    store: EmbeddedStore, data_dir: Path, vecs: np.ndarray, idx: list[int], faces: list
) -> None:
    for i in idx:
        assert holders(data_dir, vecs[i].tobytes()) == []
        assert holders(data_dir, vecs[i].astype(np.float16).tobytes()) == []
    store.checkpoint()  # and a later save of the graph does not bring them back
    for i in idx:
        assert holders(data_dir, vecs[i].tobytes()) == []
        assert holders(data_dir, vecs[i].astype(np.float16).tobytes()) == []
    if faces:
        ids = {faces[i].face_id for i in idx}
        for i in idx:
            assert not ids & {f.face_id for f, _ in store.search_faces("c1", vecs[i], max_results=50)}


def test_delete_faces_leaves_no_template_bytes(store: EmbeddedStore, data_dir: Path) -> None:
    faces, vecs = _erasure_setup(store, data_dir)
    store.delete_faces("c1", [faces[i].face_id for i in (4, 5, 6)])
    _assert_erased(store, data_dir, vecs, [4, 5, 6], faces)
    assert holders(data_dir, vecs[7].tobytes())  # the rest is still there


def test_erasing_a_user_leaves_no_template_bytes(store: EmbeddedStore, data_dir: Path) -> None:
    """DeleteUser keeps the faces (Rekognition); erasing a person is delete_faces of theirs + delete_user."""
    faces, vecs = _erasure_setup(store, data_dir)
    store.create_user("c1", "person")
    store.associate_faces("c1", "person", [faces[i].face_id for i in (4, 5, 6)])
    theirs = [f.face_id for f in store.list_faces("c1", after=None, limit=100, user_id="person")]
    store.delete_faces("c1", theirs)
    store.delete_user("c1", "person")
    _assert_erased(store, data_dir, vecs, [4, 5, 6], faces)


def test_delete_collection_leaves_no_template_bytes(store: EmbeddedStore, data_dir: Path) -> None:
    faces, vecs = _erasure_setup(store, data_dir)
    store.delete_collection("c1")
    store.create_collection(collection())
    _assert_erased(store, data_dir, vecs, list(range(len(faces))), faces)
    assert list((data_dir / "index").iterdir()) == []


def test_erased_bytes_stay_gone_after_restart(data_dir: Path, settings: IndexSettings) -> None:
    store = EmbeddedStore(data_dir, index_settings=settings)
    faces, vecs = _erasure_setup(store, data_dir)
    store.delete_faces("c1", [faces[4].face_id])
    store.add_faces("c1", make_faces(50), unit_vectors(50, np.random.default_rng(9)))
    store.close()
    store = EmbeddedStore(data_dir, index_settings=settings)
    try:
        _assert_erased(store, data_dir, vecs, [4], faces)
    finally:
        store.close()


# --- vector index repair at start-up -----------------------------------------------------------------
def _graph_file(data_dir: Path) -> Path:
    (path,) = list((data_dir / "index").iterdir())
    return path


@pytest.mark.parametrize("damage", ["truncate", "garbage", "remove"])
def test_damaged_graph_is_rebuilt(data_dir: Path, damage: str) -> None:
    store = EmbeddedStore(data_dir, index_settings=HNSW)
    store.create_collection(collection())
    faces, vecs = make_faces(300), unit_vectors(300, np.random.default_rng(4))
    store.add_faces("c1", faces, vecs)
    store.close()
    path = _graph_file(data_dir)
    if damage == "truncate":
        with path.open("r+b") as f:
            f.truncate(path.stat().st_size // 2)
    elif damage == "garbage":
        path.write_bytes(os.urandom(path.stat().st_size))
    else:
        path.unlink()
    with EmbeddedStore(data_dir, index_settings=HNSW) as store:
        index_agrees_with_db(store, data_dir)
        for i in range(0, 300, 37):
            assert store.search_faces("c1", vecs[i], max_results=1)[0][0].face_id == faces[i].face_id


def test_stale_graph_is_reconciled(data_dir: Path) -> None:
    """A graph saved before some adds and deletes (a crash) gains the new faces and loses the deleted ones."""
    store = EmbeddedStore(data_dir, index_settings=HNSW)
    store.create_collection(collection())
    faces, vecs = make_faces(300), unit_vectors(300, np.random.default_rng(5))
    store.add_faces("c1", faces[:200], vecs[:200])
    store.checkpoint()
    old = data_dir.parent / "old.usearch"
    shutil.copy(_graph_file(data_dir), old)
    store.add_faces("c1", faces[200:], vecs[200:])
    store.delete_faces("c1", [faces[10].face_id, faces[250].face_id])
    store.close()
    shutil.copy(old, _graph_file(data_dir))  # back to the stale graph, still holding face 10
    with EmbeddedStore(data_dir, index_settings=HNSW) as store:
        index_agrees_with_db(store, data_dir)
        for i in (0, 150, 260, 299):
            assert store.search_faces("c1", vecs[i], max_results=1)[0][0].face_id == faces[i].face_id
        for i in (10, 250):
            assert faces[i].face_id not in {
                f.face_id for f, _ in store.search_faces("c1", vecs[i], max_results=20)
            }
        old.unlink()
        assert holders(data_dir, vecs[10].astype(np.float16).tobytes()) == []  # rewritten without it


def test_graph_of_deleted_collection_is_removed(data_dir: Path) -> None:
    store = EmbeddedStore(data_dir, index_settings=HNSW)
    store.create_collection(collection())
    store.add_faces("c1", make_faces(100), unit_vectors(100, np.random.default_rng(6)))
    store.close()
    (data_dir / "index" / "99.usearch").write_bytes(b"orphan")
    with EmbeddedStore(data_dir, index_settings=HNSW):
        assert sorted(p.name for p in (data_dir / "index").iterdir()) == ["1.usearch"]


# --- kill -9 ----------------------------------------------------------------------------------------
_WRITER = textwrap.dedent(
    """
    import sys, uuid
    import numpy as np
    from pathlib import Path
    from regard.store.embedded import EmbeddedStore
    from regard.store.records import AuditEntry, BoundingBox, CollectionRecord, FaceRecord
    from regard.store.vector_index import IndexSettings

    data_dir, threshold = Path(sys.argv[1]), int(sys.argv[2])
    store = EmbeddedStore(data_dir, index_settings=IndexSettings(hnsw_threshold=threshold), save_interval=0.2)
    store.create_collection(CollectionRecord("c1", "m/1", {dim}, 0.0))
    rng = np.random.default_rng(11)
    for batch in range(100000):
        box = BoundingBox(0, 0, 1, 1)
        faces = [FaceRecord(str(uuid.uuid4()), "img", box, 99.0, "7.0", 0.0) for _ in range(5)]
        vecs = rng.standard_normal((5, {dim})).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        store.add_faces("c1", faces, vecs, audit=AuditEntry("IndexFaces", details={{"batch": batch}}))
        if batch % 7 == 3:
            store.delete_faces("c1", [faces[0].face_id])
            print("DEL", faces[0].face_id, flush=True)
        for f, v in zip(faces, vecs):
            print("ACK", f.face_id, v.tobytes().hex(), flush=True)
    """
).format(dim=DIM)


@pytest.mark.slow
@pytest.mark.parametrize("acks", [137, 600])
@pytest.mark.parametrize("threshold", [1_000_000, 64])
def test_kill_9_keeps_every_acknowledged_face(tmp_path: Path, threshold: int, acks: int) -> None:
    data_dir = tmp_path / "data"
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(data_dir), str(threshold)], stdout=subprocess.PIPE, text=True
    )
    acked: dict[str, np.ndarray] = {}
    deleted: set[str] = set()
    assert proc.stdout is not None
    for line in proc.stdout:
        kind, face_id, *rest = line.split()
        if kind == "DEL":
            deleted.add(face_id)
        else:
            acked[face_id] = np.frombuffer(bytes.fromhex(rest[0]), np.float32)
        if len(acked) >= acks:
            break
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL  # killed mid-run, not finished or crashed
    assert len(acked) >= acks
    with EmbeddedStore(data_dir, index_settings=IndexSettings(hnsw_threshold=threshold)) as store:
        index_agrees_with_db(store, data_dir)
        present = {f.face_id for f in store.get_faces("c1", list(acked))}
        assert present >= set(acked) - deleted
        assert not present & deleted
        for face_id in list(set(acked) - deleted)[::10]:
            assert store.search_faces("c1", acked[face_id], max_results=1)[0][0].face_id == face_id
        assert store.verify_audit().ok


# --- audit tampering ---------------------------------------------------------------------------------
@pytest.fixture
def audited(data_dir: Path) -> Path:
    with EmbeddedStore(data_dir) as store:
        for i in range(1, 11):
            store.append_audit(AuditEntry("SearchFaces", collection_id="c1", details={"n": i}))
    return data_dir


def _tamper(data_dir: Path, *statements: tuple[str, tuple]) -> None:
    with sqlite3.connect(data_dir / "regard.db") as db:
        for sql, params in statements:
            db.execute(sql, params)


def _verify(data_dir: Path):  # type: ignore[no-untyped-def]
    with EmbeddedStore(data_dir) as store:
        return store.verify_audit()


def test_audit_intact(audited: Path) -> None:
    verdict = _verify(audited)
    assert verdict.ok and verdict.records_checked == 10


def test_audit_changed_record(audited: Path) -> None:
    _tamper(audited, ("UPDATE audit SET details = ? WHERE seq = 4", ('{"n":40}',)))
    verdict = _verify(audited)
    assert not verdict.ok and verdict.first_bad_seq == 4 and "changed" in (verdict.reason or "")


def test_audit_removed_record(audited: Path) -> None:
    _tamper(audited, ("DELETE FROM audit WHERE seq = 6", ()))
    verdict = _verify(audited)
    assert not verdict.ok and verdict.first_bad_seq == 6 and "missing" in (verdict.reason or "")


def test_audit_inserted_record(audited: Path) -> None:
    """A forged record slipped in at seq 5 (later ones renumbered) breaks the chain at the forgery."""
    _tamper(
        audited,
        ("UPDATE audit SET seq = -seq WHERE seq >= 5", ()),
        ("UPDATE audit SET seq = 1 - seq WHERE seq < 0", ()),
        (
            "INSERT INTO audit SELECT 5, time, 'DeleteFaces', access_key, collection_id, request_id, client, "
            "'{}', hash, ? FROM audit WHERE seq = 4",
            ("f" * 64,),
        ),
    )
    verdict = _verify(audited)
    assert not verdict.ok and verdict.first_bad_seq == 5


def test_audit_inserted_record_with_recomputed_hash(audited: Path) -> None:
    """Even a forgery with a correct own hash is caught: the next record no longer links to it."""
    from regard.store.embedded.audit import record_hash

    with sqlite3.connect(audited / "regard.db") as db:
        time_, prev = db.execute("SELECT time, hash FROM audit WHERE seq = 4").fetchone()
        db.execute("UPDATE audit SET seq = -seq WHERE seq >= 5")
        db.execute("UPDATE audit SET seq = 1 - seq WHERE seq < 0")
        forged = AuditEntry("DeleteFaces")
        db.execute(
            "INSERT INTO audit VALUES (5, ?, 'DeleteFaces', NULL, NULL, NULL, NULL, '{}', ?, ?)",
            (time_, prev, record_hash(5, time_, forged, prev)),
        )
    verdict = _verify(audited)
    assert not verdict.ok and verdict.first_bad_seq == 6


def test_audit_truncated_tail(audited: Path) -> None:
    _tamper(audited, ("DELETE FROM audit WHERE seq > 7", ()))
    verdict = _verify(audited)
    assert not verdict.ok and verdict.first_bad_seq == 8 and "anchor" in (verdict.reason or "")


def test_audit_anchor_file_damaged_or_missing(audited: Path) -> None:
    anchor = audited / "audit.anchor"
    anchor.write_text(anchor.read_text().replace(" 10 ", " 11 "))
    verdict = _verify(audited)
    assert not verdict.ok and "checksum" in (verdict.reason or "")
    anchor.unlink()
    verdict = _verify(audited)
    assert not verdict.ok and "missing" in (verdict.reason or "")


def test_audit_lagging_anchor_catches_up(audited: Path) -> None:
    """A crash between commit and anchor write leaves the anchor behind: that is not tampering."""
    from regard.store.embedded.audit import Anchor, write_anchor

    with sqlite3.connect(audited / "regard.db") as db:
        seq, digest = db.execute("SELECT seq, hash FROM audit WHERE seq = 8").fetchone()
    write_anchor(audited / "audit.anchor", Anchor(seq, digest))
    verdict = _verify(audited)
    assert verdict.ok and verdict.records_checked == 10


def test_identical_live_template_survives_erasure_of_its_twin(data_dir: Path) -> None:
    """The same image indexed twice gives identical templates; erasing one must not damage the other."""
    with EmbeddedStore(data_dir, index_settings=HNSW) as store:
        store.create_collection(collection())
        faces, vecs = make_faces(100), unit_vectors(100, np.random.default_rng(8))
        vecs[99] = vecs[3]
        store.add_faces("c1", faces, vecs)
        store.checkpoint()
        store.delete_faces("c1", [faces[3].face_id])
        store.checkpoint()
        hit, score = store.search_faces("c1", vecs[3], max_results=1)[0]
        assert hit.face_id == faces[99].face_id and score == pytest.approx(1.0, abs=1e-5)
    with EmbeddedStore(data_dir, index_settings=HNSW) as store:
        assert store.search_faces("c1", vecs[3], max_results=1)[0][0].face_id == faces[99].face_id


def test_searches_continue_while_the_graph_is_first_built(data_dir: Path) -> None:
    settings = IndexSettings(hnsw_threshold=400)
    with EmbeddedStore(data_dir, index_settings=settings) as store:
        store.create_collection(collection())
        faces, vecs = make_faces(600), unit_vectors(600, np.random.default_rng(9))
        store.add_faces("c1", faces[:50], vecs[:50])
        errors: list[BaseException] = []
        stop = threading.Event()

        def search() -> None:
            try:
                while not stop.is_set():
                    i = int(np.random.default_rng().integers(50))
                    assert store.search_faces("c1", vecs[i], max_results=1)[0][0].face_id == faces[i].face_id
            except BaseException as exc:
                errors.append(exc)
                raise

        threads = [threading.Thread(target=search) for _ in range(2)]
        for t in threads:
            t.start()
        for start in range(50, 600, 50):
            store.add_faces("c1", faces[start : start + 50], vecs[start : start + 50])
        stop.set()
        for t in threads:
            t.join()
        assert not errors
        assert store._indexes[1].approximate
        index_agrees_with_db(store, data_dir)
        for i in range(0, 600, 50):
            assert store.search_faces("c1", vecs[i], max_results=1)[0][0].face_id == faces[i].face_id


BACKGROUND = IndexSettings(hnsw_threshold=2000, background_build=2000, build_chunk=500)


@contextmanager
def _building(data_dir: Path, n: int, seed: int, first: int | None = None) -> Iterator[tuple]:
    """A store whose collection just received ``first`` (default all) of ``n`` faces in one call, past the
    threshold: (store, its vector index, faces, vectors)."""
    faces, vecs = make_faces(n), unit_vectors(n, np.random.default_rng(seed))
    with EmbeddedStore(data_dir, index_settings=BACKGROUND) as store:
        store.create_collection(collection())
        store.add_faces("c1", faces[:first], vecs[:first])
        yield store, store._indexes[1], faces, vecs


def _exact_hits(store: EmbeddedStore, faces: list, vecs: np.ndarray, rows: range) -> None:
    for i in rows:
        hit, score = store.search_faces("c1", vecs[i], max_results=1)[0]
        assert hit.face_id == faces[i].face_id and score == pytest.approx(1.0, abs=1e-5)


def test_the_graph_is_built_in_the_background_while_writes_and_exact_searches_go_on(data_dir: Path) -> None:
    """Reaching the threshold does not hold the writer for the graph's build (30-100 s at 20k faces on 2
    cores): the call returns, searches stay exact, later adds and deletes land in the graph when it swaps
    in."""
    with _building(data_dir, 2600, 21, first=2000) as (store, index, faces, vecs):
        assert index.building and not index.approximate  # the call came back before the graph
        _exact_hits(store, faces, vecs, range(0, 2000, 97))
        store.add_faces("c1", faces[2000:2600], vecs[2000:2600])
        store.delete_faces("c1", [faces[i].face_id for i in (5, 1500, 2300)])
        assert index.wait_built(timeout=300) and index.approximate
        index_agrees_with_db(store, data_dir)
        _exact_hits(store, faces, vecs, range(3, 2600, 131))
        for i in (5, 1500, 2300):
            assert store.search_faces("c1", vecs[i], max_results=1)[0][0].face_id != faces[i].face_id


def test_a_lost_graph_is_rebuilt_in_the_background_at_start_up(data_dir: Path) -> None:
    with _building(data_dir, 2400, 22) as (_, index, faces, vecs):
        assert index.wait_built(timeout=300)
    graph = next((data_dir / "index").iterdir())
    graph.unlink()
    with EmbeddedStore(data_dir, index_settings=BACKGROUND) as store:
        index = store._indexes[1]
        assert index.building and not index.approximate  # open() did not wait for the build
        _exact_hits(store, faces, vecs, range(0, 2400, 89))
        assert index.wait_built(timeout=300) and index.approximate
        _exact_hits(store, faces, vecs, range(1, 2400, 89))
        store.checkpoint()
        assert graph.exists()


def test_closing_during_a_background_build_stops_it_and_the_next_start_builds_again(data_dir: Path) -> None:
    with _building(data_dir, 2400, 23) as (_, index, faces, vecs):
        assert index.building
    assert not index.building  # close() waited for the builder to stop
    with EmbeddedStore(data_dir, index_settings=BACKGROUND) as store:
        assert store._indexes[1].wait_built(timeout=300) and store._indexes[1].approximate
        index_agrees_with_db(store, data_dir)
        _exact_hits(store, faces, vecs, range(0, 2400, 101))


def test_deleting_the_collection_during_a_background_build_discards_the_graph(data_dir: Path) -> None:
    with _building(data_dir, 2200, 24) as (store, index, _, _):
        assert index.building
        store.delete_collection("c1")
        assert index.wait_built(timeout=300) and not index.approximate and len(index) == 0
        assert list((data_dir / "index").iterdir()) == []


def test_search_breadth_grows_with_the_graph() -> None:
    s = IndexSettings()
    assert s.ef_for(50_000, 10) == s.expansion_search
    assert s.expansion_search < s.ef_for(500_000, 10) <= s.max_expansion_search
    assert s.ef_for(10_000_000, 10) == s.max_expansion_search
    assert s.ef_for(50_000, 4096) == 4096  # never fewer candidates than asked for
