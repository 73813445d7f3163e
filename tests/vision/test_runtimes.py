"""The OpenVINO runtime gives onnxruntime's answers on real faces, in bf16 within measured bounds and in fp32
exactly; the runtime and precision settings choose what runs; several threads share one compiled model."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from regard.errors import ModelPackError
from regard.vision.alignment import align_faces
from regard.vision.engine import FaceEngine
from regard.vision.image import read_image_file
from regard.vision.runtimes import Plan, plan
from regard.vision.runtimes.base import batches
from regard.vision.runtimes.openvino_model import OpenVinoModel, cpu_has_bf16
from regard.vision.sessions import default_threads

PHOTOS = ("players.jpg", "yaoming.jpg", "obama.jpg", "obama2.jpg", "biden.jpg", "pose/left_face.jpeg")


@pytest.fixture(scope="module")
def fp32_engine(ort_engine: FaceEngine) -> FaceEngine:
    """Every model on OpenVINO forced to fp32."""
    return FaceEngine(ort_engine.pack, precision="fp32")


@pytest.fixture(scope="module")
def faces(ort_engine: FaceEngine, data_file) -> tuple[list, np.ndarray]:
    """(images, per image the onnxruntime detections) for the photos above: real faces, 60+ of them."""
    images = [read_image_file(data_file(f"vision/{name}")) for name in PHOTOS]
    return images, [ort_engine.detections(image, max_faces=None) for image in images]


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x1, y1 = np.maximum(a[:, None, 0], b[None, :, 0]), np.maximum(a[:, None, 1], b[None, :, 1])
    x2, y2 = np.minimum(a[:, None, 2], b[None, :, 2]), np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda r: (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def test_the_default_runs_openvino_in_bf16_where_the_cpu_has_it(engine: FaceEngine) -> None:
    """The recogniser and landmarks on OpenVINO (bf16 where native), the detector on onnxruntime fp32 (bf16
    lost small faces: runtimes/choice.py)."""
    expected = Plan("openvino", "bf16" if cpu_has_bf16() else "fp32")
    detector = Plan("onnxruntime", "fp32")
    assert engine.plans == {"detector": detector, "recogniser": expected, "landmarks": expected}
    compiled = engine._recogniser.get()._model
    assert isinstance(compiled, OpenVinoModel)
    for lane in compiled._lanes.values():  # batches on one stream per thread, a single face on all threads
        hint = str(lane.get_property("INFERENCE_PRECISION_HINT"))
        assert hint == ("<Type: 'bfloat16'>" if expected.precision == "bf16" else "<Type: 'float32'>"), hint
    streams = sorted(int(lane.get_property("NUM_STREAMS")) for lane in compiled._lanes.values())
    assert streams == [1, default_threads()]


def test_settings_choose_the_runtime_and_precision(monkeypatch) -> None:
    monkeypatch.setenv("REGARD_RUNTIME", "onnxruntime")
    assert plan("recogniser") == Plan("onnxruntime", "fp32")
    assert plan("recogniser", runtime="OpenVINO", precision="fp32") == Plan("openvino", "fp32")
    monkeypatch.setenv("REGARD_RUNTIME", "openvino")
    monkeypatch.setenv("REGARD_PRECISION", "fp32")
    assert plan("detector") == Plan("openvino", "fp32")
    monkeypatch.setenv("REGARD_PRECISION", "int4")
    with pytest.raises(ModelPackError, match="REGARD_PRECISION"):
        plan("recogniser")
    monkeypatch.delenv("REGARD_PRECISION")
    monkeypatch.setenv("REGARD_RUNTIME", "tensorrt")
    with pytest.raises(ModelPackError, match="tensorrt"):
        FaceEngine()
    with pytest.raises(ModelPackError, match="fp32 only"):
        plan("recogniser", runtime="onnxruntime", precision="bf16")


def test_openvino_fp32_embeds_exactly_as_onnxruntime(ort_engine, fp32_engine, faces) -> None:
    images, found = faces
    for image, detections in zip(images, found, strict=True):
        expected = ort_engine.embed_keypoints(image, detections.keypoints)
        got = fp32_engine.embed_keypoints(image, detections.keypoints)
        assert np.abs(got - expected).max() < 1e-4
        assert (got * expected).sum(axis=1).min() > 0.99999


def test_bf16_embeddings_stay_within_the_measured_cosine_of_fp32(ort_engine, engine, faces) -> None:
    """bench/results/precision.md: median 0.9995, minimum 0.998 on the labelled sets."""
    images, found = faces
    cosines = np.concatenate(
        [
            (engine.embed_keypoints(i, d.keypoints) * ort_engine.embed_keypoints(i, d.keypoints)).sum(axis=1)
            for i, d in zip(images, found, strict=True)
        ]
    )
    assert len(cosines) > 100
    assert np.median(cosines) > 0.999
    assert cosines.min() > 0.995


def test_openvino_detects_exactly_as_onnxruntime_in_fp32(fp32_engine, faces) -> None:
    images, found = faces
    for image, expected in zip(images, found, strict=True):
        got = fp32_engine.detections(image, max_faces=None)
        assert len(got) == len(expected)
        assert _iou(expected.boxes, got.boxes).max(axis=1).min() > 0.999
        assert np.abs(np.sort(got.scores) - np.sort(expected.scores)).max() < 1e-4


def test_bf16_landmarks_stay_within_a_fraction_of_a_pixel(ort_engine, engine, faces) -> None:
    images, found = faces
    for image, detections in zip(images, found, strict=True):
        boxes = detections.boxes[:24]
        ours = engine._landmarks.get().predict(image.pixels, boxes)
        theirs = ort_engine._landmarks.get().predict(image.pixels, boxes)
        error = np.linalg.norm(ours - theirs, axis=2) / (boxes[:, 3] - boxes[:, 1])[:, None]
        assert np.median(error) < 0.002 and error.max() < 0.03, image  # fractions of the face height


def test_threads_share_one_compiled_model_and_get_the_same_embeddings(engine, faces) -> None:
    images, found = faces
    players = images[0]
    crops = align_faces(players.pixels, found[0].keypoints)
    recogniser = engine._recogniser.get()
    chunks = [crops[i : i + 1 + i % 7] for i in range(0, 60, 6)]  # batches of 1 to 7 faces
    expected = [recogniser.embed(chunk) for chunk in chunks]
    results: dict[tuple[int, int], np.ndarray] = {}
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for round_ in range(3):
                for k, chunk in enumerate(chunks):
                    if (k + worker) % 2 == 0:
                        results[(worker, round_ * 100 + k)] = recogniser.embed(chunk)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors and all(not t.is_alive() for t in threads)
    assert len(results) == 4 * 3 * 5
    for (_, key), got in results.items():
        assert np.abs(got - expected[key % 100]).max() < 1e-5
    model = recogniser._model
    assert model.parallel == default_threads()  # one stream per thread for face crops
    # each thread borrows at most one request per stream, or one of the single-face model
    assert 1 <= model.idle_requests <= 4 * (model.parallel + 1)


def test_batches_of_a_fixed_size_leave_one_partial_batch() -> None:
    sizes = lambda *args: [part.stop - part.start for part in batches(*args)]  # noqa: E731
    assert sizes(21, 8) == [8, 8, 5]
    assert sizes(24, 8) == [8, 8, 8]
    assert sizes(70, 32) == [32, 32, 6]
    assert sizes(3, 8) == [3] and sizes(8, 8) == [8] and sizes(0, 8) == []
    covered = [i for part in batches(101, 8) for i in range(part.start, part.stop)]
    assert covered == list(range(101))


def test_a_batch_on_parallel_streams_embeds_as_faces_one_by_one(engine, faces) -> None:
    images, found = faces
    crops = align_faces(images[0].pixels, found[0].keypoints)[:40]
    recogniser = engine._recogniser.get()
    together = recogniser.embed(crops)
    alone = np.concatenate([recogniser.embed(crops[i : i + 1]) for i in range(len(crops))])
    assert (together * alone).sum(axis=1).min() > 0.9999


def test_the_static_batch_lane_embeds_as_the_dynamic_one(engine, faces) -> None:
    """Full batches run on the model compiled for ``batch`` faces, the rest on the dynamic one: the same
    embeddings either way (21 faces: two static batches of 8 in parallel, then 5 on the dynamic lane)."""
    images, found = faces
    crops = align_faces(images[0].pixels, found[0].keypoints)[:21]
    recogniser = engine._recogniser.get()
    model = recogniser._model
    if model.plan.runtime != "openvino" or model.parallel == 1:
        pytest.fail(f"expected OpenVINO with parallel streams on {default_threads()} threads: {model.plan}")
    assert model.batch == 8
    together = recogniser.embed(crops)
    dynamic = np.concatenate([recogniser.embed(crops[i : i + 7]) for i in range(0, 21, 7)])  # never 8
    assert (together * dynamic).sum(axis=1).min() > 0.9999


def test_loading_openvino_sends_no_telemetry_and_forks_nothing(tmp_path) -> None:
    """``import openvino`` alone would send a usage event from a forked process and leave a client ID in
    ~/intel (openvino.tools.ovc); Regard's runtime blocks that import (see runtimes/openvino_model.py)."""
    script = (
        "import os\n"
        "from regard.vision.engine import FaceEngine\n"
        "FaceEngine().warm_up()\n"
        "import openvino\n"
        "assert not hasattr(openvino, 'convert_model')\n"
        "pid = os.getpid()\n"
        "children = [p for p in os.listdir('/proc') if p.isdigit() and p != str(pid)\n"
        "            and open(f'/proc/{p}/stat').read().split()[3] == str(pid)]\n"
        "assert not children, children\n"
    )
    env = {**os.environ, "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "intel").exists()
