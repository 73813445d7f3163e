"""Verification and detection error metrics, in plain numpy: no model, no files, no plotting.

Conventions used throughout:

- A pair *matches* when ``score >= threshold`` (the way Regard applies ``FaceMatchThreshold``).
- ``genuine`` scores come from pairs of the same person, ``impostor`` scores from different people.
- FMR (false-match rate, also called FAR) = impostor pairs at or above the threshold / impostor pairs; FNMR
  (false non-match rate) = genuine pairs below the threshold / genuine pairs; TAR = 1 - FNMR.
- A rate is always reported with the counts behind it and a two-sided Clopper-Pearson interval: a false-match
  rate of 0 measured on 500 impostor pairs only says the true rate is probably below about 0.7%.
- A FAR target below ``1 / impostor pairs`` cannot be measured on that data; it is reported as not supported
  rather than as a number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

DEFAULT_FAR_TARGETS: tuple[float, ...] = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
"""The FAR targets reported by default; those the data cannot support are marked so."""

CONFIDENCE = 0.95


# ----------------------------------------------------------------------------------------------------
# Binomial confidence intervals


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for the regularised incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the CDF of a Beta(a, b) distribution at ``x``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def beta_ppf(q: float, a: float, b: float) -> float:
    """Inverse of :func:`regularized_beta` in ``x`` (bisection; monotone, so always converges)."""
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if regularized_beta(a, b, mid) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-15:
            break
    return 0.5 * (lo + hi)


def clopper_pearson(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Exact two-sided binomial interval for ``k`` events in ``n`` trials; ``(nan, nan)`` when ``n == 0``."""
    if n <= 0:
        return (math.nan, math.nan)
    if not 0 <= k <= n:
        raise ValueError(f"k={k} must lie in [0, n={n}]")
    alpha = 1.0 - confidence
    lower = 0.0 if k == 0 else beta_ppf(alpha / 2, k, n - k + 1)
    upper = 1.0 if k == n else beta_ppf(1 - alpha / 2, k + 1, n - k)
    return (lower, upper)


def wilson(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval (less conservative than Clopper-Pearson, closed form)."""
    if n <= 0:
        return (math.nan, math.nan)
    z = _normal_ppf(1 - (1 - confidence) / 2)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _normal_ppf(q: float) -> float:
    lo, hi = -40.0, 40.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if 0.5 * math.erfc(-mid / math.sqrt(2)) < q:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` events out of ``total`` trials, with a two-sided confidence interval."""

    count: int
    total: int
    lower: float
    upper: float

    @property
    def value(self) -> float:
        return self.count / self.total if self.total else math.nan

    @classmethod
    def of(cls, count: int, total: int, confidence: float = CONFIDENCE) -> Rate:
        lower, upper = clopper_pearson(int(count), int(total), confidence)
        return cls(int(count), int(total), lower, upper)

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": _num(self.value),
            "count": self.count,
            "total": self.total,
            "ci_lower": _num(self.lower),
            "ci_upper": _num(self.upper),
        }


# ----------------------------------------------------------------------------------------------------
# ROC / DET


def _as_scores(values: ArrayLike, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} scores must be finite")
    return array


@dataclass(frozen=True)
class Roc:
    """Operating points for every distinct threshold, from strictest to most lenient.

    ``thresholds[0]`` is ``+inf`` (nothing matches); each following threshold is a distinct score, and the
    point holds the rates for ``score >= threshold``. ``fmr`` and ``tar`` rise along the arrays; ``fnmr = 1 -
    tar``.
    """

    thresholds: FloatArray
    fmr: FloatArray
    tar: FloatArray
    false_matches: NDArray[np.int64]
    true_matches: NDArray[np.int64]
    n_genuine: int
    n_impostor: int

    @property
    def fnmr(self) -> FloatArray:
        return 1.0 - self.tar


