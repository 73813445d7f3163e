"""StartFaceDetection's FaceAttributes on the real clip with the real engine: ALL gives every FaceDetail the
30 landmark types DetectFaces ALL gives for the same frame as an image; DEFAULT keeps the 5 keypoint types
(and does not run the 106-point model; see test_jobs.py for that count).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from regard.service.context import RequestContext
from regard.service.faces import detect_faces
from regard.service.images import resolve_s3_object
from regard.service.video_jobs import VideoJobs
from regard.store import open_store
from regard.vision.image import DecodedImage
from regard.vision.landmarks import KEYPOINT_TYPES, REKOGNITION_FROM_106
from regard.vision.video import VideoReader

from .conftest import CLIP, DATA

pytestmark = pytest.mark.slow

CTX = RequestContext(access_key="AKIAVIDEOTEST0001", client="test")
FPS = 1.0
ALL_TYPES = {*KEYPOINT_TYPES, *REKOGNITION_FROM_106}


@pytest.fixture(scope="module")
def detected(tmp_path_factory: pytest.TempPathFactory, engine: Any) -> Iterator[dict[str, list[Any]]]:
    """GetFaceDetection's Faces for one DEFAULT and one ALL job over the clip, sampled at 1 fps."""
    store = open_store(tmp_path_factory.mktemp("attributes") / "data")
    jobs = VideoJobs(store, lambda: engine, lambda s3: resolve_s3_object(s3, {"videos": DATA}))
    try:
        faces = {}
        for attributes in ("DEFAULT", "ALL"):
            params = {"Video": {"S3Object": {"Bucket": "videos", "Name": CLIP.name}}}
            params["FaceAttributes"] = attributes
            job_id = jobs.start_face_detection(params, CTX, sample_fps=FPS)["JobId"]
            assert jobs.wait(job_id, timeout=300).status == "SUCCEEDED"
            faces[attributes] = jobs.get_face_detection({"JobId": job_id}, CTX)["Faces"]
        yield faces
    finally:
        jobs.shutdown()
        store.close()


def _types(item: dict[str, Any]) -> list[str]:
    return [point["Type"] for point in item["Face"]["Landmarks"]]


def test_all_gives_thirty_landmark_types_default_five(detected: dict[str, list[Any]]) -> None:
    default, full = detected["DEFAULT"], detected["ALL"]
    assert len(default) >= 8  # the clip shows a face in most of its 10 s
    assert all(_types(item) == list(KEYPOINT_TYPES) for item in default)
    assert all(len(_types(item)) == 30 and set(_types(item)) == ALL_TYPES for item in full)
    # the same faces, boxes, pose and quality either way: ALL only adds landmarks
    assert [i["Timestamp"] for i in default] == [i["Timestamp"] for i in full]
    for plain, rich in zip(default, full, strict=True):
        for key in ("BoundingBox", "Pose", "Quality", "Confidence"):
            assert plain["Face"][key] == rich["Face"][key]
        assert rich["Face"]["Landmarks"][:5] == plain["Face"]["Landmarks"]


def test_all_landmarks_are_those_of_detect_faces_all_on_the_same_frame(
    detected: dict[str, list[Any]], engine: Any
) -> None:
    with VideoReader(Path(CLIP)) as reader:
        first = next(iter(reader.frames(FPS)))
    assert first.timestamp_ms == 0
    image = DecodedImage(pixels=first.pixels, format="VIDEO")
    expected = detect_faces(engine, image, attributes=["ALL"], max_faces=None)["FaceDetails"]
    at_zero = [item["Face"] for item in detected["ALL"] if item["Timestamp"] == 0]
    assert len(at_zero) == len(expected) >= 1
    for got, want in zip(at_zero, expected, strict=True):
        assert [p["Type"] for p in got["Landmarks"]] == [p["Type"] for p in want["Landmarks"]]
        for a, b in zip(got["Landmarks"], want["Landmarks"], strict=True):
            assert a["X"] == pytest.approx(b["X"], abs=1e-6) and a["Y"] == pytest.approx(b["Y"], abs=1e-6)


def test_all_landmarks_sit_on_the_face(detected: dict[str, list[Any]]) -> None:
    """Each face's 30 points lie in (or just around) its box, chin below nose below eyes."""
    checked = 0
    for item in detected["ALL"]:
        face = item["Face"]
        box = face["BoundingBox"]
        if face["Confidence"] < 75 or abs(face["Pose"]["Yaw"]) > 30:  # frontal, clear faces
            continue
        points = {p["Type"]: (p["X"], p["Y"]) for p in face["Landmarks"]}
        margin_x, margin_y = 0.25 * box["Width"], 0.25 * box["Height"]
        for x, y in points.values():
            assert box["Left"] - margin_x <= x <= box["Left"] + box["Width"] + margin_x
            assert box["Top"] - margin_y <= y <= box["Top"] + box["Height"] + margin_y
        assert points["leftPupil"][1] < points["nose"][1] < points["mouthDown"][1] < points["chinBottom"][1]
        assert points["leftEyeLeft"][0] < points["leftEyeRight"][0] < points["rightEyeLeft"][0]
        checked += 1
    assert checked >= 3
