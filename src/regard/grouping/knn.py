"""The k nearest neighbours of every face: exact blocked matrix products when small, usearch HNSW when large.

All pairs cost n^2 d (100k faces: 5e12 multiply-adds, minutes on 2 cores); an HNSW graph built once and
searched in batch costs about n log n. Below ``EXACT_LIMIT`` the exact product is quicker than building a
graph and has no recall loss, as in the store's vector index (``store/vector_index.py``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

EXACT_LIMIT = 20_000  # the store's hnsw_threshold: below it exact search is the faster one
_BLOCK = 2048


def knn_graph(vectors: NDArray[np.float32], k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """(neighbours, cosines), each (n, k'), k' = min(k, n - 1), best first, the face itself left out.

    ``vectors`` are L2-normalised rows. Where the approximate search finds fewer than k' others, the
    missing slots hold index -1 and cosine -1.
    """
    n = len(vectors)
    k = min(k, n - 1)
    if k <= 0:
        return np.empty((n, 0), np.int64), np.empty((n, 0), np.float32)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if n < EXACT_LIMIT:
        return _exact(vectors, k)
    return _hnsw(vectors, k)


def _exact(x: NDArray[np.float32], k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    n = len(x)
    idx = np.empty((n, k), np.int64)
    sim = np.empty((n, k), np.float32)
    for s in range(0, n, _BLOCK):
        e = min(n, s + _BLOCK)
        scores = x[s:e] @ x.T
        scores[np.arange(e - s), np.arange(s, e)] = -np.inf  # not one's own neighbour
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        idx[s:e] = np.take_along_axis(top, order, axis=1)
        sim[s:e] = np.take_along_axis(top_scores, order, axis=1)
    return idx, sim


def _hnsw(x: NDArray[np.float32], k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    from regard.store.usearch_loader import Index

    index = Index(ndim=x.shape[1], metric="ip", dtype="f16", connectivity=16, expansion_add=64)
    index.expansion_search = max(64, 2 * k)
    keys = np.arange(len(x), dtype=np.uint64)
    index.add(keys, x, threads=0)
    found = index.search(x, k + 1, threads=0)
    got = np.asarray(found.keys, dtype=np.int64).reshape(len(x), k + 1)
    dist = np.asarray(found.distances, dtype=np.float32).reshape(len(x), k + 1)
    counts = np.asarray(found.counts).reshape(len(x))
    valid = np.arange(k + 1)[None, :] < counts[:, None]
    got = np.where(valid, got, -1)
    # drop the face itself (normally first) and keep k; re-score exactly from the float32 source
    mine = got == np.arange(len(x))[:, None]
    order = np.argsort(mine | ~valid, axis=1, kind="stable")[:, :k]
    idx = np.take_along_axis(got, order, axis=1)
    del dist
    sim = np.full(idx.shape, -1.0, np.float32)
    for s in range(0, len(x), _BLOCK):  # exact cosines from float32, a block at a time (memory)
        block = idx[s : s + _BLOCK]
        sim[s : s + _BLOCK] = np.einsum("id,ijd->ij", x[s : s + _BLOCK], x[np.maximum(block, 0)])
    sim[idx < 0] = -1.0
    order = np.argsort(-sim, axis=1, kind="stable")
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(sim, order, axis=1)
