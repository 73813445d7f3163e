"""Service-level work that must happen once across replicas sharing a PostgreSQL database."""

from __future__ import annotations

import time

import numpy as np

from regard.service.app import Regard
from regard.service.retention import RetentionWorker
from regard.store.postgres import PostgresStore
from regard.store.records import BoundingBox, CollectionRecord, FaceRecord


def test_retention_sweep_runs_on_one_replica_per_period(pg_url: str) -> None:
    stores = [PostgresStore(pg_url), PostgresStore(pg_url)]
    replicas = [Regard(s) for s in stores]
    stores[0].create_collection(CollectionRecord("c", "buffalo_s/1.0", 8, 1.0))
    vecs = np.eye(8, dtype=np.float32)[:4]
    faces = [
        FaceRecord(
            f"00000000-0000-0000-0000-00000000000{i}",
            "img",
            BoundingBox(0, 0, 1, 1),
            99.0,
            "7.0",
            1.0,
            expires_at=2.0,
        )
        for i in range(4)
    ]
    stores[0].add_faces("c", faces, vecs)
    workers = [RetentionWorker(r, interval=30.0) for r in replicas]
    try:
        for w in workers:
            w.start()
        deadline = time.monotonic() + 30
        while stores[1].get_collection("c").face_count and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # the other replica's first round has run too by now
        sweeps = [r for r in stores[1].iter_audit() if r.entry.operation == "RetentionSweep"]
        assert stores[0].get_collection("c").face_count == 0
        assert len(sweeps) == 1, sweeps  # one replica held the lease; the other skipped the period
        holders = {s.owner for s in stores}
        with stores[0]._pool.connection() as c:
            (owner,) = c.execute("SELECT owner FROM leases WHERE name = 'retention-sweep'").fetchone()
        assert owner in holders
    finally:
        for w in workers:
            w.stop()
        for r in replicas:
            r.close()