def roc_curve(genuine: ArrayLike, impostor: ArrayLike) -> Roc:
    gen = _as_scores(genuine, "genuine")
    imp = _as_scores(impostor, "impostor")
    if gen.size == 0 or imp.size == 0:
        raise ValueError("a ROC needs at least one genuine and one impostor score")
    thresholds = np.unique(np.concatenate([gen, imp]))[::-1]
    gen_sorted = np.sort(gen)
    imp_sorted = np.sort(imp)
    # number of scores >= t  = n - (number of scores < t)
    true_matches = gen.size - np.searchsorted(gen_sorted, thresholds, side="left")
    false_matches = imp.size - np.searchsorted(imp_sorted, thresholds, side="left")
    thresholds = np.concatenate([[np.inf], thresholds])
    true_matches = np.concatenate([[0], true_matches]).astype(np.int64)
    false_matches = np.concatenate([[0], false_matches]).astype(np.int64)
    return Roc(
        thresholds=thresholds,
        fmr=false_matches / imp.size,
        tar=true_matches / gen.size,
        false_matches=false_matches,
        true_matches=true_matches,
        n_genuine=int(gen.size),
        n_impostor=int(imp.size),
    )


def auc(genuine: ArrayLike, impostor: ArrayLike) -> float:
    """Area under the ROC: the probability that a random genuine pair outscores a random impostor pair (ties
    count one half). Equal to the trapezoidal area under :func:`roc_curve`."""
    gen = _as_scores(genuine, "genuine")
    imp = _as_scores(impostor, "impostor")
    imp_sorted = np.sort(imp)
    below = np.searchsorted(imp_sorted, gen, side="left")
    at_or_below = np.searchsorted(imp_sorted, gen, side="right")
    wins = below.sum() + 0.5 * (at_or_below - below).sum()
    return float(wins / (gen.size * imp.size))


@dataclass(frozen=True, slots=True)
class Eer:
    rate: float
    threshold: float


def eer(roc: Roc) -> Eer:
    """Equal error rate, linearly interpolated between the two operating points where FMR - FNMR changes sign.

    The threshold is interpolated the same way (between the two thresholds; the first point's ``+inf`` is
    replaced by the highest score)."""
    fmr, fnmr = roc.fmr, roc.fnmr
    diff = fmr - fnmr  # rises from -1 (or less) to >= 0
    idx = int(np.argmax(diff >= 0))
    thresholds = roc.thresholds.copy()
    if not np.isfinite(thresholds[0]):
        thresholds[0] = thresholds[1] if thresholds.size > 1 else 0.0
    if idx == 0 or diff[idx] == 0:
        return Eer(float(fmr[idx]), float(thresholds[idx]))
    d0, d1 = diff[idx - 1], diff[idx]
    alpha = -d0 / (d1 - d0)
    rate = fmr[idx - 1] + alpha * (fmr[idx] - fmr[idx - 1])
    threshold = thresholds[idx - 1] + alpha * (thresholds[idx] - thresholds[idx - 1])
    return Eer(float(rate), float(threshold))


@dataclass(frozen=True, slots=True)
class TarAtFar:
    """The best true-accept rate whose measured false-match rate does not exceed ``target``."""

    target: float
    supported: bool
    n_impostor: int
    n_genuine: int
    threshold: float | None = None
    tar: Rate | None = None
    fmr: Rate | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "far_target": self.target,
            "supported": self.supported,
            "negatives": self.n_impostor,
            "positives": self.n_genuine,
        }
        if not self.supported:
            out["note"] = (
                f"not supported: {self.n_impostor} impostor pairs measure a FAR down to "
                f"{1 / self.n_impostor if self.n_impostor else math.inf:.2g} at best"
            )
            return out
        assert self.tar is not None and self.fmr is not None
        out["threshold"] = _num(self.threshold)
        out["tar"] = self.tar.to_dict()
        out["fmr"] = self.fmr.to_dict()
        return out


def far_supported(target: float, n_impostor: int) -> bool:
    """A FAR target is measurable when at least one false match among the negatives would reach it."""
    return n_impostor > 0 and target * n_impostor >= 1.0 - 1e-9


