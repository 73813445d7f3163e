"""SCRFD face detection: letterbox, decode anchors, merge passes at several input sizes, one NMS.

One input size cannot serve every photo: at 640 px a crowd's faces shrink below what SCRFD finds (players.jpg:
22 faces at 640, 113 at 1280), while upscaling a close-up makes its face larger than the biggest anchors
(yaoming.jpg: found at 640, lost at 1280). So the detector runs a 640 pass always, a small pass for faces that
fill the frame, and, for images larger than ~800 px, a pass at native resolution (up to 2560 px on the long
side, in tiles of at most 1280 px so memory stays bounded); each pass keeps the face sizes it is good at, and
one NMS merges them (bench/bench_engine.py measures the cost). The native pass is what finds faces 10-24 px
high in large crowd photos: at 1280 px a 2560 px photo's 16 px face is 8 px, below SCRFD's smallest anchors
(bench/bench_crowd.py: recall by face size on a synthetic crowd set, against insightface at 640 and 1280).
The canvas keeps the image's aspect ratio (rounded up to a multiple of 32) instead of a padded square: the
same faces for fewer pixels.

Faces cut off by the frame (crowd selfies) are found by mirroring a thin border around the image before each
pass (``Pass.border``): the visible part of a cut face, reflected, reads as a face again, and anchors centred
beyond the frame exist. Boxes are not clipped: a cut face's box runs past the frame, part of the way
(Rekognition's BoundingBox may be below 0 or above 1 there too); a box less than a third inside the frame is
dropped (the mirror image of a face near the edge). bench/bench_edges.py measures recall by cut fraction, size
and edge against insightface; other fills (black, grey, replicate) found fewer cut faces there (the widths:
see EDGE_BORDER and HALF_EDGE_BORDER).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from numpy.typing import NDArray

from regard.vision.packs import Normalisation
from regard.vision.runtimes import CompiledModel

F32 = NDArray[np.float32]

SCORE_THRESHOLD = 0.5
NMS_THRESHOLD = 0.4
BASE_SIDE = 640
HALF_SIDE = 320
LARGE_SIDE_MAX = 2560
"""The near-native pass never runs above this long side (a 4000 px photo is scaled to 2560)."""
TILE_SIDE = 1280
TILE_OVERLAP = 160
"""Canvases longer than TILE_SIDE run in overlapping tiles; a face is kept by the tile whose core (the tile
minus half the overlap on inner edges) holds its centre. The near-native pass only contributes faces under
32 px at 640, i.e. at most 128 px in a 2560 px image: less than the overlap, so every such face is whole in
the tile that keeps it."""
LARGE_TRIGGER = 800
"""Images whose long side exceeds this get a near-native pass (at 640 their small faces fall below ~16 px)."""

BIG_FACE_AT_BASE = 80.0
"""The 320 pass owns faces from this size up (in 640-pass pixels): there a big face is 40 px or more, the size
SCRFD scores best, and a large non-face pattern (dogs.jpg) scores low, while at 640 it passes 0.5.
"""

MID_FACE_AT_BASE = 112.0
"""The 640 pass contributes faces under this size; from 80 to 112 both passes do, and NMS keeps the best."""

SMALL_FACE_AT_BASE = 28.0
"""With a near-native pass, it contributes faces under 32 px (640-pass pixels), the 640 pass those over 28."""

EDGE_BORDER = 8
"""Mirrored border (pass pixels) around the 640 and native passes (+5 % pixels on players.jpg); 16 px found
a few more cut faces but also 2 on the face-free backgrounds of bench_edges.py, for more pixels."""
HALF_EDGE_BORDER = 4
"""The 320 pass's border (8 px at the 640 pass's scale). Wider ones find more large faces cut by half
(bench_edges.py) but also, at 0.51, the upside-down face of rotate/rot_180.jpg with its keypoints upside down,
which Regard does not return (test_detection.py)."""
MIN_VISIBLE = 1 / 3
"""A detection with less of its box inside the frame is dropped (see the module docstring)."""
EDGE_FILLS = {
    "reflect": {"borderType": cv2.BORDER_REFLECT_101},
    "black": {"borderType": cv2.BORDER_CONSTANT, "value": (0, 0, 0)},
    "grey": {"borderType": cv2.BORDER_CONSTANT, "value": (128, 128, 128)},
    "replicate": {"borderType": cv2.BORDER_REPLICATE},
}


@dataclass(frozen=True, slots=True)
class Detections:
    """Boxes ``(n, 4)`` x1 y1 x2 y2, scores ``(n,)`` 0-1 and keypoints ``(n, 5, 2)``, in image pixels."""

    boxes: F32
    scores: F32
    keypoints: F32

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0, 5, 2), np.float32))

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def take(self, index: NDArray[np.intp]) -> Detections:
        return Detections(self.boxes[index], self.scores[index], self.keypoints[index])

    @classmethod
    def concat(cls, parts: list[Detections]) -> Detections:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.boxes for p in parts]),
            np.concatenate([p.scores for p in parts]),
            np.concatenate([p.keypoints for p in parts]),
        )


@dataclass(frozen=True, slots=True)
class Pass:
    """One detector run: the long side of its canvas and the face sizes (in 640-pass px) it contributes.

    ``square`` letterboxes into a ``long_side`` square as InsightFace does (the benchmark compares identical
    inputs with it); by default the canvas keeps the image's aspect ratio, rounded up to multiples of 32.
    ``border`` pixels of the scaled image, filled as ``fill`` (a key of EDGE_FILLS), surround it (not square).
    """

    long_side: int
    min_face: float = 0.0
    max_face: float = float("inf")
    square: bool = False
    border: int = 0
    fill: str = "reflect"


def plan_passes(width: int, height: int, *, borders: bool = True) -> list[Pass]:
    """The input sizes for an image of this size (see the module docstring for why); ``borders=False``
    leaves out the mirrored borders (benchmarks compare with it)."""
    long_side = max(width, height)
    half, edge = (HALF_EDGE_BORDER, EDGE_BORDER) if borders else (0, 0)
    passes = [
        Pass(HALF_SIDE, min_face=BIG_FACE_AT_BASE, border=half),
        Pass(BASE_SIDE, max_face=MID_FACE_AT_BASE, border=edge),
    ]
    if long_side > LARGE_TRIGGER:
        large = min(_round32(long_side), LARGE_SIDE_MAX)
        passes[1] = Pass(BASE_SIDE, min_face=SMALL_FACE_AT_BASE, max_face=MID_FACE_AT_BASE, border=edge)
        passes.append(Pass(large, max_face=32.0, border=edge))
    return passes


class ScrfdDetector:
    """An SCRFD model (3 strides x 2 anchors, or 5 strides x 1 anchor) with 5 keypoints."""

    def __init__(
        self,
        session: CompiledModel,
        normalisation: Normalisation,
        *,
        strides: int = 3,
        score_threshold: float = SCORE_THRESHOLD,
        nms_threshold: float = NMS_THRESHOLD,
    ) -> None:
        self._session = session
        self._norm = normalisation
        self._strides = (8, 16, 32) if strides == 3 else (8, 16, 32, 64, 128)
        self._anchors = 2 if strides == 3 else 1
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold

    def detect(self, bgr: NDArray[np.uint8], passes: list[Pass] | None = None) -> Detections:
        """All faces in a BGR image, merged over ``passes`` (default: ``plan_passes``) with one NMS."""
        height, width = bgr.shape[:2]
        passes = passes if passes is not None else plan_passes(width, height)
        base_scale = BASE_SIDE / max(width, height)
        parts = []
        for run in passes:
            found = self.run(bgr, run.long_side, square=run.square, border=run.border, fill=run.fill)
            if run.min_face > 0 or run.max_face < float("inf"):
                side = np.maximum(
                    found.boxes[:, 2] - found.boxes[:, 0], found.boxes[:, 3] - found.boxes[:, 1]
                )
                side = side * base_scale
                found = found.take(np.flatnonzero((side >= run.min_face) & (side < run.max_face)))
            parts.append(found)
        return self.nms(Detections.concat(parts))

    def run(
        self,
        bgr: NDArray[np.uint8],
        long_side: int,
        *,
        square: bool = False,
        border: int = 0,
        fill: str = "reflect",
    ) -> Detections:
        """One pass: the image scaled so its long side is ``long_side`` (bilinear, as SCRFD's reference
        pipeline resizes), inside ``border`` pixels filled as ``fill`` (not with ``square``), top-left on a
        zero canvas padded to multiples of 32 (or square).
        """
        height, width = bgr.shape[:2]
        if width >= height:
            new_w, new_h = long_side, max(1, int(long_side * height / width))
        else:
            new_w, new_h = max(1, int(long_side * width / height)), long_side
        scale = new_h / height
        resized = bgr if (new_w, new_h) == (width, height) else cv2.resize(bgr, (new_w, new_h))
        border = 0 if square else border
        if border:
            resized = cv2.copyMakeBorder(resized, border, border, border, border, **EDGE_FILLS[fill])
        if not square and max(new_w, new_h) > TILE_SIDE:
            found = self._run_tiled(resized)
        else:
            found = self._run_canvas(resized, (long_side, long_side) if square else None)
        if border:
            found = _inside_frame(found, border, new_w, new_h)
        if scale != 1.0:
            found = Detections(found.boxes / scale, found.scores, found.keypoints / scale)
        return found

    def _run_canvas(self, resized: NDArray[np.uint8], canvas: tuple[int, int] | None = None) -> Detections:
        """The detector on ``resized`` top-left on a zero canvas (default: padded to multiples of 32)."""
        new_h, new_w = resized.shape[:2]
        canvas_w, canvas_h = canvas if canvas is not None else (_round32(new_w), _round32(new_h))
        padded = cv2.copyMakeBorder(
            resized, 0, canvas_h - new_h, 0, canvas_w - new_w, cv2.BORDER_CONSTANT, value=0
        )
        mean = self._norm.mean
        blob = cv2.dnn.blobFromImage(
            padded, 1.0 / self._norm.std, (canvas_w, canvas_h), (mean, mean, mean), swapRB=True
        )
        outputs = self._session.run(blob)
        return self._decode(outputs, canvas_h, canvas_w)

    def _run_tiled(self, resized: NDArray[np.uint8]) -> Detections:
        """The detector over overlapping tiles of at most TILE_SIDE, one at a time (bounded memory)."""
        height, width = resized.shape[:2]
        parts = []
        (xs, tile_w), (ys, tile_h) = _tiles(width), _tiles(height)
        for y0 in ys:
            for x0 in xs:
                tile = resized[y0 : y0 + tile_h, x0 : x0 + tile_w]
                found = self._run_canvas(np.ascontiguousarray(tile))
                if len(found) == 0:
                    continue
                shift = np.array([x0, y0], np.float32)
                found = Detections(found.boxes + np.tile(shift, 2), found.scores, found.keypoints + shift)
                centre = (found.boxes[:, :2] + found.boxes[:, 2:]) / 2
                low = np.array(
                    [x0 if x0 == 0 else x0 + TILE_OVERLAP / 2, y0 if y0 == 0 else y0 + TILE_OVERLAP / 2]
                )
                high = np.array(
                    [
                        width if x0 == xs[-1] else x0 + tile_w - TILE_OVERLAP / 2,
                        height if y0 == ys[-1] else y0 + tile_h - TILE_OVERLAP / 2,
                    ]
                )
                inside = np.all((centre >= low) & (centre < high), axis=1)
                parts.append(found.take(np.flatnonzero(inside)))
        return Detections.concat(parts)

    def nms(self, found: Detections) -> Detections:
        if len(found) == 0:
            return found
        xywh = np.column_stack([found.boxes[:, :2], found.boxes[:, 2:] - found.boxes[:, :2]])
        keep = cv2.dnn.NMSBoxes(
            xywh.tolist(), found.scores.tolist(), self.score_threshold, self.nms_threshold
        )
        return found.take(np.asarray(keep, dtype=np.intp).reshape(-1))

    def _decode(self, outputs: list[np.ndarray], canvas_h: int, canvas_w: int) -> Detections:
        count = len(self._strides)
        boxes, scores, points = [], [], []
        for i, stride in enumerate(self._strides):
            score = outputs[i].reshape(-1)
            keep = np.flatnonzero(score >= self.score_threshold)
            if keep.size == 0:
                continue
            centres = anchor_centres(canvas_h // stride, canvas_w // stride, stride, self._anchors)[keep]
            distance = outputs[i + count].reshape(-1, 4)[keep] * stride
            offsets = outputs[i + 2 * count].reshape(-1, 10)[keep].reshape(-1, 5, 2) * stride
            boxes.append(np.concatenate([centres - distance[:, :2], centres + distance[:, 2:]], axis=1))
            points.append(centres[:, None, :] + offsets)
            scores.append(score[keep])
        if not scores:
            return Detections.empty()
        return Detections(
            np.concatenate(boxes).astype(np.float32),
            np.concatenate(scores).astype(np.float32),
            np.concatenate(points).astype(np.float32),
        )


@lru_cache(maxsize=100)
def anchor_centres(rows: int, cols: int, stride: int, anchors: int) -> F32:
    """Anchor centres (x, y) in canvas pixels, row-major, each repeated ``anchors`` times (cached)."""
    ys, xs = np.mgrid[:rows, :cols]
    centres = (np.stack([xs, ys], axis=-1).reshape(-1, 2) * stride).astype(np.float32)
    if anchors > 1:
        centres = np.repeat(centres, anchors, axis=0)
    centres.setflags(write=False)
    return centres


def largest_first(found: Detections, max_faces: int | None) -> Detections:
    """Sorted by box area, largest first (Rekognition's order), cut to ``max_faces`` (None: all)."""
    area = (found.boxes[:, 2] - found.boxes[:, 0]) * (found.boxes[:, 3] - found.boxes[:, 1])
    order = np.argsort(-area, kind="stable")
    if max_faces is not None:
        order = order[:max_faces]
    return found.take(order)


def _inside_frame(found: Detections, border: int, width: int, height: int) -> Detections:
    """Detections on a bordered canvas moved back to the ``width`` x ``height`` frame's coordinates, without
    those less than MIN_VISIBLE inside it."""
    shift = np.float32(border)
    boxes, keypoints = found.boxes - shift, found.keypoints - shift
    inside = np.clip(boxes, 0, [width, height, width, height])
    area = np.maximum(boxes[:, 2] - boxes[:, 0], 1e-6) * np.maximum(boxes[:, 3] - boxes[:, 1], 1e-6)
    visible = (inside[:, 2] - inside[:, 0]) * (inside[:, 3] - inside[:, 1]) / area
    keep = np.flatnonzero(visible >= MIN_VISIBLE)
    return Detections(boxes[keep], found.scores[keep], keypoints[keep])


def _tiles(length: int) -> tuple[list[int], int]:
    """Tile origins and tile length along one axis: as few tiles of at most TILE_SIDE as cover ``length``
    with TILE_OVERLAP between neighbours, all the same length (so the pixels run are close to the image's).
    """
    if length <= TILE_SIDE:
        return [0], length
    count = int(np.ceil((length - TILE_OVERLAP) / (TILE_SIDE - TILE_OVERLAP)))
    size = min(TILE_SIDE, _round32((length + (count - 1) * TILE_OVERLAP) / count))
    return [round(i * (length - size) / (count - 1)) for i in range(count)], size


def _round32(value: float) -> int:
    return int(np.ceil(value / 32.0) * 32)
