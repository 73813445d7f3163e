"""Faces cut off by the frame, on real photographs cropped through an annotated face (dlib's testing.xml).

The crops are made here from tests/data/vision/dlib (the rest of each photograph kept), so the faces are real
and the cut is exact. bench/bench_edges.py measures the same thing at scale, against insightface.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from regard.evaluation.detection import EDGES, crop_through, parse_dlib_xml
from regard.evaluation.metrics import iou_matrix
from regard.service.faces import detect_faces
from regard.vision.detection import EDGE_BORDER, HALF_EDGE_BORDER, plan_passes
from regard.vision.image import DecodedImage, read_image_file

DLIB = Path(__file__).resolve().parents[1] / "data" / "vision" / "dlib"


def faces() -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(photograph BGR, annotated box) for each of testing.xml's 25 faces."""
    for item in parse_dlib_xml(DLIB / "testing.xml", DLIB):
        bgr = read_image_file(item.image).pixels
        for box, ignored in zip(item.boxes, item.ignore, strict=True):
            if not ignored:
                yield bgr, box


def cut(bgr: np.ndarray, box: np.ndarray, edge: str, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(crop with ``fraction`` of the box past ``edge``, the box in the crop); see ``crop_through``."""
    crop, offset = crop_through(bgr, box, edge, fraction)
    return crop, box - offset


def visible_iou(found: np.ndarray, box: np.ndarray, width: int, height: int) -> float:
    """Best IoU of the detections with the box, both clipped to the frame (the visible part)."""
    if len(found) == 0:
        return 0.0
    limits = [width, height, width, height]
    return float(iou_matrix(np.clip(found, 0, limits), np.clip(box, 0, limits)[None]).max())


def test_faces_cut_in_half_at_each_edge_are_found(engine) -> None:
    """Half of each face past one edge, 4 edges x 25 faces: measured 93 found (66 without the borders)."""
    found = {True: 0, False: 0}
    for bgr, box in faces():
        for edge in EDGES:
            crop, inside = cut(bgr, box, edge, 0.5)
            height, width = crop.shape[:2]
            image = DecodedImage(pixels=crop, format="JPEG")
            for borders in (True, False):
                passes = plan_passes(width, height, borders=borders)
                boxes = engine.detections(image, max_faces=None, passes=passes).boxes
                found[borders] += visible_iou(boxes, inside, width, height) >= 0.5
    assert found[True] >= 88
    assert found[True] >= found[False] + 15  # the borders are what finds them


@pytest.mark.parametrize("edge", EDGES)
def test_detect_faces_box_of_a_cut_face_runs_past_the_frame(engine, edge: str) -> None:
    """DetectFaces on the largest annotated face (109 px) cut in half: the face is found, with 30 landmarks
    for ALL, and its BoundingBox is not clipped to the frame (below 0 or above 1 on the cut side, as
    Rekognition's may be); its visible part matches the truth's."""
    bgr, box = max(faces(), key=lambda pair: pair[1][3] - pair[1][1])
    crop, inside = cut(bgr, box, edge, 0.5)
    height, width = crop.shape[:2]
    image = DecodedImage(pixels=crop, format="JPEG")
    details = detect_faces(engine, image, attributes=["ALL"])["FaceDetails"]
    boxes = np.array(
        [
            [
                d["BoundingBox"]["Left"] * width,
                d["BoundingBox"]["Top"] * height,
                (d["BoundingBox"]["Left"] + d["BoundingBox"]["Width"]) * width,
                (d["BoundingBox"]["Top"] + d["BoundingBox"]["Height"]) * height,
            ]
            for d in details
        ]
    ).reshape(-1, 4)
    ious = [visible_iou(b[None], inside, width, height) for b in boxes]
    assert ious and max(ious) >= 0.5
    face = details[int(np.argmax(ious))]["BoundingBox"]
    past = {
        "left": -face["Left"],
        "top": -face["Top"],
        "right": face["Left"] + face["Width"] - 1,
        "bottom": face["Top"] + face["Height"] - 1,
    }[edge]
    assert past > 0  # not clipped: the box crosses the edge (SCRFD extends it only part of the way)
    assert len(details[int(np.argmax(ious))]["Landmarks"]) == 30


def test_a_face_just_inside_the_edge_has_no_mirrored_twin(engine) -> None:
    """The mirrored border shows a face 3 px from the edge twice; only the real one may be returned."""
    twins, found, total = 0, 0, 0
    for bgr, box in faces():
        for edge in EDGES:
            w, h = box[2] - box[0], box[3] - box[1]
            crop, inside = cut(bgr, box, edge, -3 / (w if edge in ("left", "right") else h))
            height, width = crop.shape[:2]
            if edge in ("left", "top") and inside[EDGES.index(edge) % 2] < 2:
                continue  # the photograph has no room on that side
            total += 1
            boxes = engine.detections(DecodedImage(pixels=crop, format="JPEG"), max_faces=None).boxes
            found += visible_iou(boxes, inside, width, height) >= 0.5
            mirror = inside.copy()
            if edge == "left":
                mirror[[0, 2]] = -inside[[2, 0]]
            elif edge == "top":
                mirror[[1, 3]] = -inside[[3, 1]]
            elif edge == "right":
                mirror[[0, 2]] = 2 * width - inside[[2, 0]]
            else:
                mirror[[1, 3]] = 2 * height - inside[[3, 1]]
            twins += int(len(boxes) > 0 and (iou_matrix(boxes, mirror[None]) > 0.3).any())
    assert total >= 90
    assert twins == 0
    assert found >= 0.95 * total


def test_passes_carry_the_borders() -> None:
    runs = plan_passes(2560, 1440)
    assert [r.border for r in runs] == [HALF_EDGE_BORDER, EDGE_BORDER, EDGE_BORDER]
    assert all(r.fill == "reflect" for r in runs)
    assert [r.border for r in plan_passes(2560, 1440, borders=False)] == [0, 0, 0]