def tar_at_far(roc: Roc, target: float, confidence: float = CONFIDENCE) -> TarAtFar:
    if not far_supported(target, roc.n_impostor):
        return TarAtFar(target, False, roc.n_impostor, roc.n_genuine)
    ok = np.flatnonzero(roc.fmr <= target + 1e-12)
    idx = int(ok[np.argmax(roc.tar[ok])]) if ok.size else 0
    # several points may share the best TAR: take the strictest (highest threshold, lowest FMR)
    best = roc.tar[idx]
    idx = int(ok[np.flatnonzero(roc.tar[ok] == best)[0]])
    threshold = float(roc.thresholds[idx])
    return TarAtFar(
        target=target,
        supported=True,
        n_impostor=roc.n_impostor,
        n_genuine=roc.n_genuine,
        threshold=threshold if np.isfinite(threshold) else None,
        tar=Rate.of(int(roc.true_matches[idx]), roc.n_genuine, confidence),
        fmr=Rate.of(int(roc.false_matches[idx]), roc.n_impostor, confidence),
    )


@dataclass(frozen=True, slots=True)
class ErrorsAt:
    threshold: float
    fmr: Rate
    fnmr: Rate

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "fmr": self.fmr.to_dict(), "fnmr": self.fnmr.to_dict()}


def errors_at(
    genuine: ArrayLike, impostor: ArrayLike, threshold: float, confidence: float = CONFIDENCE
) -> ErrorsAt:
    """FMR and FNMR when pairs with ``score >= threshold`` are declared matches."""
    gen = _as_scores(genuine, "genuine")
    imp = _as_scores(impostor, "impostor")
    false_matches = int(np.count_nonzero(imp >= threshold))
    false_non_matches = int(np.count_nonzero(gen < threshold))
    return ErrorsAt(
        float(threshold),
        Rate.of(false_matches, imp.size, confidence),
        Rate.of(false_non_matches, gen.size, confidence),
    )


def det_points(roc: Roc) -> tuple[FloatArray, FloatArray]:
    """(FMR, FNMR) pairs for a DET plot, without the ends where either is 0 (not on a log axis)."""
    keep = (roc.fmr > 0) & (roc.fnmr > 0)
    return roc.fmr[keep], roc.fnmr[keep]


# ----------------------------------------------------------------------------------------------------
# Accuracy at a cross-validated threshold


def best_threshold(scores: FloatArray, labels: NDArray[np.bool_]) -> tuple[float, float]:
    """The threshold with the highest accuracy on (scores, labels), and that accuracy.

    Candidates are the midpoints between consecutive distinct scores plus one below the lowest and one above
    the highest; the lowest threshold among equally accurate candidates wins."""
    unique = np.unique(scores)
    if unique.size == 1:
        candidates = np.array([unique[0] - 1.0, unique[0] + 1.0])
    else:
        mids = (unique[:-1] + unique[1:]) / 2
        candidates = np.concatenate([[unique[0] - 1.0], mids, [unique[-1] + 1.0]])
    pos = np.sort(scores[labels])
    neg = np.sort(scores[~labels])
    tp = pos.size - np.searchsorted(pos, candidates, side="left")
    tn = np.searchsorted(neg, candidates, side="left")
    acc = (tp + tn) / scores.size
    i = int(np.argmax(acc))
    return float(candidates[i]), float(acc[i])


@dataclass(frozen=True)
class KFoldAccuracy:
    folds: int
    accuracies: list[float]
    thresholds: list[float]

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def std(self) -> float:
        return float(np.std(self.accuracies))

    @property
    def threshold(self) -> float:
        return float(np.mean(self.thresholds))

    def to_dict(self) -> dict[str, Any]:
        return {
            "folds": self.folds,
            "accuracy_mean": self.mean,
            "accuracy_std": self.std,
            "threshold_mean": self.threshold,
            "fold_accuracies": self.accuracies,
            "fold_thresholds": self.thresholds,
        }


