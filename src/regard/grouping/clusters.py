"""From a kNN graph to people: keep edges at or above a threshold, group with Chinese Whispers, then eject
members that do not resemble their cluster on average.

Why this shape (measured in ``bench/bench_cluster.py``, results in ``bench/results/cluster.md``):

* Connected components of the thresholded graph chain: one impostor edge joins two people whole. Chinese
  Whispers (Biemann 2006; dlib's ``chinese_whispers_clustering``) lets each face take the label with the most
  edge weight among its neighbours, so a single bridge between two dense groups does not merge them.
* Only the k nearest neighbours are scored (k = 20 by default), so the work is n k, not n^2.
* The cohesion check ejects any member whose mean cosine to the rest of its cluster is below the edge
  threshold: a face that got in through one strong edge but resembles the cluster poorly (the chaining case)
  is left unclustered rather than naming the wrong person. Mean similarity to a cluster costs O(d) per face
  through the cluster's vector sum.

A cluster's representative is its medoid (highest mean cosine to the others); its cohesion is the mean
pairwise cosine within it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from regard.grouping.knn import knn_graph

DEFAULT_K = 20
EJECT_MARGIN = 0.1  # a member is ejected when its mean cosine to the rest is below threshold - margin
_ITERATIONS = 20


@dataclass(frozen=True, slots=True)
class Cluster:
    members: tuple[int, ...]  # row indices into the clustered vectors, ascending
    representative: int  # the medoid's row index
    cohesion: float  # mean pairwise cosine within the cluster


def cluster_vectors(
    vectors: NDArray[np.float32],
    *,
    threshold: float,
    min_size: int = 2,
    k: int = DEFAULT_K,
    method: str = "whispers",
    eject: bool = True,
    eject_margin: float = EJECT_MARGIN,
    seed: int = 0,
) -> tuple[list[Cluster], list[int]]:
    """Clusters of at least ``min_size`` rows of ``vectors`` (L2-normalised), and the rows left unclustered.

    ``threshold`` is the cosine an edge needs; ``method`` is ``whispers`` or ``components`` (for comparison).
    Clusters come largest first, then by first member.
    """
    n = len(vectors)
    if n == 0:
        return [], []
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    idx, sim = knn_graph(vectors, k)
    src, dst, weight = _edges(idx, sim, threshold)
    if method == "whispers":
        labels = _chinese_whispers(n, src, dst, weight, seed)
    elif method == "components":
        labels = _components(n, src, dst)
    else:
        raise ValueError(f"unknown method {method!r}")
    groups = _groups(labels)
    if eject:
        bar = threshold - eject_margin
        groups = [kept for group in groups for kept in [_eject(vectors, group, bar)] if kept.size]
    clusters = [_describe(vectors, g) for g in groups if len(g) >= max(min_size, 2)]
    clusters.sort(key=lambda c: (-len(c.members), c.members[0]))
    clustered = np.zeros(n, bool)
    for c in clusters:
        clustered[list(c.members)] = True
    return clusters, np.flatnonzero(~clustered).tolist()


def _edges(
    idx: NDArray[np.int64], sim: NDArray[np.float32], threshold: float
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32]]:
    """Undirected edges (each once, src < dst) between k-neighbours at or above ``threshold``."""
    rows = np.repeat(np.arange(len(idx), dtype=np.int64), idx.shape[1])
    cols, w = idx.ravel(), sim.ravel()
    keep = (cols >= 0) & (w >= threshold)
    a, b, w = rows[keep], cols[keep], w[keep]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pairs = lo * len(idx) + hi
    _, first = np.unique(pairs, return_index=True)
    return lo[first], hi[first], w[first]


def _chinese_whispers(
    n: int, src: NDArray[np.int64], dst: NDArray[np.int64], weight: NDArray[np.float32], seed: int
) -> NDArray[np.int64]:
    labels = np.arange(n, dtype=np.int64)
    if len(src) == 0:
        return labels
    a = np.concatenate([src, dst])
    b = np.concatenate([dst, src])
    w = np.concatenate([weight, weight]).astype(np.float64)
    order = np.argsort(a, kind="stable")
    a, b, w = a[order], b[order], w[order]
    starts = np.searchsorted(a, np.arange(n + 1))
    linked = np.flatnonzero(np.diff(starts) > 0)
    neighbours = [b[starts[i] : starts[i + 1]] for i in range(n)]
    weights = [w[starts[i] : starts[i + 1]] for i in range(n)]
    rng = np.random.default_rng(seed)
    for _ in range(_ITERATIONS):
        changed = 0
        for node in rng.permutation(linked).tolist():
            near = labels[neighbours[node]]
            if len(near) == 1:
                best = near[0]
            else:
                values, inverse = np.unique(near, return_inverse=True)
                votes = np.bincount(inverse, weights=weights[node])
                best = values[int(np.argmax(votes))]  # ties: the smallest label, deterministic
            if best != labels[node]:
                labels[node] = best
                changed += 1
        if changed == 0:
            break
    return labels


def _components(n: int, src: NDArray[np.int64], dst: NDArray[np.int64]) -> NDArray[np.int64]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(src.tolist(), dst.tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.asarray([find(i) for i in range(n)], np.int64)


def _groups(labels: NDArray[np.int64]) -> list[NDArray[np.int64]]:
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    return [g for g in np.split(order, bounds) if len(g) > 1]


def _eject(vectors: NDArray[np.float32], group: NDArray[np.int64], threshold: float) -> NDArray[np.int64]:
    """Drop, worst first, members whose mean cosine to the rest is below ``threshold``."""
    group = np.sort(group)
    while len(group) > 1:
        mean = _mean_to_rest(vectors[group])
        worst = int(np.argmin(mean))
        if mean[worst] >= threshold:
            break
        group = np.delete(group, worst)
    return group if len(group) > 1 else group[:0]


def _mean_to_rest(block: NDArray[np.float32]) -> NDArray[np.float64]:
    total = block.astype(np.float64).sum(axis=0)
    n = len(block)
    return (block.astype(np.float64) @ total - np.einsum("ij,ij->i", block, block)) / (n - 1)


def _describe(vectors: NDArray[np.float32], group: NDArray[np.int64]) -> Cluster:
    summary = describe(vectors[group])
    return Cluster(tuple(int(i) for i in group), int(group[summary.representative]), summary.cohesion)


def describe(block: NDArray[np.float32]) -> Cluster:
    """Medoid and mean pairwise cosine of one cluster's vectors (rows); members are the row numbers."""
    n = len(block)
    if n < 2:
        return Cluster(tuple(range(n)), 0, 1.0)
    wide = block.astype(np.float64)
    total = wide.sum(axis=0)
    cohesion = float((total @ total - np.einsum("ij,ij->", wide, wide)) / (n * (n - 1)))
    return Cluster(tuple(range(n)), int(np.argmax(_mean_to_rest(block))), cohesion)


def keep_cluster_ids(
    clusters: Sequence[Sequence[str]],
    previous: Mapping[str, str],
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> list[str]:
    """An ID for each cluster (lists of face IDs): the previous ID it shares most faces with, else a new one.

    Pairs are taken by largest overlap first, so each previous ID goes to at most one cluster (when a person
    splits, the larger part keeps the name; when two merge, the one with more faces there gives it).
    """
    candidates: list[tuple[int, int, str]] = []
    for i, faces in enumerate(clusters):
        counts: dict[str, int] = {}
        for face in faces:
            old = previous.get(face)
            if old is not None:
                counts[old] = counts.get(old, 0) + 1
        candidates += [(-count, i, old) for old, count in counts.items()]
    ids: list[str | None] = [None] * len(clusters)
    taken: set[str] = set()
    for _, i, old in sorted(candidates):
        if ids[i] is None and old not in taken:
            ids[i] = old
            taken.add(old)
    return [given if given is not None else new_id() for given in ids]
