"""Detection on real photographs: crowd, close-up, no face, ground-truth boxes, recall, rotated copies."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
from defusedxml import ElementTree

from regard.evaluation.metrics import iou_matrix
from regard.vision.detection import (
    TILE_OVERLAP,
    TILE_SIDE,
    Detections,
    _tiles,
    anchor_centres,
    largest_first,
    plan_passes,
)
from regard.vision.image import read_image_file
from regard.vision.similarity import similarity_from_cosine


def iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union)


def test_crowd_gives_at_least_100_faces(engine, data_file) -> None:
    faces = engine.detect(read_image_file(data_file("vision/players.jpg")), max_faces=None)
    assert len(faces) >= 100


def test_default_returns_the_100_largest_largest_first(engine, data_file) -> None:
    image = read_image_file(data_file("vision/players.jpg"))
    faces = engine.detect(image)
    everyone = engine.detect(image, max_faces=None)
    assert len(faces) == 100
    areas = [face.area for face in faces]
    assert areas == sorted(areas, reverse=True)
    assert areas[-1] >= max(face.area for face in everyone[100:])


def test_close_up_gives_exactly_one_face(engine, data_file) -> None:
    image = read_image_file(data_file("vision/yaoming.jpg"))
    faces = engine.detect(image)
    assert len(faces) == 1
    face = faces[0]
    assert face.keypoints.shape == (5, 2) and face.landmarks is None  # the landmark model only on request
    (with_landmarks,) = engine.detect(image, landmarks=True)
    assert with_landmarks.landmarks is not None and with_landmarks.landmarks.shape == (106, 2)
    assert with_landmarks.pose == face.pose and with_landmarks.quality == face.quality
    assert 0.5 <= face.score <= 1.0


def test_dogs_are_not_faces(engine, data_file) -> None:
    assert engine.detect(read_image_file(data_file("vision/dogs.jpg"))) == []


def test_obama_box_matches_face_recognition_ground_truth(engine, data_file) -> None:
    # face_recognition's tests: HOG (top, right, bottom, left) == (142, 617, 409, 349);
    # CNN ~ (144, 608, 389, 363).
    faces = engine.detect(read_image_file(data_file("vision/obama.jpg")))
    assert len(faces) == 1
    assert iou(faces[0].box, np.array([349, 142, 617, 409])) >= 0.6
    assert iou(faces[0].box, np.array([363, 144, 608, 389])) >= 0.6


def test_png_with_alpha_box_matches_ground_truth(engine, data_file) -> None:
    # face_recognition's tests: 32bit.png has 1 face, HOG top 290, bottom 558.
    faces = engine.detect(read_image_file(data_file("vision/32bit.png")))
    assert len(faces) == 1
    assert abs((faces[0].box[1] + faces[0].box[3]) / 2 - (290 + 558) / 2) < 30


def test_recall_on_dlib_testing_xml(engine, data_file) -> None:
    root = ElementTree.parse(data_file("vision/dlib/testing.xml")).getroot()
    found = total = 0
    for entry in root.iter("image"):
        faces = engine.detect(read_image_file(data_file(f"vision/dlib/{entry.get('file')}")), max_faces=None)
        for box in entry.iter("box"):
            left, top = int(box.get("left")), int(box.get("top"))
            truth = np.array([left, top, left + int(box.get("width")), top + int(box.get("height"))])
            total += 1
            found += any(iou(face.box, truth) >= 0.5 for face in faces)
    assert total == 25
    assert found / total >= 0.95


def test_rotated_copies(engine, data_file) -> None:
    """Sideways faces are found (roll shows the rotation) and still match; upside-down ones are not found.

    The detector was trained on upright faces. Phones record rotation in EXIF, which Regard applies before
    detection (see test_image), so an image really stored upside down is rare; it yields no face, not a
    wrong one.
    """
    images = {name: read_image_file(data_file(f"vision/rotate/rot_{name}.jpg")) for name in (0, 90, 180, 270)}
    faces = {name: engine.detect(image) for name, image in images.items()}
    assert len(faces[0]) == 1 and abs(faces[0][0].pose.roll) < 15
    assert len(faces[90]) == 1 and abs(faces[90][0].pose.roll - 90) < 15
    assert len(faces[270]) == 1 and abs(faces[270][0].pose.roll + 90) < 15
    assert faces[180] == []
    upright = engine.embed(images[0], faces[0])[0]
    for name in (90, 270):
        cosine = float(engine.embed(images[name], faces[name])[0] @ upright)
        assert similarity_from_cosine(cosine) >= 80


def test_plan_adds_a_near_native_pass_only_for_large_images() -> None:
    assert [p.long_side for p in plan_passes(500, 375)] == [320, 640]
    assert [p.long_side for p in plan_passes(1237, 800)] == [320, 640, 1248]
    assert [p.long_side for p in plan_passes(2000, 1000)] == [320, 640, 2016]
    assert [p.long_side for p in plan_passes(4000, 3000)] == [320, 640, 2560]


def test_empty_detections_are_correctly_shaped() -> None:
    empty = largest_first(Detections.empty(), 100)
    assert empty.boxes.shape == (0, 4) and empty.scores.shape == (0,) and empty.keypoints.shape == (0, 5, 2)


def test_anchor_centres_are_cached_read_only_and_bounded() -> None:
    centres = anchor_centres(2, 3, 8, 2)
    assert centres.shape == (12, 2) and not centres.flags.writeable
    assert centres[:4].tolist() == [[0, 0], [0, 0], [8, 0], [8, 0]]
    assert anchor_centres(2, 3, 8, 2) is centres
    assert anchor_centres.cache_info().maxsize == 100


@pytest.mark.parametrize("max_faces", [1, 3])
def test_max_faces_cuts_to_the_largest(engine, data_file, max_faces: int) -> None:
    image = read_image_file(data_file("vision/dlib/2008_002506.jpg"))
    faces = engine.detect(image, max_faces=max_faces)
    assert len(faces) == max_faces
    assert faces[0].area == max(face.area for face in engine.detect(image, max_faces=None))


def test_engine_is_safe_across_threads(data_file) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from regard.vision.engine import FaceEngine

    fresh = FaceEngine()  # sessions not created yet: four threads race to create them
    image = read_image_file(data_file("vision/dlib/2008_002506.jpg"))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: fresh.embed(image, fresh.detect(image)), range(4)))
    assert all(r.shape == (3, 512) for r in results)
    assert all(np.allclose(r, results[0], atol=1e-5) for r in results)


@pytest.mark.parametrize("length", [1281, 1440, 1920, 2560])
def test_tiles_cover_the_axis_with_overlap(length: int) -> None:
    starts, size = _tiles(length)
    assert size <= TILE_SIDE and starts[0] == 0 and starts[-1] + size == length
    assert all(b - a <= size - TILE_OVERLAP for a, b in itertools.pairwise(starts))


def test_tiled_pass_finds_what_one_canvas_finds(engine, data_file) -> None:
    """players.jpg at twice its size (2474 px) runs in 6 tiles: the same small faces (those the near-native
    pass contributes, under 128 px) as one canvas."""
    pixels = read_image_file(data_file("vision/players.jpg")).pixels
    big = cv2.resize(pixels, (pixels.shape[1] * 2, pixels.shape[0] * 2), interpolation=cv2.INTER_CUBIC)
    detector = engine._detector.get()
    tiled, whole = (detector.nms(found) for found in (detector._run_tiled(big), detector._run_canvas(big)))
    tiled, whole = (d.take(np.flatnonzero((d.boxes[:, 3] - d.boxes[:, 1]) < 128)) for d in (tiled, whole))
    assert len(whole) >= 100 and abs(len(tiled) - len(whole)) <= 3
    # Faces scored near the 0.5 threshold come and go with the padding around them; confident ones must not.
    confident = whole.scores >= 0.65
    assert confident.sum() >= 90
    assert (iou_matrix(whole.boxes[confident], tiled.boxes).max(axis=1) >= 0.7).all()