def kfold_accuracy(
    scores: ArrayLike, labels: ArrayLike, folds: int = 10, seed: int | None = 0
) -> KFoldAccuracy:
    """Accuracy at a threshold chosen on the other folds, as in the LFW protocol.

    Pairs are assigned to folds round-robin (``i % folds``) after a shuffle with ``seed`` (no shuffle when
    ``seed`` is None); genuine and impostor pairs are dealt separately so each fold holds both kinds when it
    can. With fewer pairs than folds, the number of folds drops to the number of pairs."""
    s = _as_scores(scores, "pair")
    y = np.asarray(labels, dtype=bool).reshape(-1)
    if s.size != y.size:
        raise ValueError("scores and labels differ in length")
    if s.size < 2:
        raise ValueError("k-fold accuracy needs at least two pairs")
    k = max(2, min(folds, s.size))
    fold_of = np.empty(s.size, dtype=np.int64)
    offset = 0
    for kind in (True, False):
        idx = np.flatnonzero(y == kind)
        if seed is not None:
            idx = np.random.default_rng(seed).permutation(idx)
        fold_of[idx] = (np.arange(idx.size) + offset) % k
        offset += idx.size
    accuracies: list[float] = []
    thresholds: list[float] = []
    for f in range(k):
        test = fold_of == f
        if not test.any():
            continue
        train = ~test
        threshold, _ = best_threshold(s[train], y[train])
        predicted = s[test] >= threshold
        accuracies.append(float(np.mean(predicted == y[test])))
        thresholds.append(threshold)
    return KFoldAccuracy(len(accuracies), accuracies, thresholds)


# ----------------------------------------------------------------------------------------------------
# Everything at once, overall and per group


def summary(
    genuine: ArrayLike,
    impostor: ArrayLike,
    far_targets: Sequence[float] = DEFAULT_FAR_TARGETS,
    thresholds: Sequence[float] = (),
    folds: int = 10,
    confidence: float = CONFIDENCE,
) -> dict[str, Any]:
    """All verification figures for one set of pairs, as a JSON-ready dict."""
    gen = _as_scores(genuine, "genuine")
    imp = _as_scores(impostor, "impostor")
    out: dict[str, Any] = {"genuine_pairs": int(gen.size), "impostor_pairs": int(imp.size)}
    if gen.size:
        out["genuine_score"] = _describe(gen)
    if imp.size:
        out["impostor_score"] = _describe(imp)
    out["at_thresholds"] = [errors_at(gen, imp, t, confidence).to_dict() for t in thresholds]
    if gen.size == 0 or imp.size == 0:
        out["note"] = "ROC figures need both genuine and impostor pairs"
        return out
    roc = roc_curve(gen, imp)
    e = eer(roc)
    out["auc"] = auc(gen, imp)
    out["eer"] = {"rate": e.rate, "threshold": e.threshold}
    out["tar_at_far"] = [tar_at_far(roc, t, confidence).to_dict() for t in far_targets]
    scores = np.concatenate([gen, imp])
    labels = np.concatenate([np.ones(gen.size, bool), np.zeros(imp.size, bool)])
    out["kfold"] = kfold_accuracy(scores, labels, folds).to_dict()
    return out


def group_fmr_ratio(impostor_by_group: dict[str, ArrayLike], threshold: float) -> dict[str, Any]:
    """False-match rate of each group at one threshold, and the ratio of the worst group's to the best's.

    The ratio is undefined (None) when the best group has no false match at all; the Clopper-Pearson upper
    bounds are given so a reader can see how far apart the groups could be."""
    rates = {
        name: Rate.of(int(np.count_nonzero(_as_scores(v, name) >= threshold)), len(np.asarray(v).reshape(-1)))
        for name, v in impostor_by_group.items()
        if np.asarray(v).size
    }
    out: dict[str, Any] = {"threshold": threshold, "groups": {k: r.to_dict() for k, r in rates.items()}}
    if len(rates) < 2:
        out["ratio"] = None
        out["note"] = "needs at least two groups with impostor pairs"
        return out
    worst = max(rates, key=lambda k: rates[k].value)
    best = min(rates, key=lambda k: rates[k].value)
    if rates[worst].value == 0:
        out["worst_group"] = out["best_group"] = out["ratio"] = None
        out["note"] = "no group had a false match at this threshold (see each group's upper bound)"
        return out
    out["worst_group"], out["best_group"] = worst, best
    if rates[best].value > 0:
        out["ratio"] = rates[worst].value / rates[best].value
    else:
        out["ratio"] = None
        out["note"] = "undefined: the best group had no false match at this threshold"
    return out


