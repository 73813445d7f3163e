"""Face detection against hand-drawn boxes: recall, precision, average precision, per face-size band.

Annotation formats read:

- dlib / imglab XML (``<image file=...><box top= left= width= height= [ignore='1']/>``), parsed with
  defusedxml;
- WIDER FACE box lists: an image path line, a count line, then one ``x y w h [blur expression illumination
  invalid occlusion pose]`` line per face (a count of 0 is followed by one line of zeros). Boxes flagged
  ``invalid`` are treated as "ignore" regions.

A detection is a true positive when it overlaps a not-yet-matched box by IoU >= 0.5 (greedy, in decreasing
detector score, as in PASCAL VOC). Detections over "ignore" boxes count neither way. A face's size is the
height of its annotated box; a detection that matched nothing is banded by its own height.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from regard.evaluation import metrics

SIZE_BANDS: tuple[tuple[str, float, float], ...] = (
    ("<32", 0.0, 32.0),
    ("32-64", 32.0, 64.0),
    ("64-128", 64.0, 128.0),
    (">128", 128.0, float("inf")),
)


@dataclass
class Annotated:
    """Truth boxes ``[x1, y1, x2, y2]`` for one image, with an ignore flag per box."""

    image: Path
    boxes: NDArray[np.float64]
    ignore: NDArray[np.bool_]


@dataclass
class Detected:
    boxes: NDArray[np.float64]
    scores: NDArray[np.float64]
    error: str | None = None


@dataclass
class ImageResult:
    annotated: Annotated
    detected: Detected
    status: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    det_to_truth: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def missed(self) -> NDArray[np.bool_]:
        found = np.zeros(len(self.annotated.boxes), bool)
        found[self.det_to_truth[self.det_to_truth >= 0]] = True
        return ~found & ~self.annotated.ignore


# ----------------------------------------------------------------------------------------------------
# Parsing


def load_annotations(path: Path, images: Path) -> list[Annotated]:
    """Read dlib XML (``.xml``) or a WIDER FACE box list (anything else); image paths resolve under
    ``images``."""
    path = Path(path)
    if path.suffix.lower() == ".xml":
        return parse_dlib_xml(path, images)
    return parse_wider(path, images)


def parse_dlib_xml(path: Path, images: Path) -> list[Annotated]:
    from defusedxml import ElementTree

    root = ElementTree.parse(str(path)).getroot()
    out = []
    for node in root.iter("image"):
        boxes, ignore = [], []
        for box in node.findall("box"):
            top, left = float(box.get("top", 0)), float(box.get("left", 0))
            width, height = float(box.get("width", 0)), float(box.get("height", 0))
            boxes.append([left, top, left + width, top + height])
            ignore.append(box.get("ignore", "0").strip() not in ("0", "", "false"))
        out.append(
            Annotated(
                Path(images) / node.get("file", ""),
                np.asarray(boxes, np.float64).reshape(-1, 4),
                np.asarray(ignore, bool),
            )
        )
    return out


def parse_wider(path: Path, images: Path) -> list[Annotated]:
    lines = [ln.strip() for ln in Path(path).read_text(encoding="utf-8").splitlines()]
    lines = [ln for ln in lines if ln]
    out = []
    i = 0
    while i < len(lines):
        name = lines[i]
        try:
            count = int(lines[i + 1])
        except (IndexError, ValueError):
            raise ValueError(f"{path}: expected a face count after {name!r} (line {i + 2})") from None
        i += 2
        boxes, ignore = [], []
        if count == 0:
            if i < len(lines) and _is_zero_row(lines[i]):
                i += 1
        else:
            for row in lines[i : i + count]:
                values = [float(v) for v in row.split()]
                x, y, w, h = values[:4]
                boxes.append([x, y, x + w, y + h])
                invalid = len(values) > 7 and values[7] != 0
                ignore.append(invalid or w <= 0 or h <= 0)
            i += count
        out.append(
            Annotated(
                Path(images) / name, np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(ignore, bool)
            )
        )
    return out


EDGES = ("left", "top", "right", "bottom")


def crop_through(
    bgr: NDArray[np.uint8], box: NDArray[np.floating], edge: str, fraction: float
) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
    """The photograph cropped at one ``edge`` (one of EDGES) so that ``fraction`` of the face ``box`` lies
    past it, the rest of the photograph kept (a negative fraction leaves the face that many box sizes inside);
    returns the crop and the offset ``[x1, y1, x1, y1]`` to subtract from boxes. For measuring faces cut off
    by the frame on real photographs (bench/bench_edges.py, tests/vision/test_edges.py)."""
    height, width = bgr.shape[:2]
    x1, y1, x2, y2 = 0, 0, width, height
    w, h = box[2] - box[0], box[3] - box[1]
    if edge == "left":
        x1 = max(round(box[0] + fraction * w), 0)
    elif edge == "right":
        x2 = round(box[2] - fraction * w)
    elif edge == "top":
        y1 = max(round(box[1] + fraction * h), 0)
    elif edge == "bottom":
        y2 = round(box[3] - fraction * h)
    else:
        raise ValueError(f"edge must be one of {EDGES}, got {edge!r}")
    return np.ascontiguousarray(bgr[y1:y2, x1:x2]), np.array([x1, y1, x1, y1], np.float64)


def _is_zero_row(row: str) -> bool:
    try:
        return all(float(v) == 0 for v in row.split()) and len(row.split()) >= 4
    except ValueError:
        return False


# ----------------------------------------------------------------------------------------------------
# Running a detector


Detector = Callable[[Path], Detected]


def engine_detector(engine: Any, max_faces: int = 100) -> Detector:
    from regard.errors import RegardError
    from regard.vision.image import read_image_file

    def detect(path: Path) -> Detected:
        try:
            image = read_image_file(path)
        except FileNotFoundError:
            return Detected(np.zeros((0, 4)), np.zeros(0), "missing file")
        except RegardError as exc:
            return Detected(np.zeros((0, 4)), np.zeros(0), f"{exc.code}: {exc.message}")
        if hasattr(engine, "detections"):  # boxes and scores only: no landmarks, pose or quality
            found = engine.detections(image, max_faces=max_faces)
            boxes = np.asarray(found.boxes, np.float64).reshape(-1, 4)
            scores = np.asarray(found.scores, np.float64).reshape(-1)
        else:
            faces = engine.detect(image, max_faces=max_faces)
            boxes = np.asarray([np.asarray(f.box, np.float64) for f in faces], np.float64).reshape(-1, 4)
            scores = np.asarray([float(f.score) for f in faces], np.float64)
        return Detected(boxes, scores)

    return detect


def run(
    annotations: Sequence[Annotated], detector: Detector, iou_threshold: float = 0.5
) -> list[ImageResult]:
    results = []
    for item in annotations:
        det = detector(item.image)
        d2t, status = metrics.match_detections(item.boxes, det.boxes, det.scores, iou_threshold, item.ignore)
        results.append(ImageResult(item, det, status, d2t))
    return results


def _band(height: float) -> str:
    for name, lo, hi in SIZE_BANDS:
        if lo <= height < hi:
            return name
    return SIZE_BANDS[-1][0]


def report(
    results: Sequence[ImageResult], iou_threshold: float = 0.5
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(JSON-ready figures, curve data for plotting)."""
    all_scores, all_true = [], []
    band_truth: dict[str, int] = {b[0]: 0 for b in SIZE_BANDS}
    band_found: dict[str, int] = {b[0]: 0 for b in SIZE_BANDS}
    band_tp: dict[str, int] = {b[0]: 0 for b in SIZE_BANDS}
    band_fp: dict[str, int] = {b[0]: 0 for b in SIZE_BANDS}
    n_truth = n_tp = n_fp = 0
    failures = []
    per_image = []
    for r in results:
        a, d = r.annotated, r.detected
        if d.error:
            failures.append({"image": str(a.image), "reason": d.error})
        heights = a.boxes[:, 3] - a.boxes[:, 1]
        valid = ~a.ignore
        n_truth += int(valid.sum())
        for h in heights[valid]:
            band_truth[_band(float(h))] += 1
        counted = r.status >= 0
        all_scores.extend(d.scores[counted].tolist())
        all_true.extend((r.status[counted] == 1).tolist())
        tp = int(np.count_nonzero(r.status == 1))
        fp = int(np.count_nonzero(r.status == 0))
        n_tp += tp
        n_fp += fp
        for k, s in enumerate(r.status):
            if s == 1:
                band = _band(float(heights[r.det_to_truth[k]]))
                band_found[band] += 1
                band_tp[band] += 1
            elif s == 0:
                band_fp[_band(float(d.boxes[k, 3] - d.boxes[k, 1]))] += 1
        per_image.append(
            {
                "image": str(a.image),
                "truth": int(valid.sum()),
                "detections": len(d.scores),
                "true_positives": tp,
                "false_positives": fp,
                "missed": int(r.missed.sum()),
            }
        )
    ap, recall_curve, precision_curve = metrics.average_precision(all_scores, all_true, n_truth)
    bands = {}
    for name, _, _ in SIZE_BANDS:
        bands[name] = {
            "faces": band_truth[name],
            "recall": metrics.Rate.of(band_found[name], band_truth[name]).to_dict()
            if band_truth[name]
            else None,
            "precision": metrics.Rate.of(band_tp[name], band_tp[name] + band_fp[name]).to_dict()
            if band_tp[name] + band_fp[name]
            else None,
            "false_positives": band_fp[name],
        }
    figures = {
        "iou_threshold": iou_threshold,
        "images": len(results),
        "faces": n_truth,
        "ignored_boxes": int(sum(int(r.annotated.ignore.sum()) for r in results)),
        "detections": n_tp + n_fp,
        "true_positives": n_tp,
        "false_positives": n_fp,
        "missed": n_truth - n_tp,
        "recall": metrics.Rate.of(n_tp, n_truth).to_dict() if n_truth else None,
        "precision": metrics.Rate.of(n_tp, n_tp + n_fp).to_dict() if n_tp + n_fp else None,
        "average_precision": ap,
        "size_bands": bands,
        "size_measure": "height of the annotated box in pixels (unmatched detections: their own height)",
        "unreadable_images": failures,
        "per_image": per_image,
    }
    return figures, {"recall": recall_curve, "precision": precision_curve, "ap": ap}


