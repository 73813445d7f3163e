"""SearchFaces at the store level: latency (p50, p99), recall@10 against exact search, memory per face,
index build time and add throughput, beside a brute-force numpy baseline measured in the same run.

    .venv/bin/python bench/bench_search.py                       # 10k, 100k, 1M stored 512-d faces
    .venv/bin/python bench/bench_search.py --sizes 10000 --queries 200
    .venv/bin/python bench/bench_search.py --sweep 100000        # index settings compared at one size

The vectors are synthetic: unit vectors in identity clusters (about 3 faces per identity) inside 2,000 broad
groups, so that the 10 nearest neighbours are a mix of the same identity and near-by identities, as with real
face embeddings, and not the easy case of uniform noise. Queries are new faces of stored identities. Real
embeddings at this scale were not available; see bench/results/search.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from regard.store.embedded import EmbeddedStore
from regard.store.records import BoundingBox, CollectionRecord, FaceRecord
from regard.store.vector_index import HnswIndex, IndexSettings

DIM = 512
K = 10


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def synthetic(n: int, nq: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(stored faces, queries): groups -> identities -> faces; query = a new face of a stored identity."""
    rng = np.random.default_rng(seed)
    groups = unit(rng.standard_normal((2000, DIM)))
    n_id = max(n // 3, 1)
    centres = np.empty((n_id, DIM), np.float32)
    for s in range(0, n_id, 100_000):
        e = min(n_id, s + 100_000)
        centres[s:e] = unit(groups[rng.integers(0, 2000, e - s)] + unit(rng.standard_normal((e - s, DIM))))
    ids = rng.integers(0, n_id, n)
    x = np.empty((n, DIM), np.float32)
    for s in range(0, n, 100_000):
        e = min(n, s + 100_000)
        x[s:e] = unit(centres[ids[s:e]] + 0.9 * unit(rng.standard_normal((e - s, DIM))))
    q_ids = ids[rng.integers(0, n, nq)]
    q = unit(centres[q_ids] + 0.9 * unit(rng.standard_normal((nq, DIM))))
    return x, q


def exact_top(x: np.ndarray, q: np.ndarray, k: int = K) -> np.ndarray:
    out = np.empty((len(q), k), np.int64)
    for s in range(0, len(q), 100):
        scores = q[s : s + 100] @ x.T
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
        out[s : s + 100] = np.take_along_axis(top, order, axis=1)
    return out


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values) * 1e3, p))


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(f[:K]) & set(t.tolist())) / K for f, t in zip(found, truth, strict=True)]))


