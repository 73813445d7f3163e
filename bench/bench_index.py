"""IndexFaces throughput on a folder of real photos through the service: decode, detect, embed, store, audit.

Run: .venv/bin/python bench/bench_index.py [FOLDER ...]   (default: the test galleries)
Prints images/s and faces/s (medians over repeats into fresh data folders) and writes bench/results/index.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from machine import describe

from regard.service.app import Regard
from regard.vision.engine import FaceEngine

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FOLDERS = [ROOT / "tests" / "data" / "galleries"]


def images_in(folders: list[Path]) -> list[bytes]:
    files = [
        p
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.suffix.lower() in {".jpg", ".jpeg", ".png"}
    ]
    return [p.read_bytes() for p in files]


def run_once(engine: FaceEngine, images: list[bytes]) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as folder, Regard.open(Path(folder), engine=engine) as regard:
        regard.invoke("CreateCollection", {"CollectionId": "bench"})
        faces = 0
        start = time.perf_counter()
        for data in images:
            response = regard.invoke("IndexFaces", {"CollectionId": "bench", "Image": {"Bytes": data}})
            faces += len(response["FaceRecords"])
        return time.perf_counter() - start, faces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folders", nargs="*", type=Path, default=DEFAULT_FOLDERS)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    images = images_in(args.folders)
    engine = FaceEngine()
    run_once(engine, images[:3])  # warm-up: model loading is not part of throughput
    times: list[float] = []
    faces = 0
    for _ in range(args.repeats):
        elapsed, faces = run_once(engine, images)
        times.append(elapsed)
    median = statistics.median(times)
    lines = [
        "# IndexFaces throughput",
        "",
        "Command: `.venv/bin/python bench/bench_index.py` (the test galleries: dlib johns, face-api.js",
        "characters, face_recognition knn_examples), through `Regard.invoke` with the embedded store,",
        "audit records included. Median of the repeats; each repeat indexes into a fresh data folder.",
        describe(),
        "",
        "| images | faces indexed | median seconds | images/s | faces/s |",
        "|---|---|---|---|---|",
        f"| {len(images)} | {faces} | {median:.2f} | {len(images) / median:.1f} | {faces / median:.1f} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    out = ROOT / "bench" / "results" / "index.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    main()
