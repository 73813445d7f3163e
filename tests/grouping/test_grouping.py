"""The clustering algorithm alone: kNN graph, no chaining, medoid and cohesion, stable IDs, scores."""

from __future__ import annotations

import numpy as np

from regard.evaluation.clustering import score_clustering
from regard.grouping import cluster_vectors, describe, keep_cluster_ids, knn_graph
from regard.grouping import knn as knn_module


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def people(n_people: int, per_person: int, noise: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = unit(rng.standard_normal((n_people, 128)))
    labels = np.repeat(np.arange(n_people), per_person)
    return unit(centres[labels] + noise * unit(rng.standard_normal((len(labels), 128)))), labels


def test_exact_and_hnsw_neighbours_agree(monkeypatch) -> None:
    x, _ = people(300, 4, 0.8)
    exact_idx, exact_sim = knn_graph(x, 5)
    assert exact_idx.shape == (1200, 5)
    assert not (exact_idx == np.arange(1200)[:, None]).any()  # nobody is their own neighbour
    assert np.all(np.diff(exact_sim, axis=1) <= 1e-6)  # best first
    np.testing.assert_allclose(exact_sim[:, 0], np.sort(x @ x.T - 2 * np.eye(1200), axis=1)[:, -1], atol=1e-5)
    monkeypatch.setattr(knn_module, "EXACT_LIMIT", 10)
    approx_idx, approx_sim = knn_graph(x, 5)
    recall = np.mean([len(set(a) & set(e)) / 5 for a, e in zip(approx_idx, exact_idx, strict=True)])
    assert recall > 0.95
    ok = approx_idx >= 0
    np.testing.assert_allclose(
        approx_sim[ok], np.einsum("ij,ij->i", x[np.nonzero(ok)[0]], x[approx_idx[ok]]), atol=1e-5
    )


def test_a_single_bridge_does_not_merge_two_people() -> None:
    x, labels = people(2, 12, 0.6, seed=3)
    bridge = unit(x[0:1] + x[12:13])  # a face halfway between the two: strong edges to both
    x = np.vstack([x, bridge])
    labels = np.append(labels, -1)
    cosine = float(np.min(x[24] @ x[[0, 12]].T)) - 0.01
    merged, _ = cluster_vectors(x, threshold=cosine, method="components", eject=False)
    assert len(merged) == 1  # connected components chain through the bridge
    clusters, loose = cluster_vectors(x, threshold=cosine)
    assert len(clusters) == 2
    for c in clusters:
        assert len(set(labels[list(c.members)]) - {-1}) == 1
    assert 24 in loose or all(24 not in c.members for c in clusters if len(c.members) == 12)


def test_min_size_unclustered_medoid_and_cohesion() -> None:
    x, labels = people(5, 6, 0.7)
    lonely = unit(np.random.default_rng(9).standard_normal((3, 128)))
    x = np.vstack([x, lonely])
    clusters, loose = cluster_vectors(x, threshold=0.3)
    assert sorted(loose) == [30, 31, 32]
    assert score_clustering(_labels(clusters, len(x)), [*labels.tolist(), 97, 98, 99]).bcubed_f == 1.0
    for c in clusters:
        block = x[list(c.members)]
        sims = block @ block.T
        mean_to_rest = (sims.sum(axis=1) - 1) / (len(block) - 1)
        assert c.members[int(np.argmax(mean_to_rest))] == c.representative
        assert abs(c.cohesion - sims[np.triu_indices(len(block), 1)].mean()) < 1e-5
    assert cluster_vectors(x, threshold=0.3, min_size=7)[0] == []
    assert describe(x[:1]).cohesion == 1.0


def test_cluster_ids_follow_the_most_shared_faces() -> None:
    fresh = iter(["new1", "new2"])
    previous = {"a": "K1", "b": "K1", "c": "K1", "d": "K2", "e": "K2"}
    # K1 split (the larger part keeps it); K2 grew; one new group
    ids = keep_cluster_ids(
        [["a", "b", "x"], ["c"], ["d", "e", "f"], ["y", "z"]], previous, lambda: next(fresh)
    )
    assert ids == ["K1", "new1", "K2", "new2"]
    # two merge: the one with more faces there gives the ID, the other is retired
    assert keep_cluster_ids([["a", "b", "c", "d"]], previous, lambda: "n") == ["K1"]


def test_scores_count_singletons_and_false_merges() -> None:
    perfect = score_clustering([1, 1, 2, 2, None], ["a", "a", "b", "b", "c"])
    assert (perfect.pairwise_precision, perfect.pairwise_recall, perfect.bcubed_f) == (1.0, 1.0, 1.0)
    merged = score_clustering([1, 1, 1, 1], ["a", "a", "b", "b"])
    assert (
        merged.pairwise_precision == 1 / 3 and merged.bcubed_precision == 0.5 and merged.bcubed_recall == 1.0
    )
    split = score_clustering([None, None, 1, 1], ["a", "a", "a", "a"])
    assert split.pairwise_precision == 1.0 and split.pairwise_recall == 1 / 6 and split.unclustered == 2


def _labels(clusters, n: int) -> list:
    out: list = [None] * n
    for number, c in enumerate(clusters):
        for i in c.members:
            out[i] = number
    return out