def run_size(n: int, nq: int, batch: int, workdir: Path, settings: IndexSettings) -> dict[str, object]:
    x, q = synthetic(n, nq)
    truth = exact_top(x, q)
    gc.collect()
    rss0 = rss_bytes()
    data_dir = Path(tempfile.mkdtemp(dir=workdir)) / "data"
    result: dict[str, object] = {"faces": n, "queries": nq}

    store = EmbeddedStore(data_dir, index_settings=settings, save_interval=1e9)
    try:
        store.create_collection(CollectionRecord("bench", "synthetic/1", DIM, time.time()))
        box = BoundingBox(0.1, 0.1, 0.5, 0.5)
        face_ids = [str(uuid.uuid4()) for _ in range(n)]
        t0 = time.perf_counter()
        with timed_graph_inserts() as graph_time:
            for s in range(0, n, batch):
                faces = [FaceRecord(f, f, box, 99.0, "7.0", 0.0) for f in face_ids[s : s + batch]]
                store.add_faces("bench", faces, x[s : s + batch])
            store._indexes[1].wait_built()  # a background thread builds the graph from the threshold on
        load = time.perf_counter() - t0
        t = time.perf_counter()
        store.checkpoint()
        result["graph_save_s"] = round(time.perf_counter() - t, 2)
        gc.collect()
        rss1 = rss_bytes()
        index = store._indexes[1]
        result.update(
            approximate=index.approximate,
            load_s=round(load, 1),
            add_faces_per_s=round(n / load),
            graph_build_s=round(graph_time[0], 1),
            rss_per_face_bytes=round((rss1 - rss0) / n),
            graph_bytes_per_face=round(index._hnsw.memory_usage() / n) if index._hnsw is not None else None,
            db_bytes_per_face=round((data_dir / "regard.db").stat().st_size / n),
        )
        row = {f: i for i, f in enumerate(face_ids)}
        for query in q[:20]:  # warm-up
            store.search_faces("bench", query, max_results=K)
        lat, found = [], []
        for query in q:
            t = time.perf_counter()
            hits = store.search_faces("bench", query, max_results=K)
            lat.append(time.perf_counter() - t)
            found.append([row[f.face_id] for f, _ in hits])
        result.update(store_p50_ms=round(pct(lat, 50), 2), store_p99_ms=round(pct(lat, 99), 2))
        result["store_recall_at_10"] = round(recall(found, truth), 4)
        lat, found = [], []
        for query in q:
            t = time.perf_counter()
            keys, _ = index.search(query, K)
            lat.append(time.perf_counter() - t)
            found.append([int(k) - 1 for k in keys])  # fid = row + 1: faces were added in order
        result.update(index_p50_ms=round(pct(lat, 50), 2), index_p99_ms=round(pct(lat, 99), 2))
        result["index_recall_at_10"] = round(recall(found, truth), 4)
        if index._hnsw is not None:  # the same graph searched with other expansion_search values
            graph = index._hnsw._index
            for ef in (64, 128, 256, 512):
                graph.expansion_search = ef
                lat, found = [], []
                for query in q:
                    t = time.perf_counter()
                    keys = np.asarray(graph.search(query, K, threads=1).keys)
                    lat.append(time.perf_counter() - t)
                    found.append([int(k) - 1 for k in keys])
                result[f"ef{ef}"] = {
                    "p50_ms": round(pct(lat, 50), 2),
                    "recall_at_10": round(recall(found, truth), 4),
                }
            graph.expansion_search = settings.expansion_search
        lat, found = [], []
        for query in q[: min(nq, 200)]:
            t = time.perf_counter()
            scores = x @ query
            top = np.argpartition(-scores, K)[:K]
            top = top[np.argsort(-scores[top])]
            lat.append(time.perf_counter() - t)
            found.append(top.tolist())
        result.update(brute_p50_ms=round(pct(lat, 50), 2), brute_p99_ms=round(pct(lat, 99), 2))
        result["brute_recall_at_10"] = round(recall(found, truth[: len(found)]), 4)
        lat = []
        one = unit(np.random.default_rng(5).standard_normal((200, DIM)))
        for i in range(200):  # one IndexFaces-sized write: fsync bound
            t = time.perf_counter()
            store.add_faces(
                "bench", [FaceRecord(str(uuid.uuid4()), "i", box, 99.0, "7.0", 0.0)], one[i : i + 1]
            )
            lat.append(time.perf_counter() - t)
        result.update(add_one_p50_ms=round(pct(lat, 50), 2), add_one_p99_ms=round(pct(lat, 99), 2))
        store.close()
        t = time.perf_counter()
        store = EmbeddedStore(data_dir, index_settings=settings, save_interval=1e9)
        result["reopen_s"] = round(time.perf_counter() - t, 1)
    finally:
        store.close()
        shutil.rmtree(data_dir.parent)
    return result


@contextmanager
def timed_graph_inserts() -> Iterator[list[float]]:
    """Seconds spent inserting into HNSW graphs (in any thread) while inside, in the yielded list's item."""
    spent = [0.0]
    original_add = HnswIndex.add

    def timed_add(self: HnswIndex, keys: np.ndarray, vecs: np.ndarray) -> None:
        t = time.perf_counter()
        original_add(self, keys, vecs)
        spent[0] += time.perf_counter() - t

    HnswIndex.add = timed_add  # type: ignore[method-assign]
    try:
        yield spent
    finally:
        HnswIndex.add = original_add  # type: ignore[method-assign]


