"""Clustering quality against known identities: pairwise and BCubed precision/recall/F, in plain numpy.

Every item carries a predicted cluster label and a true identity label; an unclustered face is its own
singleton cluster (it names nobody, so it costs recall, never precision).

* Pairwise: precision = pairs put together that are the same person / pairs put together; recall = pairs put
  together that are the same person / same-person pairs. Large clusters weigh quadratically.
* BCubed (Bagga and Baldwin 1998; Amigo et al. 2009): per item, precision = share of its cluster that is its
  person, recall = share of its person that is in its cluster; averaged over items. F = harmonic mean.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class ClusteringScores:
    pairwise_precision: float
    pairwise_recall: float
    bcubed_precision: float
    bcubed_recall: float
    clusters: int  # of two faces or more
    unclustered: int

    @property
    def bcubed_f(self) -> float:
        return _f(self.bcubed_precision, self.bcubed_recall)

    @property
    def pairwise_f(self) -> float:
        return _f(self.pairwise_precision, self.pairwise_recall)


def _f(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def singletons_for(predicted: Sequence[Hashable | None]) -> list[Hashable]:
    """``None`` (unclustered) becomes a label of its own per item."""
    return [("__single__", i) if label is None else label for i, label in enumerate(predicted)]


def score_clustering(predicted: Sequence[Hashable | None], truth: Sequence[Hashable]) -> ClusteringScores:
    if len(predicted) != len(truth):
        raise ValueError("predicted and truth differ in length")
    pred = _codes(singletons_for(predicted))
    true = _codes(list(truth))
    n = len(pred)
    if n == 0:
        return ClusteringScores(1.0, 1.0, 1.0, 1.0, 0, 0)
    joint = pred.astype(np.int64) * (int(true.max()) + 1) + true
    _, joint_inv, joint_counts = np.unique(joint, return_inverse=True, return_counts=True)
    pred_counts = np.bincount(pred)
    true_counts = np.bincount(true)
    both = joint_counts[joint_inv].astype(np.float64)  # |C(i) ∩ L(i)| per item
    bp = float(np.mean(both / pred_counts[pred]))
    br = float(np.mean(both / true_counts[true]))
    together = float(np.sum(pred_counts * (pred_counts - 1)) / 2)
    same = float(np.sum(true_counts * (true_counts - 1)) / 2)
    correct = float(np.sum(joint_counts * (joint_counts - 1)) / 2)
    pp = 1.0 if together == 0 else correct / together
    pr = 1.0 if same == 0 else correct / same
    clusters = int(np.sum(pred_counts >= 2))
    unclustered = int(sum(label is None for label in predicted))
    return ClusteringScores(pp, pr, bp, br, clusters, unclustered)


def _codes(labels: list[Hashable]) -> np.ndarray:
    index: dict[Hashable, int] = {}
    return np.asarray([index.setdefault(label, len(index)) for label in labels], np.int64)
