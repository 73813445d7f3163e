"""PNG plots of evaluation results (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from regard.evaluation import metrics


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:  # type: ignore[no-untyped-def]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def roc_plot(genuine: ArrayLike, impostor: ArrayLike, path: Path, title: str = "ROC") -> Path:
    """TAR against FMR, FMR on a log axis (the region that matters for identification)."""
    plt = _pyplot()
    roc = metrics.roc_curve(genuine, impostor)
    floor = 0.5 / roc.n_impostor
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    ax.step(np.maximum(roc.fmr, floor), roc.tar, where="post", lw=1.5)
    ax.set_xscale("log")
    ax.set_xlim(floor, 1.0)
    ax.set_ylim(0, 1.01)
    ax.axvline(1 / roc.n_impostor, color="grey", ls=":", lw=1)
    ax.text(1 / roc.n_impostor, 0.02, " 1/negatives", color="grey", fontsize=8)
    ax.set_xlabel(f"false-match rate (FMR), {roc.n_impostor} impostor pairs")
    ax.set_ylabel(f"true-accept rate (TAR), {roc.n_genuine} genuine pairs")
    ax.set_title(f"{title}  (AUC {metrics.auc(genuine, impostor):.4f})")
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)


def det_plot(genuine: ArrayLike, impostor: ArrayLike, path: Path, title: str = "DET") -> Path:
    """FNMR against FMR on log-log axes; EER marked."""
    plt = _pyplot()
    roc = metrics.roc_curve(genuine, impostor)
    e = metrics.eer(roc)
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    floor_x, floor_y = 0.5 / roc.n_impostor, 0.5 / roc.n_genuine
    ax.step(np.maximum(roc.fmr, floor_x), np.maximum(roc.fnmr, floor_y), where="post", lw=1.5)
    if e.rate > 0:
        ax.plot([e.rate], [e.rate], "o", color="C3", label=f"EER {e.rate:.2%}")
        ax.legend(loc="upper right")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(floor_x, 1.0)
    ax.set_ylim(floor_y, 1.0)
    ax.set_xlabel("false-match rate (FMR)")
    ax.set_ylabel("false non-match rate (FNMR)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, path)


def score_histogram(
    genuine: ArrayLike,
    impostor: ArrayLike,
    path: Path,
    title: str = "Score distributions",
    thresholds: Sequence[float] = (),
    xlabel: str = "similarity",
) -> Path:
    plt = _pyplot()
    gen = np.asarray(genuine, dtype=np.float64)
    imp = np.asarray(impostor, dtype=np.float64)
    both = np.concatenate([gen, imp]) if gen.size + imp.size else np.zeros(1)
    bins = np.linspace(float(both.min()), float(both.max()) + 1e-9, 41)
    fig, ax = plt.subplots(figsize=(6, 4))
    if imp.size:
        ax.hist(imp, bins=bins, alpha=0.6, density=True, label=f"different people ({imp.size})", color="C3")
    if gen.size:
        ax.hist(gen, bins=bins, alpha=0.6, density=True, label=f"same person ({gen.size})", color="C0")
    for t in thresholds:
        ax.axvline(t, color="k", ls="--", lw=0.8)
        ax.text(t, ax.get_ylim()[1] * 0.95, f" {t:g}", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend()
    return _save(fig, path)


def pr_plot(
    recall: ArrayLike, precision: ArrayLike, ap: float, path: Path, title: str = "Precision-recall"
) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    r = np.asarray(recall, dtype=np.float64)
    p = np.asarray(precision, dtype=np.float64)
    if r.size:
        ax.plot(np.concatenate([[0.0], r]), np.concatenate([[p[0]], p]), lw=1.5)
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(f"{title}  (AP {ap:.3f}, IoU 0.5)")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def detection_plots(curve: dict[str, Any], out: Path, title: str) -> dict[str, str]:
    """The plots of a detection report (``detection.report``'s curve), written under ``out``: name -> path."""
    path = pr_plot(curve["recall"], curve["precision"], curve["ap"], out / "precision_recall.png", title)
    return {"precision_recall": str(path)}