def draw_misses(results: Sequence[ImageResult], out_dir: Path) -> list[Path]:
    """Write a copy of every image with a missed face or a false positive: truth boxes found in green, missed
    in red, false positives in blue (ignored regions in grey)."""
    import cv2

    from regard.errors import RegardError
    from regard.vision.image import read_image_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for r in results:
        missed = r.missed
        false_pos = r.status == 0
        if not missed.any() and not false_pos.any():
            continue
        try:
            canvas = read_image_file(r.annotated.image).pixels.copy()
        except (OSError, RegardError):
            continue
        for k, box in enumerate(r.annotated.boxes):
            colour = (160, 160, 160) if r.annotated.ignore[k] else (0, 0, 255) if missed[k] else (0, 200, 0)
            _rect(cv2, canvas, box, colour)
        for k in np.flatnonzero(false_pos):
            _rect(cv2, canvas, r.detected.boxes[k], (255, 80, 0))
            x1, y1 = int(r.detected.boxes[k][0]), int(r.detected.boxes[k][1])
            cv2.putText(
                canvas,
                f"{r.detected.scores[k]:.2f}",
                (x1, max(y1 - 3, 10)),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.4,
                (255, 80, 0),
                1,
                cv2.LINE_AA,
            )
        path = out_dir / f"{r.annotated.image.stem}_misses.png"
        cv2.imwrite(str(path), canvas)
        written.append(path)
    return written


def _rect(
    cv2: Any, canvas: NDArray[np.uint8], box: NDArray[np.float64], colour: tuple[int, int, int]
) -> None:
    x1, y1, x2, y2 = (round(float(v)) for v in box)
    cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, 2)
