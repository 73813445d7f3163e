"""Pose signs (InspireFace's own constraints), landmark geometry, quality measured on the face."""

from __future__ import annotations

import numpy as np
import pytest

from regard.vision.image import read_image_file
from regard.vision.landmarks import REKOGNITION_FROM_106, rekognition_points

# From InspireFace cpp/test/unit/api/test_face_track.cpp (see ../shared/data/insightface/*_DERIVED.csv).
POSE_CONSTRAINTS = [
    ("left_face.jpeg", "yaw", -90, -10),
    ("right_face.png", "yaw", 10, 90),
    ("rise_face.jpeg", "pitch", 3, 90),
    ("lower_face.jpeg", "pitch", -90, -10),
    ("left_wryneck.png", "roll", -90, -30),
    ("right_wryneck.png", "roll", 25, 90),
]


@pytest.mark.parametrize(("name", "angle", "low", "high"), POSE_CONSTRAINTS)
def test_pose_signs(engine, data_file, name: str, angle: str, low: float, high: float) -> None:
    faces = engine.detect(read_image_file(data_file(f"vision/pose/{name}")))
    assert len(faces) == 1
    assert low < getattr(faces[0].pose, angle) < high


def test_frontal_face_is_near_zero(engine, data_file) -> None:
    pose = engine.detect(read_image_file(data_file("vision/obama.jpg")))[0].pose
    assert abs(pose.roll) < 5 and abs(pose.yaw) < 10 and abs(pose.pitch) < 20


def test_rekognition_landmarks_have_face_geometry(engine, data_file) -> None:
    face = engine.detect(read_image_file(data_file("vision/obama.jpg")), landmarks=True)[0]
    points = {name: np.array([x, y]) for name, x, y in rekognition_points(face.keypoints, face.landmarks)}
    assert len(points) == 30 and set(REKOGNITION_FROM_106) <= set(points)
    x, y = {k: v[0] for k, v in points.items()}, {k: v[1] for k, v in points.items()}
    assert x["eyeLeft"] < x["nose"] < x["eyeRight"]
    assert y["leftEyeBrowUp"] < y["eyeLeft"] < y["nose"] < y["mouthUp"] < y["mouthDown"] < y["chinBottom"]
    assert x["leftEyeLeft"] < x["leftPupil"] < x["leftEyeRight"] < x["rightEyeLeft"] < x["rightPupil"]
    assert x["rightPupil"] < x["rightEyeRight"]
    assert y["leftEyeUp"] < y["leftEyeDown"] and y["rightEyeUp"] < y["rightEyeDown"]
    assert x["mouthLeft"] < x["mouthUp"] < x["mouthRight"] and x["noseLeft"] < x["noseRight"]
    assert x["upperJawlineLeft"] < x["midJawlineLeft"] < x["chinBottom"] < x["midJawlineRight"]
    assert x["midJawlineRight"] < x["upperJawlineRight"]
    assert np.linalg.norm(points["leftPupil"] - points["eyeLeft"]) < 0.1 * face.width


def test_only_keypoint_types_without_landmarks(engine, data_file) -> None:
    face = engine.detect(read_image_file(data_file("vision/obama.jpg")))[0]
    assert [p[0] for p in rekognition_points(face.keypoints, None)] == [
        "eyeLeft",
        "eyeRight",
        "nose",
        "mouthLeft",
        "mouthRight",
    ]


def test_quality_is_measured_on_the_face(engine, data_file) -> None:
    sharp = engine.detect(read_image_file(data_file("vision/obama.jpg")))[0].quality
    blurred = engine.detect(read_image_file(data_file("vision/blur.jpg")))[0].quality
    assert 0 <= blurred.sharpness < 30 < 70 < sharp.sharpness <= 100
    assert 20 < sharp.brightness < 90 and blurred.brightness < sharp.brightness