SWEEP = "f16:16:128,f16:16:64,i8:16:64,f32:16:64,f16:32:64"


def sweep(n: int, nq: int, configs: str, efs: str, ivf: bool) -> list[dict[str, object]]:
    """Graph settings (dtype:connectivity:expansion_add) compared at the index level, without SQLite."""
    from usearch.index import Index

    x, q = synthetic(n, nq)
    truth = exact_top(x, q)
    rows: list[dict[str, object]] = []
    for config in configs.split(","):
        dtype, m_text, ef_add_text = config.split(":")
        m, ef_add = int(m_text), int(ef_add_text)
        index = Index(ndim=DIM, metric="ip", dtype=dtype, connectivity=m, expansion_add=ef_add)
        t = time.perf_counter()
        index.add(np.arange(n), x)
        build = time.perf_counter() - t
        for ef in (int(e) for e in efs.split(",")):
            index.expansion_search = ef
            lat, found, rescored = [], [], []
            for query in q:
                t = time.perf_counter()
                keys = np.asarray(index.search(query, K + 16, threads=1).keys)
                lat.append(time.perf_counter() - t)
                found.append(keys[:K].tolist())
                rescored.append(keys[np.argsort(-(x[keys] @ query))][:K].tolist())
            rows.append(
                {
                    "index": f"usearch {dtype} M={m} ef_add={ef_add}",
                    "search": f"ef={ef}",
                    "build_s": round(build, 1),
                    "bytes_per_face": round(index.memory_usage / n),
                    "recall": round(recall(found, truth), 4),
                    "recall_rescored": round(recall(rescored, truth), 4),
                    "p50_ms": round(pct(lat, 50), 2),
                    "p99_ms": round(pct(lat, 99), 2),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
        del index
    try:
        import faiss
    except ImportError:
        return rows
    if not ivf:
        return rows
    nlist = int(4 * np.sqrt(n))
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIM), DIM, nlist, faiss.METRIC_INNER_PRODUCT)
    t = time.perf_counter()
    ivf.train(x[np.random.default_rng(0).choice(n, min(n, 40 * nlist), replace=False)])
    ivf.add(x)
    build = time.perf_counter() - t
    for nprobe in (16, 64, 128):
        ivf.nprobe = nprobe
        lat, found = [], []
        for query in q:
            t = time.perf_counter()
            _, ids = ivf.search(query[None], K)
            lat.append(time.perf_counter() - t)
            found.append(ids[0].tolist())
        rows.append(
            {
                "index": f"faiss IVFFlat nlist={nlist}",
                "search": f"nprobe={nprobe}",
                "build_s": round(build, 1),
                "bytes_per_face": DIM * 4 + 8,
                "recall": round(recall(found, truth), 4),
                "recall_rescored": None,
                "p50_ms": round(pct(lat, 50), 2),
                "p99_ms": round(pct(lat, 99), 2),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--batch", type=int, default=1000, help="faces per add_faces call while loading")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--sweep", type=int, default=0, help="compare index settings at this size instead")
    parser.add_argument("--configs", default=SWEEP, help="sweep: dtype:connectivity:expansion_add,...")
    parser.add_argument("--efs", default="64,128,256", help="sweep: expansion_search values")
    parser.add_argument("--no-ivf", action="store_true", help="sweep: skip faiss IVF-Flat")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "search.json")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.sweep:
        rows = sweep(args.sweep, args.queries, args.configs, args.efs, not args.no_ivf)
        args.out.with_name(f"sweep-{args.sweep}.json").write_text(json.dumps(rows, indent=1) + "\n")
        return
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        t = time.perf_counter()
        results.append(run_size(n, args.queries, args.batch, args.workdir, IndexSettings()))
        results[-1]["wall_s"] = round(time.perf_counter() - t)
        print(json.dumps(results[-1]), flush=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
