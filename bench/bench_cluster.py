"""ClusterFaces' algorithm against DBSCAN and dlib's Chinese Whispers on the same Regard embeddings.

    .venv/bin/python bench/bench_cluster.py                 # labelled sets + 100k synthetic faces
    .venv/bin/python bench/bench_cluster.py --synthetic 20000 --peers-synthetic 5000

Needs the ``[bench]`` extra (scikit-learn for DBSCAN, dlib-bin for ``chinese_whispers_clustering``).

Real faces: every labelled single-identity image in ``../shared/data`` (the sets ``measure_similarity.py``
reads, plus CompreFace's persons A/B/C), largest face, buffalo_s embedding. All sets are pooled into one
collection (so impostors come from every set), and each set is also scored alone. An unclustered face is a
singleton. Scores: pairwise and BCubed precision/recall (``regard.evaluation.clustering``).

Peers, tuned fairly: DBSCAN (cosine metric, min_samples 2, so its clusters have at least two faces like
Regard's) and dlib's Chinese Whispers (Euclidean threshold on the unit vectors; face_recognition users run 0.5
with dlib's own 128-d model, which does not transfer to 512-d ArcFace vectors, so it is run at the Euclidean
distance equal to each cosine threshold) are each swept over the same thresholds as Regard, and each is
reported at its best BCubed F as well as at Regard's default.

Synthetic: unit vectors in identity clusters (1-12 faces each, within 2,000 broad groups, the shape of
``bench_search.py``'s generator) with known labels; time to cluster, and precision/recall.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from measure_similarity import embed_labelled, labelled_images  # noqa: E402
from shared_data import shared_data  # noqa: E402

from regard.evaluation.clustering import ClusteringScores, score_clustering  # noqa: E402
from regard.grouping import cluster_vectors  # noqa: E402
from regard.service.clustering import DEFAULT_THRESHOLD  # noqa: E402
from regard.vision.similarity import cosine_from_similarity, similarity_from_cosine  # noqa: E402

THRESHOLDS = (0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55)
DIM = 512


def compreface_images(data: Path) -> list[tuple[str, str, Path]]:
    folder = data / "compreface/sample_images"
    return [("compreface", p.stem.split("_")[1], p) for p in sorted(folder.glob("*_[ABC].jpg"))]


def embed_all(data: Path, cache: Path | None) -> tuple[np.ndarray, list[str], list[str]]:
    if cache is not None and cache.exists():
        saved = np.load(cache, allow_pickle=False)
        return saved["emb"], saved["labels"].tolist(), saved["sets"].tolist()
    items = [
        (set_name, identity if set_name != "compreface" else f"compreface-{identity}", path)
        for set_name, identity, path in labelled_images(data) + compreface_images(data)
    ]  # identities across sets share a name on purpose: Obama is Obama
    labels, sets, emb, _ = embed_labelled(items)
    emb = emb.astype(np.float32)
    if cache is not None:  # templates: kept private, outside the repository
        fd = os.open(cache, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, emb=emb, labels=np.array(labels), sets=np.array(sets))
    return emb, labels, sets


def regard_labels(emb: np.ndarray, cosine: float, method: str = "whispers", eject: bool = True) -> list:
    clusters, _ = cluster_vectors(emb, threshold=cosine, method=method, eject=eject)
    out: list = [None] * len(emb)
    for number, cluster in enumerate(clusters):
        for i in cluster.members:
            out[i] = number
    return out


def dbscan_labels(emb: np.ndarray, cosine: float) -> list:
    from sklearn.cluster import DBSCAN

    found = DBSCAN(eps=1.0 - cosine, min_samples=2, metric="cosine").fit_predict(emb)
    return [None if label < 0 else int(label) for label in found]


def dlib_labels(emb: np.ndarray, cosine: float) -> list:
    import dlib

    distance = float(np.sqrt(2.0 - 2.0 * cosine))
    found = dlib.chinese_whispers_clustering([dlib.vector(v.tolist()) for v in emb], distance)
    counts = np.bincount(found)
    return [None if counts[label] < 2 else int(label) for label in found]


METHODS = {
    "Regard (Chinese Whispers on kNN graph + cohesion check)": regard_labels,
    "Regard graph, connected components, no check": lambda e, c: regard_labels(e, c, "components", False),
    "Regard graph, Chinese Whispers, no check": lambda e, c: regard_labels(e, c, "whispers", False),
    "DBSCAN (scikit-learn, cosine, min_samples 2)": dbscan_labels,
    "dlib chinese_whispers_clustering": dlib_labels,
}


def row(name: str, cosine: float, s: ClusteringScores) -> str:
    return (
        f"| {name} | {cosine:.2f} ({similarity_from_cosine(cosine):.1f}) | {s.pairwise_precision:.3f} | "
        f"{s.pairwise_recall:.3f} | {s.bcubed_precision:.3f} | {s.bcubed_recall:.3f} | {s.bcubed_f:.3f} | "
        f"{s.clusters} | {s.unclustered} |"
    )


HEADER = (
    "| method | cosine (similarity) | pairwise P | pairwise R | BCubed P | BCubed R | BCubed F | clusters | "
    "unclustered |\n|---|---|---|---|---|---|---|---|---|"
)


def real_sets(emb: np.ndarray, labels: list[str], sets: list[str], default: float) -> list[str]:
    lines = [
        f"### All labelled sets pooled: {len(labels)} faces, {len(set(labels))} identities, "
        f"{sum(1 for x in set(labels) if labels.count(x) >= 2)} with two faces or more",
        "",
        "Sweep (every method at every threshold):",
        "",
        HEADER,
    ]
    best: dict[str, tuple[float, float, ClusteringScores]] = {}
    at_default: dict[str, ClusteringScores] = {}
    for name, method in METHODS.items():
        for cosine in sorted({*THRESHOLDS, default}):
            scores = score_clustering(method(emb, cosine), labels)
            lines.append(row(name, cosine, scores))
            if name not in best or scores.bcubed_f > best[name][0]:
                best[name] = (scores.bcubed_f, cosine, scores)
            if abs(cosine - default) < 1e-9:
                at_default[name] = scores
    lines += ["", "At Regard's default threshold:", "", HEADER]
    lines += [row(name, default, s) for name, s in at_default.items()]
    lines += [
        "",
        "Each method at its own best BCubed F (tuned on this data, an optimistic figure):",
        "",
        HEADER,
    ]
    lines += [row(name, c, s) for name, (_, c, s) in best.items()]
    lines += ["", "### Each set alone, at Regard's default threshold", ""]
    lines.append(
        "| set | faces | identities | method | pairwise P | pairwise R | BCubed P | BCubed R | BCubed F |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for set_name in sorted(set(sets)):
        pick = [i for i, s in enumerate(sets) if s == set_name]
        sub_labels = [labels[i] for i in pick]
        for name, method in METHODS.items():
            if "no check" in name:
                continue
            s = score_clustering(method(emb[pick], default), sub_labels)
            lines.append(
                f"| {set_name} | {len(pick)} | {len(set(sub_labels))} | {name} | "
                f"{s.pairwise_precision:.3f} | {s.pairwise_recall:.3f} | {s.bcubed_precision:.3f} | "
                f"{s.bcubed_recall:.3f} | {s.bcubed_f:.3f} |"
            )
    return lines


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def synthetic(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """n faces of identities with 1-12 faces each, identities inside 2,000 broad groups; (vectors, labels).

    Harder than the real sets on purpose: identities of a group resemble each other (impostor cosine about
    0.3, tail past 0.4) and some identities vary a lot (genuine cosine 0.35-0.6), so chaining and
    recall loss show up.
    """
    rng = np.random.default_rng(seed)
    groups = unit(rng.standard_normal((2000, DIM)))
    sizes = rng.integers(1, 13, n)
    labels = np.repeat(np.arange(n), sizes)[:n]
    n_id = int(labels.max()) + 1
    centres = unit(groups[rng.integers(0, 2000, n_id)] + 0.8 * unit(rng.standard_normal((n_id, DIM))))
    spread = rng.uniform(0.85, 1.35, n_id).astype(np.float32)[:, None]
    x = np.empty((n, DIM), np.float32)
    for s in range(0, n, 50_000):
        e = min(n, s + 50_000)
        noise = spread[labels[s:e]] * unit(rng.standard_normal((e - s, DIM)))
        x[s:e] = unit(centres[labels[s:e]] + noise)
    order = rng.permutation(n)
    return x[order], labels[order]


def synthetic_run(n: int, peers_n: int, default: float) -> list[str]:
    lines = [
        f"### Synthetic: time and accuracy at Regard's default threshold (cosine {default:.2f})",
        "",
        "| faces | method | seconds | CPU seconds | pairwise P | pairwise R | BCubed P | BCubed R | "
        "BCubed F |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    runs: list[tuple[int, str]] = [(peers_n, name) for name in METHODS if "no check" not in name]
    runs += [(n, name) for name in METHODS if name.startswith("Regard") and "no check" not in name]
    for size, name in runs:
        x, labels = synthetic(size)
        start, cpu = time.perf_counter(), time.process_time()
        found = METHODS[name](x, default)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu  # CPU: all threads
        s = score_clustering(found, labels.tolist())
        lines.append(
            f"| {size:,} | {name} | {seconds:.1f} | {cpu:.1f} | {s.pairwise_precision:.3f} | "
            f"{s.pairwise_recall:.3f} | "
            f"{s.bcubed_precision:.3f} | {s.bcubed_recall:.3f} | {s.bcubed_f:.3f} |"
        )
        print(lines[-1], flush=True)
    return lines


def incremental_run(n: int, added: int) -> list[str]:
    """ClusterFaces through the service on an embedded store: a full run on n faces, then ``added`` more
    faces clustered with Incremental (joining through the vector index) and, for comparison, in full."""
    import shutil
    import tempfile
    import types
    import uuid

    from regard.service.app import Regard
    from regard.store.embedded import EmbeddedStore
    from regard.store.records import BoundingBox, CollectionRecord, FaceRecord

    x, labels = synthetic(n + added)
    folder = Path(tempfile.mkdtemp(prefix="regard-bench-cluster-"))
    store = EmbeddedStore(folder / "data", save_interval=1e9)
    regard = Regard(store, engine=types.SimpleNamespace(model_version="synthetic/1"))  # no images here
    lines = [
        f"### Incremental: {added:,} faces added to {n:,} already clustered (through the service and store)",
        "",
        "| run | seconds | CPU seconds | pairwise P | pairwise R | BCubed F |",
        "|---|---|---|---|---|---|",
    ]
    try:
        store.create_collection(CollectionRecord("bench", "synthetic/1", DIM, time.time()))
        box = BoundingBox(0.1, 0.1, 0.5, 0.5)
        ids = [str(uuid.uuid4()) for _ in range(n + added)]
        truth = dict(zip(ids, labels.tolist(), strict=True))

        def add(lo: int, hi: int) -> None:
            for s in range(lo, hi, 5000):
                e = min(hi, s + 5000)
                store.add_faces("bench", [FaceRecord(f, f, box, 99.0, "7.0", 0.0) for f in ids[s:e]], x[s:e])

        def run(name: str, **params: object) -> None:
            start, cpu = time.perf_counter(), time.process_time()
            out = regard.invoke("ClusterFaces", {"CollectionId": "bench", "MaxResults": 4096, **params})
            token = out.get("NextToken")
            clusters = list(out["Clusters"])
            while token:
                page = regard.invoke(
                    "ClusterFaces", {"CollectionId": "bench", "MaxResults": 4096, "NextToken": token}
                )
                clusters += page["Clusters"]
                token = page.get("NextToken")
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            found = {f: c["ClusterId"] for c in clusters for f in c["FaceIds"]}
            loose = set(out["UnclusteredFaceIds"])
            have = [f for f in ids if f in found or f in loose]
            s = score_clustering([found.get(f) for f in have], [truth[f] for f in have])
            lines.append(
                f"| {name} | {seconds:.1f} | {cpu:.1f} | {s.pairwise_precision:.3f} | "
                f"{s.pairwise_recall:.3f} | {s.bcubed_f:.3f} |"
            )
            print(lines[-1], flush=True)

        add(0, n)
        run(f"full, {n:,} faces")
        add(n, n + added)
        run(f"Incremental, +{added:,}", Incremental=True)
        run(f"full, {n + added:,} faces")
    finally:
        store.close()
        shutil.rmtree(folder)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--synthetic", type=int, default=100_000)
    parser.add_argument("--peers-synthetic", type=int, default=10_000)
    parser.add_argument("--cache", type=Path, default=None, help="keep the embeddings here between runs")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/cluster.md")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--incremental", type=int, nargs=2, metavar=("N", "ADDED"), default=None)
    args = parser.parse_args()
    default = cosine_from_similarity(DEFAULT_THRESHOLD)
    load = os.getloadavg()
    lines = [
        "# ClusterFaces: accuracy and time",
        "",
        f"Command: `.venv/bin/python bench/bench_cluster.py"
        f"{'' if args.synthetic == 100_000 else f' --synthetic {args.synthetic}'}`. "
        "Machine: 2 cores, no GPU; "
        f"load average at start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min), shared with "
        "other work, so times are upper bounds.",
        "",
        f"Regard's default ClusterThreshold: similarity {DEFAULT_THRESHOLD:g} = cosine {default:.2f}; "
        "k = 20.",
        "",
    ]
    if not args.skip_real:
        emb, labels, sets = embed_all(args.data or shared_data(), args.cache)
        lines += real_sets(emb, labels, sets, default)
        print("\n".join(lines), flush=True)
    if not args.skip_synthetic:
        lines += ["", *synthetic_run(args.synthetic, args.peers_synthetic, default)]
    if args.incremental:
        lines += ["", *incremental_run(*args.incremental)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
