"""Same answers, measured: OpenVINO bf16 (Regard's default where the CPU has bf16) against onnxruntime fp32.

    .venv/bin/python bench/bench_precision.py [--data ../shared/data] [--runs 7]
        [--out bench/results/precision.md]

Accuracy (issue 10's rule for any faster engine): every labelled image of ``../shared/data`` that
``bench/make_pairs.py`` pairs (dlib johns, face-api.js characters, face_recognition knn_examples, openface,
InspireFace; byte-identical files once, unreadable files left out as ``regard evaluate`` does), its largest
face, every pair (same set and identity = genuine). Three engines' worth of embeddings:

- ``fp32``: every model on onnxruntime fp32 (Regard's engine before OpenVINO);
- ``bf16``: Regard's default engine (OpenVINO bf16 detector, landmarks and recogniser);
- ``bf16 recogniser on fp32 crops``: the bf16 recogniser on the faces the fp32 engine found and aligned, so
  the cosine to fp32 measures the recogniser's precision alone.

Reported: FNMR and false matches at similarity 80 for fp32 pairs, bf16 pairs, and cross pairs (a bf16 probe
against an fp32 template, both directions: what a collection indexed before the switch sees), with the gates
FNMR within +0.5 point of fp32 and no false match at 80; the median and minimum cosine between the bf16 and
fp32 embeddings of the same face (gate: >= 0.98).

Speed: embedding ms per face, batched (the 115 aligned faces of players.jpg in batches of 32, as
``Recogniser.embed`` runs them), 2 threads, onnxruntime fp32 / OpenVINO fp32 / OpenVINO bf16, wall time,
interleaved, median of ``--runs``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime
from machine import describe, load_average
from make_pairs import _dedupe, identity_sets
from shared_data import ROOT, shared_data

from regard.errors import RegardError
from regard.vision.alignment import align_faces
from regard.vision.engine import FaceEngine
from regard.vision.image import read_image_file
from regard.vision.runtimes.openvino_model import ov as openvino
from regard.vision.similarity import cosine_from_similarity

THRESHOLD = 80.0


def labelled(data: Path) -> list[tuple[str, str, Path]]:
    """(set, identity, path) of every image make_pairs.py pairs, byte-identical files once."""
    items = []
    for name, ids in identity_sets(data).items():
        items += _dedupe(data, [(name, who, p) for who, paths in ids.items() for p in paths])
    return [(s, who, data / p) for s, who, p in items]


def embed_all(
    items: list[tuple[str, str, Path]], fp32: FaceEngine, bf16: FaceEngine
) -> tuple[list[tuple[str, str]], dict[str, np.ndarray], list[str]]:
    """Labels and embeddings (fp32, bf16, bf16 recogniser on fp32 crops) of each image's largest face."""
    labels, vectors, skipped = [], {"fp32": [], "bf16": [], "bf16_rec": []}, []
    for set_name, who, path in items:
        try:
            image = read_image_file(path)
        except RegardError as exc:
            skipped.append(f"{path.name} ({exc.code})")
            continue
        face32, face16 = fp32.detect(image, max_faces=1), bf16.detect(image, max_faces=1)
        if not face32 or not face16:
            skipped.append(f"{path.name} (no face: fp32 {len(face32)}, bf16 {len(face16)})")
            continue
        labels.append((set_name, who))
        vectors["fp32"].append(fp32.embed(image, face32)[0])
        vectors["bf16"].append(bf16.embed(image, face16)[0])
        vectors["bf16_rec"].append(bf16.embed(image, face32)[0])
    return labels, {k: np.stack(v) for k, v in vectors.items()}, skipped


def rates(labels: list[tuple[str, str]], probes: np.ndarray, templates: np.ndarray, both: bool) -> dict:
    """Genuine misses and false matches at similarity 80 over unordered pairs (``both``: each direction)."""
    threshold = cosine_from_similarity(THRESHOLD)
    scores = probes @ templates.T
    genuine = misses = impostor = false = 0
    for i, j in itertools.combinations(range(len(labels)), 2):
        for a, b in ((i, j), (j, i)) if both else ((i, j),):
            if labels[a] == labels[b]:
                genuine += 1
                misses += scores[a, b] < threshold
            else:
                impostor += 1
                false += scores[a, b] >= threshold
    return {"genuine": genuine, "misses": int(misses), "impostor": impostor, "false": int(false)}


