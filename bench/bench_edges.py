"""Faces cut off at the frame edge: recall by cut fraction, face size and edge, on annotated real faces.

    .venv/bin/python bench/bench_edges.py [--canvases 2 4 6 8] [--seed 11] [--variants] [--out FILE.md]

Crowd selfies cut faces at the frame edge. There is no annotated set of such photos in shared/data, so two are
built at run time, deterministically (nothing derived is written to the repository):

1. Pasted faces. The hand-annotated faces of dlib's ``training.xml`` and ``testing.xml``, cut out with a
   margin of 30 % of their box (as bench_crowd.py does), scaled to one of four size bands and pasted along the
   edges of real photographs with no human face (bench_crowd.py's backgrounds, resized to the canvas), so that
   a known fraction of each face box lies outside the frame: 20 %, 35 % or 50 % of its width (left and right
   edges) or height (top and bottom), or none (the face inside, 2-6 px from the edge). Each canvas uses two
   opposite edges (left and right, or top and bottom, alternately), so no face sits in a corner and no two
   overlap. Bands: crowd faces 14-24 px high on 2560x1440, group 40-64 px on 1280x720, selfie 100-180 px on
   1280x720, portrait 200-320 px on 1280x960 (the last two use only the dlib faces of 63 / 76 px or more, so
   none is enlarged more than ~4x). Unmatched detections are split by where their centre lies: on a pasted
   patch (a neighbour's face in the patch's margin, which upstream did not annotate, or a poor box) or on the
   face-free background (a false face).
2. Real photographs cropped through a face: each annotated face of those photographs in turn, cut by 20, 35
   or 50 % at each edge by cropping the photograph (the rest of it kept).

Ground truth is the visible part of the face box (the annotation clipped to the frame). A detection matches a
truth box when the detection, also clipped to the frame, overlaps it at IoU >= 0.5 (greedy in score order, as
``regard evaluate detection``). Clipping both compares what can be seen: a detector may return the face's
whole extent (Rekognition's BoundingBox may go below 0 or above 1 for a face cut by the frame; Regard's is not
clipped either) or only the visible part, and neither is penalised, while a centre-in-box rule would reject a
well extrapolated box whose centre lies outside the frame and accept loose ones. "extent IoU" is the median
IoU of the matched detections, unclipped, with the whole annotated box: how far boxes reach past the edge.

Compared in one run, on the same images: Regard's detector without the mirrored borders (as it was), Regard as
it is now (``detection.plan_passes``: 4 px around the 320 pass, 8 px around the others, reflected), and
insightface's SCRFD ``detect`` at 640 and 1280 (same ONNX file, its square letterbox). ``--variants`` adds the
other border widths and fills that were tried. Also reported: bench_crowd.py's crowd set (extra detections
must not rise), faces found on yaoming.jpg (1), dogs.jpg (0), rotate/rot_180.jpg (0: Regard does not return
upside-down faces), players.jpg and face_recognition's two ``obama_partial_face*.jpg``, and DetectFaces
DEFAULT's body on players.jpg and on a 640x360 video frame with and without the borders, interleaved.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from bench_crowd import BACKGROUNDS, build_crowd_set, counts_table, face_patches, publish
from bench_crowd import evaluate as crowd_evaluate
from shared_data import ROOT, shared_data

from regard.evaluation.detection import EDGES, crop_through, parse_dlib_xml
from regard.evaluation.metrics import iou_matrix, match_detections
from regard.service.faces import face_detail
from regard.vision.detection import HALF_SIDE, Pass, plan_passes
from regard.vision.engine import FaceEngine
from regard.vision.image import DecodedImage, read_image_file
from regard.vision.video import VideoReader

CUTS = (0.0, 0.2, 0.35, 0.5)
GAP = (2, 6)
"""A face "inside" sits this many pixels from the edge."""


@dataclass(frozen=True)
class Band:
    name: str
    canvas: tuple[int, int]
    heights: tuple[float, float]
    min_source: float  # smallest annotated face height used (limits enlargement)


BANDS = (
    Band("crowd 14-24 px", (2560, 1440), (14.0, 24.0), 0.0),
    Band("group 40-64 px", (1280, 720), (40.0, 64.0), 37.0),
    Band("selfie 100-180 px", (1280, 720), (100.0, 180.0), 63.0),
    Band("portrait 200-320 px", (1280, 960), (200.0, 320.0), 76.0),
)

VARIANTS = (
    (0, 8, "reflect"),
    (32, 8, "reflect"),
    (4, 16, "reflect"),
    (4, 8, "black"),
    (4, 8, "grey"),
    (4, 8, "replicate"),
)
"""Other (320-pass border, other passes' border, fill) tried with ``--variants``."""

NOTES = """Reading: mirroring the frame's edge (reflect) is what works; black, grey or replicated borders of
the same width find far fewer cut faces, because the reflected visible half of a face reads as a whole face.
The top edge stays the hardest (a face cut from the top loses its eyes). A 32 px border on the 320 pass finds
every large face cut in half here, but also the upside-down face of rotate/rot_180.jpg (score 0.51, keypoints
upside down), which Regard does not return, so that pass gets 4 px. The selfie and portrait bands are small
(about 9 faces per cut fraction): read them as direction, not as precise rates. The extra detections on
the pasted sets that were inspected by eye are faces too (neighbours in the patches' margins); the default
puts none on the face-free backgrounds. On the real crops, "unmatched elsewhere" counts the same unannotated
background people once per crop of their photograph."""

Detector = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class Canvas:
    bgr: np.ndarray
    truth: np.ndarray  # (n, 4) whole face boxes, may extend past the frame
    cut: np.ndarray  # (n,) fraction outside
    edge: np.ndarray  # (n,) index into EDGES
    patches: np.ndarray  # (n, 4) the pasted rectangles, clipped to the frame
    ignore: np.ndarray | None = None  # (n,) boxes marked ignore upstream (real photographs)


def clip(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.clip(boxes, 0, [width, height, width, height])


def build_edge_set(data: Path, band: Band, count: int, seed: int, start: int) -> list[Canvas]:
    """``count`` canvases of ``band`` with faces along two opposite edges (left and right, then top and
    bottom, alternately, so that faces on two edges never meet), cut fractions cycling through CUTS."""
    rng = np.random.default_rng(seed)
    patches = [(p, b) for p, b in face_patches(data) if b[3] - b[1] >= band.min_source]
    width, height = band.canvas
    out = []
    for index in range(count):
        background = read_image_file(data / BACKGROUNDS[(start + index) % len(BACKGROUNDS)]).pixels
        bgr = cv2.resize(background, band.canvas, interpolation=cv2.INTER_CUBIC)
        if (start + index) // len(BACKGROUNDS) % 2:
            bgr = np.ascontiguousarray(bgr[:, ::-1])
        corner = 8  # no face in a corner: each is cut by one edge only
        truth, cuts, edges, pasted = [], [], [], []
        for edge_index, edge in enumerate(EDGES):
            if edge_index % 2 != index % 2:
                continue
            along = height if edge in ("left", "right") else width
            position = corner + int(rng.integers(0, 24))
            slot = index * 7 + edge_index  # vary which cut comes first
            while True:
                patch, box = patches[int(rng.integers(len(patches)))]
                scale = rng.uniform(*band.heights) / (box[3] - box[1])
                small = cv2.resize(
                    patch,
                    (max(1, round(patch.shape[1] * scale)), max(1, round(patch.shape[0] * scale))),
                    interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC,
                )
                face = box * scale
                h, w = small.shape[:2]
                length = h if edge in ("left", "right") else w
                if position + length > along - corner:
                    break
                cut = CUTS[slot % len(CUTS)]
                slot += 1
                inset = 0.0 if cut else float(rng.integers(*GAP))
                fw, fh = face[2] - face[0], face[3] - face[1]
                if edge == "left":
                    x, y = -cut * fw + inset - face[0], position
                elif edge == "right":
                    x, y = width + cut * fw - inset - face[2], position
                elif edge == "top":
                    x, y = position, -cut * fh + inset - face[1]
                else:
                    x, y = position, height + cut * fh - inset - face[3]
                x, y = round(x), round(y)
                x1, y1, x2, y2 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
                bgr[y1:y2, x1:x2] = small[y1 - y : y2 - y, x1 - x : x2 - x]
                truth.append(face + np.array([x, y, x, y]))
                pasted.append((x1, y1, x2, y2))
                cuts.append(cut)
                edges.append(edge_index)
                position += length + int(rng.integers(12, 40))
        out.append(
            Canvas(
                bgr,
                np.asarray(truth).reshape(-1, 4),
                np.asarray(cuts),
                np.asarray(edges),
                np.asarray(pasted, np.float64).reshape(-1, 4),
            )
        )
    return out


@dataclass
class Score:
    hit: np.ndarray
    cut: np.ndarray
    edge: np.ndarray
    extent: list[float]
    extra: int  # unmatched, centre on a pasted patch: an unannotated neighbour in its margin, or a poor box
    false: int  # unmatched, centre on the face-free background: a false face
    ms: list[float]


def score(detector: Detector, canvases: list[Canvas]) -> Score:
    hits, cuts, edges, extent, extra, false, times = [], [], [], [], 0, 0, []
    for canvas in canvases:
        height, width = canvas.bgr.shape[:2]
        start = time.perf_counter()
        boxes, scores = detector(canvas.bgr)
        times.append((time.perf_counter() - start) * 1000)
        visible = clip(canvas.truth, width, height)
        d2t, status = match_detections(visible, clip(np.asarray(boxes, np.float64), width, height), scores)
        centres = (boxes[status == 0, :2] + boxes[status == 0, 2:]) / 2
        p = canvas.patches
        on_patch = (
            (centres[:, None, 0] >= p[:, 0])
            & (centres[:, None, 0] < p[:, 2])
            & (centres[:, None, 1] >= p[:, 1])
            & (centres[:, None, 1] < p[:, 3])
        ).any(axis=1)
        extra += int(on_patch.sum())
        false += int((~on_patch).sum())
        hit = np.zeros(len(visible), bool)
        hit[d2t[d2t >= 0]] = True
        for d in np.flatnonzero(d2t >= 0):
            extent.append(float(iou_matrix(boxes[d : d + 1], canvas.truth[d2t[d] : d2t[d] + 1])[0, 0]))
        hits.append(hit)
        cuts.append(canvas.cut)
        edges.append(canvas.edge)
    return Score(
        np.concatenate(hits), np.concatenate(cuts), np.concatenate(edges), extent, extra, false, times
    )


def real_crops(data: Path, cuts: tuple[float, ...]) -> list[Canvas]:
    """dlib's annotated photographs cropped so that one face at a time is cut by ``cut`` at one edge (the
    rest of the photograph kept): ``truth[0]`` is that face; the photo's other boxes follow."""
    out = []
    for xml in ("training.xml", "testing.xml"):
        for item in parse_dlib_xml(data / "dlib/faces" / xml, data / "dlib/faces"):
            bgr = read_image_file(item.image).pixels
            for k, (box, ignored) in enumerate(zip(item.boxes, item.ignore, strict=True)):
                if ignored:
                    continue
                for cut in cuts:
                    for e, edge in enumerate(EDGES):
                        crop, offset = crop_through(bgr, box, edge, cut)
                        others = [j for j in range(len(item.boxes)) if j != k]
                        truth = item.boxes[[k, *others]] - offset
                        ignored_upstream = item.ignore[[k, *others]]
                        cut_at, edge_at, none = np.asarray([cut]), np.asarray([e]), np.zeros((0, 4))
                        out.append(Canvas(crop, truth, cut_at, edge_at, none, ignored_upstream))
    return out


def score_crops(detector: Detector, crops: list[Canvas]) -> tuple[np.ndarray, int, int]:
    """(whether each crop's cut face was found, unmatched detections overlapping an annotated face, other
    unmatched detections): IoU >= 0.5 on the clipped boxes; a box less than a third inside its crop, or
    marked ignore upstream, is neither required nor counted against."""
    found, extra, elsewhere = [], 0, 0
    for crop in crops:
        height, width = crop.bgr.shape[:2]
        boxes, scores = detector(crop.bgr)
        visible = clip(crop.truth, width, height)
        area = np.prod(crop.truth[:, 2:] - crop.truth[:, :2], axis=1)
        ignore = (np.prod(visible[:, 2:] - visible[:, :2], axis=1) < area / 3) | crop.ignore
        ignore[0] = False
        d2t, status = match_detections(
            visible, clip(np.asarray(boxes, np.float64), width, height), scores, ignore=ignore
        )
        found.append(bool((d2t == 0).any()))
        unmatched = np.asarray(boxes, np.float64)[status == 0]
        near = (iou_matrix(unmatched, crop.truth) > 0.1).any(axis=1) if len(unmatched) else unmatched[:, 0]
        extra += int(near.sum())
        elsewhere += int(len(unmatched) - near.sum())
    return np.asarray(found), extra, elsewhere


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--canvases", type=int, nargs=len(BANDS), default=[2, 4, 6, 8], metavar="N")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--crowd-images", type=int, default=2, help="bench_crowd.py canvases (150 each)")
    parser.add_argument("--runs", type=int, default=15, help="DetectFaces timing runs on players.jpg")
    parser.add_argument("--variants", action="store_true", help="also the other border widths and fills")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/edges.md")
    args = parser.parse_args()
    from insightface.model_zoo.scrfd import SCRFD

    data = shared_data()
    sets = {
        band.name: build_edge_set(data, band, count, args.seed + i, start=i)
        for i, (band, count) in enumerate(zip(BANDS, args.canvases, strict=True))
    }
    crops = real_crops(data, CUTS[1:])
    engine = FaceEngine()
    scrfd = SCRFD(str(engine.pack.require("detector").path))
    scrfd.prepare(ctx_id=-1, det_thresh=0.5)

    def bordered(half: int, edge: int, fill: str) -> Callable[[int, int], list[Pass]]:
        def plan(width: int, height: int) -> list[Pass]:
            runs = plan_passes(width, height, borders=False)
            return [replace(r, border=half if r.long_side == HALF_SIDE else edge, fill=fill) for r in runs]

        return plan

    def regard(plan: Callable[[int, int], list[Pass]] | None) -> Detector:
        def detect(bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            passes = None if plan is None else plan(bgr.shape[1], bgr.shape[0])
            found = engine.detections(DecodedImage(pixels=bgr, format="PNG"), max_faces=None, passes=passes)
            return found.boxes, found.scores

        return detect

    def theirs(size: int) -> Detector:
        def detect(bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            det, _ = scrfd.detect(bgr, input_size=(size, size))
            return det[:, :4], det[:, 4]

        return detect

    before, after = "Regard, no border (before)", "Regard, default (now)"
    methods: dict[str, Detector] = {before: regard(bordered(0, 0, "reflect"))}
    if args.variants:
        for half, edge, fill in VARIANTS:
            methods[f"Regard, border {half}/{edge} px {fill}"] = regard(bordered(half, edge, fill))
    methods[after] = regard(None)
    methods["insightface 640"] = theirs(640)
    methods["insightface 1280"] = theirs(1280)
    main_methods = (before, after, "insightface 640", "insightface 1280")

    results = {
        band: {name: score(fn, canvases) for name, fn in methods.items()} for band, canvases in sets.items()
    }
    crop_rows = {name: score_crops(methods[name], crops) for name in main_methods}
    crowd = build_crowd_set(data, args.crowd_images, 150, 7)
    crowd_rows = {name: crowd_evaluate(methods[name], crowd) for name in main_methods}
    counts: dict[str, dict[str, int]] = {}
    images = {name: ROOT / "tests/data/vision" / name for name in ("yaoming.jpg", "dogs.jpg", "players.jpg")}
    images["rot_180.jpg"] = ROOT / "tests/data/vision/rotate/rot_180.jpg"
    for name in ("obama_partial_face.jpg", "obama_partial_face2.jpg"):
        images[name] = data / "face_recognition/tests/test_images" / name
    for name, path in images.items():
        bgr = read_image_file(path).pixels
        counts[name] = {label: len(fn(bgr)[0]) for label, fn in methods.items()}
    with VideoReader(ROOT / "tests/data/video/short_hamilton_clip.mp4") as reader:
        frame = DecodedImage(pixels=next(iter(reader.frames(1.0))).pixels, format="VIDEO")
    timings = {}
    for label, image in (
        ("players.jpg", read_image_file(ROOT / "tests/data/vision/players.jpg")),
        ("a 640x360 video frame", frame),
    ):
        timings[label] = interleaved_detect_faces(engine, image, bordered(0, 0, "reflect"), args.runs)
    load = os.getloadavg()
    write_report(args, sets, results, crops, crop_rows, crowd_rows, counts, timings, load, after)


def interleaved_detect_faces(
    engine: FaceEngine, image: DecodedImage, old: Callable[[int, int], list[Pass]], runs: int
) -> tuple[float, float]:
    """Median ms of DetectFaces DEFAULT's body (service.faces.detect_faces: detect, then a FaceDetail per
    face) with the ``old`` passes and with the default ones, run alternately after one warm-up each."""
    old_passes = old(image.width, image.height)

    def timed(passes: list[Pass] | None) -> float:
        start = time.perf_counter()
        [face_detail(face, image) for face in engine.detect(image, passes=passes)]
        return (time.perf_counter() - start) * 1000

    timed(old_passes)
    timed(None)
    before, after = [], []
    for _ in range(runs):
        before.append(timed(old_passes))
        after.append(timed(None))
    return statistics.median(before), statistics.median(after)


def _pct(values: np.ndarray) -> str:
    return f"{values.mean():.3f}" if len(values) else "-"


def write_report(args, sets, results, crops, crop_rows, crowd_rows, counts, timings, load, chosen) -> None:
    faces = {band: sum(len(c.truth) for c in canvases) for band, canvases in sets.items()}
    lines = [
        "# Faces cut off at the frame edge: recall by cut fraction, size and edge",
        "",
        f"Command: `.venv/bin/python bench/bench_edges.py --canvases {' '.join(map(str, args.canvases))} "
        f"--seed {args.seed} --crowd-images {args.crowd_images} --runs {args.runs}"
        f"{' --variants' if args.variants else ''}`. "
        + ", ".join(f"{band}: {len(sets[band])} canvases, {faces[band]} faces" for band in sets)
        + " (dlib-annotated faces pasted along the edges of face-free real photographs; see the script). "
        "Truth is the visible part of each box; a match is IoU >= 0.5 between it and the detection clipped "
        f"to the frame. {os.cpu_count()} CPUs, no GPU; load average at the end "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}.",
        "",
    ]
    cut_names = ["inside" if c == 0 else f"{c:.0%} out" for c in CUTS]
    for band, by_method in results.items():
        lines += [
            f"## {band}",
            "",
            "| detector | "
            + " | ".join(cut_names)
            + " | all | extent IoU | extra on patches | false on background | median ms |",
            "|---|" + "---:|" * (len(CUTS) + 5),
        ]
        for name, s in by_method.items():
            cells = " | ".join(_pct(s.hit[s.cut == c]) for c in CUTS)
            extent = f"{statistics.median(s.extent):.2f}" if s.extent else "-"
            lines.append(
                f"| {name} | {cells} | {_pct(s.hit)} | {extent} | {s.extra} | {s.false} | "
                f"{statistics.median(s.ms):.0f} |"
            )
        lines.append("")
    lines += [
        "## By edge (all bands, faces cut by 20-50 %)",
        "",
        "| detector | " + " | ".join(EDGES) + " |",
        "|---|" + "---:|" * len(EDGES),
    ]
    for name in next(iter(results.values())):
        cells = []
        for e in range(len(EDGES)):
            hit = np.concatenate(
                [s.hit[(s.edge == e) & (s.cut > 0)] for s in (results[b][name] for b in results)]
            )
            cells.append(_pct(hit))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    cut_edges = np.asarray([c.edge[0] for c in crops])
    cut_of = np.asarray([c.cut[0] for c in crops])
    lines += [
        "",
        f"## Real photographs cropped through a face ({len(crops)} crops of dlib's annotated photographs)",
        "",
        "Each annotated face in turn is cut at one edge by cropping the photograph (the rest of it kept); "
        "found = that face matched. Unmatched detections match no annotated face of the crop at IoU 0.5: "
        "'near' ones overlap an annotated face (often a neighbour cut by the same crop, its box not fitting "
        "the visible part), 'elsewhere' ones do not (a false face, or a face upstream did not annotate).",
        "",
        "| detector | "
        + " | ".join(f"{c:.0%} out" for c in CUTS[1:])
        + " | "
        + " | ".join(EDGES)
        + " | all | unmatched near | unmatched elsewhere |",
        "|---|" + "---:|" * (len(CUTS) - 1 + len(EDGES) + 3),
    ]
    for name, (found, near, elsewhere) in crop_rows.items():
        cells = [_pct(found[cut_of == c]) for c in CUTS[1:]] + [
            _pct(found[cut_edges == e]) for e in range(len(EDGES))
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {_pct(found)} | {near} | {elsewhere} |")
    lines += [
        "",
        f"## bench_crowd.py's crowd set ({args.crowd_images} canvases, seed 7): small faces inside the frame",
        "",
        "| detector | 10-14 px | 14-18 px | 18-24 px | all | extra detections |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in crowd_rows.items():
        lines.append(
            f"| {name} | {row['10-14 px']:.3f} | {row['14-18 px']:.3f} | {row['18-24 px']:.3f} | "
            f"{row['all']:.3f} | {int(row['extra'])} |"
        )
    lines += counts_table(counts)
    lines += [
        "",
        f"DetectFaces DEFAULT's body (detect + FaceDetail), {args.runs} runs each, interleaved:",
        "",
    ]
    for label, (b, a) in timings.items():
        lines.append(f"- {label}: no border {b:.0f} ms, {chosen} {a:.0f} ms median; ratio {a / b:.3f}.")
    lines += ["", *NOTES.splitlines()]
    publish(args.out, lines)


if __name__ == "__main__":
    main()
