"""The PReLU rewrite changes speed, not answers: embeddings and landmarks of real faces match the original
graphs run unmodified (both on onnxruntime fp32, so that only the rewrite differs)."""

from __future__ import annotations

import numpy as np
import onnx

from regard.vision.alignment import align_faces
from regard.vision.embedding import Recogniser
from regard.vision.image import read_image_file
from regard.vision.landmarks import LandmarkModel
from regard.vision.rewrites import prelu_as_relu
from regard.vision.runtimes.onnxruntime_model import OnnxRuntimeModel
from regard.vision.sessions import create_session


def test_rewrite_removes_every_prelu(engine) -> None:
    for role in ("recogniser", "landmarks"):
        original = engine.pack.require(role).read_verified()
        ops = [n.op_type for n in onnx.load_from_string(original).graph.node]
        rewritten = [n.op_type for n in onnx.load_from_string(prelu_as_relu(original)).graph.node]
        assert "PRelu" in ops and "PRelu" not in rewritten
        assert rewritten.count("Relu") == ops.count("PRelu") + ops.count("Relu")


def test_embeddings_and_landmarks_equal_the_original_graphs(ort_engine, data_file) -> None:
    engine = ort_engine
    image = read_image_file(data_file("vision/players.jpg"))
    found = engine.detections(image, max_faces=40)
    assert len(found) == 40
    recogniser_file = engine.pack.require("recogniser")
    original = Recogniser(
        OnnxRuntimeModel(create_session(recogniser_file.read_verified(), name="original recogniser")),
        recogniser_file.normalisation,
        engine.embedding_size,
    )
    expected = original.embed(align_faces(image.pixels, found.keypoints))
    got = engine.embed_keypoints(image, found.keypoints)
    assert np.abs(got - expected).max() < 1e-4
    assert (got * expected).sum(axis=1).min() > 0.99999
    landmark_file = engine.pack.require("landmarks")
    model = LandmarkModel(
        OnnxRuntimeModel(create_session(landmark_file.read_verified(), name="original landmarks")),
        landmark_file.normalisation,
    )
    faces = engine.detect(image, max_faces=40, landmarks=True)
    points = np.stack([f.landmarks for f in faces])
    assert np.abs(points - model.predict(image.pixels, found.boxes)).max() < 0.01  # pixels