def embedding_speed(fp32: FaceEngine, bf16_engine: FaceEngine, runs: int) -> dict[str, float]:
    players = read_image_file(ROOT / "tests/data/vision/players.jpg")
    found = fp32.detections(players, max_faces=None)
    crops = align_faces(players.pixels, found.keypoints)
    ov32 = FaceEngine(fp32.pack, runtime="openvino", precision="fp32")
    recognisers = {
        "onnxruntime fp32": fp32._recogniser.get(),
        "openvino fp32": ov32._recogniser.get(),
        "openvino bf16": bf16_engine._recogniser.get(),
    }
    times: dict[str, list[float]] = {name: [] for name in recognisers}
    for model in recognisers.values():
        model.embed(crops)
    for _ in range(runs):
        for name, model in recognisers.items():
            start = time.perf_counter()
            model.embed(crops)
            times[name].append((time.perf_counter() - start) * 1000 / len(crops))
    return {name: statistics.median(v) for name, v in times.items()} | {"faces": len(crops)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/precision.md")
    args = parser.parse_args()
    data = args.data or shared_data()
    load_before = load_average()
    fp32 = FaceEngine(runtime="onnxruntime")
    bf16 = FaceEngine()
    if bf16.plans["recogniser"].precision != "bf16":
        sys.exit(f"the default engine runs {bf16.plans['recogniser']} here: no bf16 to measure")
    labels, emb, skipped = embed_all(labelled(data), fp32, bf16)
    results = {
        "fp32 probe, fp32 template": rates(labels, emb["fp32"], emb["fp32"], both=False),
        "bf16 probe, bf16 template": rates(labels, emb["bf16"], emb["bf16"], both=False),
        "bf16 probe, fp32 template (both directions)": rates(labels, emb["bf16"], emb["fp32"], both=True),
    }
    same_face = (emb["bf16_rec"] * emb["fp32"]).sum(axis=1)
    whole = (emb["bf16"] * emb["fp32"]).sum(axis=1)
    speed = embedding_speed(fp32, bf16, args.runs)
    write(args, data, labels, skipped, results, same_face, whole, speed, load_before)


def write(args, data, labels, skipped, results, same_face, whole, speed, load_before) -> None:
    base = results["fp32 probe, fp32 template"]
    fnmr = {k: 100 * r["misses"] / r["genuine"] for k, r in results.items()}
    lines = [
        "# bf16 (OpenVINO) against fp32 (onnxruntime): same answers, measured",
        "",
        f"Command: `.venv/bin/python bench/bench_precision.py --runs {args.runs}`. onnxruntime "
        f"{onnxruntime.__version__}, OpenVINO {openvino.__version__.split('-')[0]}, Python "
        f"{sys.version.split()[0]}. {describe(load_before)}",
        "",
        f"Labelled images: {len(labels)} of {len(set(labels))} people (the sets of "
        f"bench/make_pairs.py); left out: {len(skipped)} ({'; '.join(skipped) or 'none'}).",
        "",
        "## Accuracy at similarity 80",
        "",
        "| pairs | genuine pairs | FNMR at 80 | different-person pairs | false matches at 80 |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['genuine']} | {fnmr[name]:.2f}% ({r['misses']}) | {r['impostor']} "
            f"| {r['false']} |"
        )
    worst = max(fnmr.values()) - fnmr["fp32 probe, fp32 template"]
    no_false = all(r["false"] == base["false"] == 0 for r in results.values())
    cosine_ok = float(np.median(same_face)) >= 0.98
    compatible = worst <= 0.5 and no_false
    lines += [
        "",
        "## The same face, bf16 against fp32",
        "",
        "| embeddings compared | faces | median cosine | minimum cosine |",
        "|---|---:|---:|---:|",
        f"| bf16 recogniser vs fp32 recogniser, same aligned crop | {len(same_face)} "
        f"| {np.median(same_face):.5f} | {same_face.min():.5f} |",
        f"| whole bf16 engine vs whole fp32 engine (own detection and alignment) | {len(whole)} "
        f"| {np.median(whole):.5f} | {whole.min():.5f} |",
        "",
        "## Gates",
        "",
        f"- FNMR at 80 within +0.5 point of fp32 (worst: {worst:+.2f} points): "
        f"**{'passed' if worst <= 0.5 else 'failed'}**",
        f"- no false match at 80 (fp32, bf16 and cross): **{'passed' if no_false else 'failed'}**",
        f"- median cosine bf16 vs fp32 >= 0.98: **{'passed' if cosine_ok else 'failed'}**",
        f"- templates: bf16 probes against fp32-indexed templates give the same FNMR/FMR gates: "
        f"**{'compatible' if compatible else 'NOT compatible'}**"
        + (
            ", so FaceModelVersion stays the same (a collection indexed on fp32 stays searchable)."
            if compatible
            else ": the FaceModelVersion would have to change."
        ),
        "",
        f"## Embedding speed (players.jpg, {speed['faces']} aligned faces, batches of 32, 2 threads)",
        "",
        "| runtime | ms per face (wall, median) | vs onnxruntime fp32 |",
        "|---|---:|---:|",
    ]
    reference = speed["onnxruntime fp32"]
    for name in ("onnxruntime fp32", "openvino fp32", "openvino bf16"):
        lines.append(f"| {name} | {speed[name]:.2f} | {reference / speed[name]:.2f}x |")
    lines += [
        "",
        f"Timed interleaved, {args.runs} runs each; load average at the end {load_average()} on "
        f"{os.cpu_count()} cores (other jobs shared the machine: compare the ratios, not the absolute "
        "times).",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