# ----------------------------------------------------------------------------------------------------
# Detection


def iou_matrix(a: ArrayLike, b: ArrayLike) -> FloatArray:
    """Intersection over union of every box in ``a`` with every box in ``b`` (boxes ``[x1, y1, x2, y2]``)."""
    boxes_a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    boxes_b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x1 = np.maximum(boxes_a[:, None, 0], boxes_b[None, :, 0])
    y1 = np.maximum(boxes_a[:, None, 1], boxes_b[None, :, 1])
    x2 = np.minimum(boxes_a[:, None, 2], boxes_b[None, :, 2])
    y2 = np.minimum(boxes_a[:, None, 3], boxes_b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = np.clip(boxes_a[:, 2] - boxes_a[:, 0], 0, None) * np.clip(boxes_a[:, 3] - boxes_a[:, 1], 0, None)
    area_b = np.clip(boxes_b[:, 2] - boxes_b[:, 0], 0, None) * np.clip(boxes_b[:, 3] - boxes_b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def match_detections(
    truth: ArrayLike,
    detections: ArrayLike,
    scores: ArrayLike,
    iou_threshold: float = 0.5,
    ignore: ArrayLike | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Greedy matching in decreasing score order, as in PASCAL VOC.

    Returns ``(det_to_truth, status)``: for each detection the index of the truth box it matched or -1, and a
    status 1 = true positive, 0 = false positive, -1 = matched a box marked ``ignore`` (counted as neither).
    """
    gt = np.asarray(truth, dtype=np.float64).reshape(-1, 4)
    det = np.asarray(detections, dtype=np.float64).reshape(-1, 4)
    conf = np.asarray(scores, dtype=np.float64).reshape(-1)
    ign = np.zeros(len(gt), bool) if ignore is None else np.asarray(ignore, dtype=bool).reshape(-1)
    det_to_truth = np.full(len(det), -1, dtype=np.int64)
    status = np.zeros(len(det), dtype=np.int64)
    if len(gt) == 0 or len(det) == 0:
        return det_to_truth, status
    ious = iou_matrix(det, gt)
    taken = np.zeros(len(gt), bool)
    for d in np.argsort(-conf, kind="stable"):
        # prefer an unmatched, non-ignored box; fall back to an ignored one
        candidates = np.where(~taken & ~ign, ious[d], -1.0)
        g = int(np.argmax(candidates))
        if candidates[g] >= iou_threshold:
            taken[g] = True
            det_to_truth[d] = g
            status[d] = 1
            continue
        candidates = np.where(ign, ious[d], -1.0)
        g = int(np.argmax(candidates))
        if candidates[g] >= iou_threshold:
            det_to_truth[d] = g
            status[d] = -1
    return det_to_truth, status


def average_precision(
    scores: ArrayLike, is_true: ArrayLike, n_truth: int
) -> tuple[float, FloatArray, FloatArray]:
    """All-point interpolated average precision (PASCAL VOC 2010+), with the raw recall and precision."""
    conf = np.asarray(scores, dtype=np.float64).reshape(-1)
    tp = np.asarray(is_true, dtype=bool).reshape(-1)
    order = np.argsort(-conf, kind="stable")
    tp = tp[order]
    ctp = np.cumsum(tp)
    cfp = np.cumsum(~tp)
    recall = ctp / n_truth if n_truth else np.zeros_like(ctp, dtype=np.float64)
    precision = ctp / np.maximum(ctp + cfp, 1)
    if n_truth == 0 or conf.size == 0:
        return 0.0, recall.astype(np.float64), precision.astype(np.float64)
    mrec = np.concatenate([[0.0], recall, [recall[-1]]])
    mpre = np.concatenate([[1.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1])
    ap = float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))
    return ap, recall.astype(np.float64), precision.astype(np.float64)


# ----------------------------------------------------------------------------------------------------


def _describe(values: FloatArray) -> dict[str, float]:
    return {
        "count": int(values.size),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "p05": float(np.percentile(values, 5)),
        "median": float(np.median(values)),
        "p95": float(np.percentile(values, 95)),
        "max": float(values.max()),
    }


def _num(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)
