"""One collection's vectors: exact numpy search when small, a usearch HNSW graph when large enough to pay.

The database is the source of truth; this index is a fast, rebuildable copy. Keys are the database's face
row IDs (never reused, so a stale key in a saved graph can never name a different face). Scores are inner
products of L2-normalised vectors, i.e. cosine similarity; the HNSW graph stores half-precision vectors, so
callers that need exact similarities re-score the few hits from the float32 source (the store does).

Erasure: a saved graph is deleted from disk as soon as a vector is removed from it, and written anew (without
the removed vectors' bytes, see ``HnswIndex``) by the next save; the store saves soon after every removal.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from regard.store.usearch_loader import Index

log = logging.getLogger(__name__)

Keys = NDArray[np.int64]
Matrix = NDArray[np.float32]

Fetch = Callable[[Keys], Matrix]  # keys -> their float32 vectors, read from the database

SERIAL_SEED = 1000  # a graph's first vectors are inserted with one thread (see ``HnswIndex.add``)


@dataclass(frozen=True, slots=True)
class IndexSettings:
    """Chosen by ``bench/bench_search.py``; see ``bench/results/search.md``."""

    hnsw_threshold: int = 20_000  # below this many vectors exact search is fast enough (< ~2 ms)
    # A graph of at least this many vectors is built by a background thread while searches stay exact: the
    # 20k-vector graph took 30-100 s to build on 2 cores, and a lost 100k graph 886 s at start-up.
    background_build: int = 5_000
    build_chunk: int = 5_000  # vectors per graph insertion call; a closing store waits for one at most
    dtype: str = "f16"  # stored vector precision in the graph; exact re-scoring uses float32
    # At 1M, connectivity 32 / expansion_add 256 reach recall@10 1.0 at ef 128 (graph p50 1.9 ms), where
    # 16 / 128 plateau at 0.98 whatever the ef; the price is a 3.7x longer build (43 min for 1M on 2 cores).
    connectivity: int = 32
    expansion_add: int = 256
    expansion_search: int = 128  # up to ``ef_base_size`` vectors; then grows with the size, see ``ef_for``
    ef_base_size: int = 100_000
    max_expansion_search: int = 256  # at 1M with the graph above: ef 256, recall 1.0, graph p50 3.1 ms

    def ef_for(self, size: int, k: int) -> int:
        """Search breadth for a graph of ``size`` vectors: recall falls as graphs grow at a fixed breadth."""
        grown = self.expansion_search * max(1.0, size / self.ef_base_size)
        return max(k, min(int(grown), self.max_expansion_search))


class FlatIndex:
    """Exact search over a contiguous float32 matrix; removal swaps the last row in (O(1) per key)."""

    def __init__(self, ndim: int) -> None:
        self.ndim = ndim
        self._vecs: Matrix = np.empty((0, ndim), np.float32)
        self._keys: Keys = np.empty(0, np.int64)
        self._n = 0
        self._row: dict[int, int] = {}

    def __len__(self) -> int:
        return self._n

    def keys(self) -> Keys:
        return self._keys[: self._n].copy()

    def vectors(self) -> tuple[Keys, Matrix]:
        return self._keys[: self._n].copy(), self._vecs[: self._n].copy()

    def rows(self, keys: Keys) -> tuple[Keys, Matrix]:
        """Those of ``keys`` still present, with copies of their vectors."""
        at = [self._row[k] for k in keys.tolist() if k in self._row]
        return self._keys[at], self._vecs[at]

    def add(self, keys: Keys, vecs: Matrix) -> None:
        fresh = [i for i, k in enumerate(keys.tolist()) if k not in self._row]
        if len(fresh) != len(keys):
            keys, vecs = keys[fresh], vecs[fresh]
        need = self._n + len(keys)
        if need > len(self._vecs):
            cap = max(need, 2 * len(self._vecs), 1024)
            grown = np.empty((cap, self.ndim), np.float32)
            grown[: self._n] = self._vecs[: self._n]
            grown_keys = np.empty(cap, np.int64)
            grown_keys[: self._n] = self._keys[: self._n]
            self._vecs.fill(0)  # the old buffer is freed; leave no template bytes behind in it
            self._vecs, self._keys = grown, grown_keys
        self._vecs[self._n : need] = vecs
        self._keys[self._n : need] = keys
        for i, k in enumerate(keys.tolist()):
            self._row[k] = self._n + i
        self._n = need

    def remove(self, keys: Iterable[int]) -> int:
        removed = 0
        for k in keys:
            row = self._row.pop(int(k), None)
            if row is None:
                continue
            last = self._n - 1
            if row != last:
                self._vecs[row] = self._vecs[last]
                self._keys[row] = self._keys[last]
                self._row[int(self._keys[row])] = row
            self._vecs[last] = 0
            self._n = last
            removed += 1
        return removed

    def search(self, query: Matrix, k: int) -> tuple[Keys, NDArray[np.float32]]:
        return self.search_batch(query.reshape(1, -1), k)[0]

    def search_batch(self, queries: Matrix, k: int) -> list[tuple[Keys, NDArray[np.float32]]]:
        """The ``k`` best of each query row, from one matrix product over all of them."""
        if self._n == 0 or k <= 0:
            return [(np.empty(0, np.int64), np.empty(0, np.float32)) for _ in range(len(queries))]
        scores = queries @ self._vecs[: self._n].T  # (queries, faces)
        k = min(k, self._n)
        if k == self._n:
            top = np.broadcast_to(np.arange(self._n), scores.shape)
        elif k == 1:  # the common case (the best match of each face): no partition needed
            top = scores.argmax(axis=1)[:, None]
        else:
            top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        best = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-best, axis=1, kind="stable")
        top, best = np.take_along_axis(top, order, axis=1), np.take_along_axis(best, order, axis=1)
        return [(self._keys[row], values) for row, values in zip(top, best, strict=True)]


class HnswIndex:
    """A usearch HNSW graph over inner product whose saved files hold no removed vector's bytes.

    usearch only marks a removed vector's slot free; its bytes stay in memory and in every later save (and
    ``remove(compact=True)`` does not clear them either). So ``remove`` records the stored bytes of what it
    removes, and ``save`` zeroes those slots in the serialised graph (usearch format v2: a matrix of one row
    per slot after a ``<u32 rows><u32 row bytes>`` header), reloads memory from the scrubbed copy, then writes
    it. If the layout is not the expected one, it rebuilds a fresh graph from the live vectors instead.
    """

    def __init__(self, ndim: int, settings: IndexSettings, index: Index | None = None) -> None:
        self.ndim = ndim
        self.settings = settings
        self._index = index or Index(
            ndim=ndim,
            metric="ip",
            dtype=settings.dtype,
            connectivity=settings.connectivity,
            expansion_add=settings.expansion_add,
            expansion_search=settings.expansion_search,
        )
        self._tune()
        self._erased: list[bytes] = []  # stored bytes of vectors removed since the last save
        self._stored_dtype = np.dtype(np.float16 if settings.dtype == "f16" else np.float32)

    def _tune(self) -> None:
        self._index.expansion_add = self.settings.expansion_add
        self._index.expansion_search = self.settings.expansion_search

    @classmethod
    def load(cls, path: Path, ndim: int, settings: IndexSettings) -> HnswIndex | None:
        """The saved graph, or None when the file is missing, unreadable or built with other settings."""
        try:
            index = Index.restore(str(path))
        except Exception as exc:  # a corrupt file is repaired by a rebuild, never fatal
            log.warning("vector index %s unreadable (%s); rebuilding", path, exc)
            return None
        if index is None or index.ndim != ndim or _dtype_name(index) != settings.dtype:
            return None
        return cls(ndim, settings, index)

    def __len__(self) -> int:
        return len(self._index)

    def keys(self) -> Keys:
        return np.asarray(self._index.keys, dtype=np.int64)

    def stored(self, keys: Keys) -> NDArray[np.generic]:
        """The vectors as the graph stores them (its dtype), one row per key."""
        if len(keys) == 0:
            return np.empty((0, self.ndim), np.float32)
        return np.stack(self._index.get(keys.astype(np.uint64)))

    def add(self, keys: Keys, vecs: Matrix) -> None:
        # Concurrent inserts into a small graph leave it measurably worse connected (a 300-vector graph
        # missed true neighbours at ef 128 in 2-5 % of searches; none with one thread), so the first
        # SERIAL_SEED vectors go in one at a time; after them, batches of 1,000 or more use all cores. The
        # graph's insertion is nearly all of a bulk load's time (bench/results/postgres.md), and this covers
        # the graph built when a collection reaches ``hnsw_threshold`` (20k vectors in one call) too:
        # recall@10 of a 20k graph built so was 0.989 against 0.990 for one built with one thread.
        keys = keys.astype(np.uint64)
        seed = max(0, min(len(keys), SERIAL_SEED - len(self._index)))
        if seed:
            self._index.add(keys[:seed], vecs[:seed], threads=1)
        if len(keys) > seed:
            self._index.add(keys[seed:], vecs[seed:], threads=0 if len(keys) - seed >= 1000 else 1)

    def remove(self, keys: Iterable[int]) -> int:
        present = np.asarray([int(k) for k in keys if int(k) in self._index], np.int64)
        if len(present) == 0:
            return 0
        self._erased += [row.tobytes() for row in self.stored(present)]
        self._index.remove(present.astype(np.uint64))
        return len(present)

    def _held_live(self, pattern: bytes) -> bool:
        """Whether a live vector has exactly these bytes (an identical template indexed twice)."""
        vec = np.frombuffer(pattern, dtype=self._stored_dtype).astype(np.float32)
        keys, _ = self.search(vec, 16)
        return any(row.tobytes() == pattern for row in self.stored(keys))

    def _erased_counts(self, patterns: list[bytes]) -> dict[bytes, int]:
        return {p: self._erased.count(p) for p in patterns}

    def search(self, query: Matrix, k: int) -> tuple[Keys, NDArray[np.float32]]:
        return self.search_batch(query.reshape(1, -1), k)[0]

    def search_batch(self, queries: Matrix, k: int) -> list[tuple[Keys, NDArray[np.float32]]]:
        """The ``k`` best of each query row, in one usearch batch search."""
        n = len(self._index)
        if n == 0 or k <= 0:
            return [(np.empty(0, np.int64), np.empty(0, np.float32)) for _ in range(len(queries))]
        k = min(k, n)
        ef = self.settings.ef_for(n, k)
        if self._index.expansion_search != ef:
            self._index.expansion_search = ef
        matches = self._index.search(queries, k, threads=1)
        keys = np.asarray(matches.keys, dtype=np.int64).reshape(len(queries), -1)
        scores = (1.0 - np.asarray(matches.distances, dtype=np.float32)).reshape(len(queries), -1)
        counts = np.asarray(matches.counts).reshape(-1) if len(queries) > 1 else [len(matches)]
        return [(keys[i, : int(c)], scores[i, : int(c)].astype(np.float32)) for i, c in enumerate(counts)]

    def save(self, path: Path) -> None:
        """Scrub removed vectors, then atomically replace ``path`` (write, fsync, rename, fsync dir), 0600."""
        buf = bytearray(self._index.save())
        if self._erased:
            erased = [p for p in set(self._erased) if not self._held_live(p)]
            if erased and not _scrub(buf, erased, self._erased_counts(erased)):
                log.warning("unexpected usearch layout; rebuilding %s to drop removed vectors", path.name)
                keys = self.keys()
                fresh = HnswIndex(self.ndim, self.settings)
                fresh.add(keys, self.stored(keys).astype(np.float32))
                buf = bytearray(fresh._index.save())
            self._index = Index.restore(bytes(buf))  # memory now matches the scrubbed file
            self._tune()
            self._erased = []
        tmp = path.with_suffix(path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(buf)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError:
            tmp.unlink(missing_ok=True)  # a full disk: give the space back; the old file stays as it was
            raise
        finally:
            os.close(fd)
        os.replace(tmp, path)
        fsync_dir(path.parent)

    def memory_usage(self) -> int:
        return int(self._index.memory_usage)


def _add_fetched(index: FlatIndex | HnswIndex, keys: Keys, fetch: Fetch) -> None:
    """Add ``keys`` with their vectors read from the database, 50,000 at a time (bounded memory)."""
    for start in range(0, len(keys), 50_000):
        chunk = keys[start : start + 50_000]
        index.add(chunk, fetch(chunk))


def _dtype_name(index: Index) -> str:
    return str(index.dtype).lower().split(".")[-1]


def _scrub(buf: bytearray, erased: list[bytes], counts: dict[bytes, int]) -> bool:
    """Zero the slots of ``buf`` (a serialised usearch graph) that hold exactly an erased vector.

    ``erased`` holds no live vector's bytes (the caller checked), so every slot holding one of them is a
    freed slot. Returns False when the matrix header does not look as expected (nothing is changed then).
    """
    if len(buf) < 8:
        return False
    rows, cols = struct.unpack_from("<II", buf, 0)
    if cols != len(erased[0]) or cols < 8 or 8 + rows * cols > len(buf):
        return False
    matrix = np.frombuffer(buf, np.uint8, count=rows * cols, offset=8).reshape(rows, cols)
    heads = np.ndarray((rows,), dtype="<u8", buffer=buf, offset=8, strides=(cols,))
    wanted = set(erased)
    want_heads = np.frombuffer(b"".join(p[:8] for p in erased), dtype="<u8")
    hits = [
        row for row in np.flatnonzero(np.isin(heads, want_heads)).tolist() if matrix[row].tobytes() in wanted
    ]
    if any(sum(1 for r in hits if matrix[r].tobytes() == p) > counts[p] for p in erased):
        return False  # more copies than removals: the layout is not what we think
    matrix[hits] = 0
    return True


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _RWLock:
    """Many searches at once, or one change; Python has no such lock in the standard library."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._readers:
                self._cond.wait()
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class VectorIndex:
    """A collection's vectors behind one lock; exact below ``hnsw_threshold``, HNSW at or above it.

    ``path`` is where the HNSW graph is saved; nothing is saved while the index is flat, because the database
    rows are then a quick enough source to rebuild from. ``dirty`` means the file lags memory.
    """

    def __init__(self, ndim: int, path: Path, settings: IndexSettings | None = None) -> None:
        self.ndim = ndim
        self.path = path
        self.settings = settings or IndexSettings()
        self._flat: FlatIndex | None = FlatIndex(ndim)
        self._hnsw: HnswIndex | None = None
        self._lock = _RWLock()
        self.dirty = False
        self._builder: threading.Thread | None = None
        self._starting = threading.Lock()  # one builder at a time, whoever asks for it
        self._generation = 0  # bumped by ``clear``: a graph built for an older generation is thrown away
        self._closing = threading.Event()

    @property
    def approximate(self) -> bool:
        return self._hnsw is not None

    @property
    def building(self) -> bool:
        """Whether a background thread is building the graph (searches are exact meanwhile)."""
        builder = self._builder
        return builder is not None and builder.is_alive()

    def __len__(self) -> int:
        impl = self._hnsw or self._flat
        return len(impl) if impl is not None else 0

    # --- start-up -------------------------------------------------------------------------------
    def open(self, db_keys: Keys, fetch: Fetch) -> None:
        """Agree with the database: load the saved graph (if any), add missing keys, remove extra ones.

        ``fetch(keys)`` returns the float32 vectors of those keys from the database. A graph whose sampled
        vectors differ from the database's is rebuilt, so a stale or foreign file cannot survive start-up;
        a large one is rebuilt in the background while searches are exact.
        """
        with self._lock.write():
            hnsw = None
            if len(db_keys) >= self.settings.hnsw_threshold and self.path.exists():
                hnsw = HnswIndex.load(self.path, self.ndim, self.settings)
                if hnsw is not None and not self._agrees(hnsw, db_keys, fetch):
                    hnsw = None
            if hnsw is None:
                self._drop_file()
                self._flat = FlatIndex(self.ndim)
                _add_fetched(self._flat, db_keys, fetch)
                self._hnsw = None
                promote = len(db_keys) >= self.settings.hnsw_threshold
            else:
                have = hnsw.keys()
                missing = np.setdiff1d(db_keys, have, assume_unique=True)
                extra = np.setdiff1d(have, db_keys, assume_unique=True)
                if len(extra):
                    hnsw.remove(extra.tolist())
                    self._drop_file()
                _add_fetched(hnsw, missing, fetch)
                self.dirty = bool(len(missing) or len(extra))
                log.info(
                    "vector index %s: %d added, %d removed at start-up",
                    self.path.name,
                    len(missing),
                    len(extra),
                )
                self._hnsw, self._flat = hnsw, None
                promote = False
        if promote:
            self._start_build()

    def _agrees(self, hnsw: HnswIndex, db_keys: Keys, fetch: Fetch) -> bool:
        have = hnsw.keys()
        sample = np.intersect1d(have, db_keys, assume_unique=True)
        if len(sample) == 0:
            return len(have) == 0
        rng = np.random.default_rng()
        sample = rng.choice(sample, size=min(64, len(sample)), replace=False)
        return bool(np.allclose(hnsw.stored(sample).astype(np.float32), fetch(sample), atol=2e-3))

    # --- changes --------------------------------------------------------------------------------
    def add(self, keys: Keys, vecs: Matrix) -> None:
        with self._lock.write():
            if self._hnsw is not None:
                self._hnsw.add(keys, vecs)
                self.dirty = True
                return
            assert self._flat is not None
            self._flat.add(keys, vecs)
            if len(self._flat) < self.settings.hnsw_threshold:
                return
        self._start_build()  # unless one is running

    def _start_build(self) -> None:
        """Build the graph now when it is small, else in a background thread (``wait_built`` joins it)."""
        with self._starting:
            with self._lock.read():
                if self._hnsw is not None or self.building or self._closing.is_set():
                    return
                generation, size = self._generation, len(self._flat or ())
            if size < self.settings.background_build:
                self._promote(generation)
                return
            self._builder = threading.Thread(
                target=self._promote, args=(generation,), name=f"regard-graph-{self.path.stem}", daemon=True
            )
            self._builder.start()

    def wait_built(self, timeout: float | None = None) -> bool:
        """Wait for a background graph build; returns whether none is running any more."""
        builder = self._builder
        if builder is not None:
            builder.join(timeout)
        return not self.building

    def _promote(self, generation: int) -> None:
        """Build the graph outside the lock (searches use the exact matrix meanwhile), catching up with
        vectors added meanwhile until few are left, then swap it in under the lock with the last of them.
        """
        hnsw = HnswIndex(self.ndim, self.settings)
        built = np.empty(0, np.int64)
        chunk = self.settings.build_chunk
        while True:
            with self._lock.read():
                if self._abandoned(generation):
                    return
                now_keys = self._flat.keys()
            fresh = now_keys[np.isin(now_keys, built, invert=True)]
            if len(fresh) <= chunk // 10:
                break
            for start in range(0, len(fresh), chunk):
                with self._lock.read():
                    if self._abandoned(generation):
                        return
                    part, vecs = self._flat.rows(fresh[start : start + chunk])
                hnsw.add(part, vecs)
                vecs.fill(0)
                built = np.concatenate([built, part])
        with self._lock.write():
            if self._abandoned(generation):
                return
            now_keys, now_vecs = self._flat.vectors()
            fresh = np.isin(now_keys, built, invert=True)
            hnsw.add(now_keys[fresh], now_vecs[fresh])  # the last changes made while the graph was built
            hnsw.remove(built[np.isin(built, now_keys, invert=True)].tolist())
            now_vecs.fill(0)
            self._flat.remove(now_keys.tolist())  # zero the exact copy before letting it go
            self._hnsw, self._flat, self.dirty = hnsw, None, True
        log.info("vector index %s: graph of %d vectors built", self.path.name, len(hnsw))

    def _abandoned(self, generation: int) -> bool:
        """Whether a build begun at ``generation`` is moot (a graph is in, the collection was cleared, or
        the store is closing); call under the lock."""
        return self._flat is None or self._generation != generation or self._closing.is_set()

    def close(self) -> None:
        """Stop a background build (within one ``build_chunk``); the next start builds again."""
        self._closing.set()
        self.wait_built()

    def remove(self, keys: Iterable[int]) -> int:
        with self._lock.write():
            if self._hnsw is not None:
                removed = self._hnsw.remove(keys)
                if removed:
                    self._drop_file()  # the saved graph still holds the removed bytes
                    self.dirty = True
                return removed
            assert self._flat is not None
            return self._flat.remove(keys)

    def clear(self) -> None:
        """Forget every vector and delete the saved graph (DeleteCollection)."""
        with self._lock.write():
            self._generation += 1
            if self._flat is not None:
                self._flat.remove(self._flat.keys().tolist())
            self._hnsw = None
            self._flat = FlatIndex(self.ndim)
            self._drop_file()
            self.dirty = False

    # --- reads ----------------------------------------------------------------------------------
    def search(self, query: Matrix, k: int) -> tuple[Keys, NDArray[np.float32]]:
        with self._lock.read():
            impl = self._hnsw or self._flat
            assert impl is not None
            return impl.search(np.ascontiguousarray(query, dtype=np.float32), k)

    def search_batch(self, queries: Matrix, k: int) -> list[tuple[Keys, NDArray[np.float32]]]:
        """``search`` for each row of ``queries`` (n, ndim), as one batch: one list entry per row."""
        with self._lock.read():
            impl = self._hnsw or self._flat
            assert impl is not None
            return impl.search_batch(np.ascontiguousarray(queries, dtype=np.float32), k)

    def keys(self) -> Keys:
        with self._lock.read():
            impl = self._hnsw or self._flat
            assert impl is not None
            return impl.keys()

    def save(self) -> bool:
        """Write the graph if it lags memory; returns whether a file was written."""
        with self._lock.read():
            if self._hnsw is None or not self.dirty:
                return False
            self._hnsw.save(self.path)
            self.dirty = False
            return True

    def _drop_file(self) -> None:
        for p in (self.path, self.path.with_suffix(self.path.suffix + ".tmp")):
            try:
                p.unlink()
            except FileNotFoundError:
                continue
            fsync_dir(p.parent)
