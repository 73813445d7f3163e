"""The figures of ``regard evaluate``, for the dlib-based face_recognition library, on the same data.

    .venv/bin/pip install -e '.[bench]' && .venv/bin/pip install --no-deps face-recognition
    .venv/bin/python bench/accuracy_peer.py verification DATA [--root DIR] [--json] [--out DIR]
    .venv/bin/python bench/accuracy_peer.py detection IMAGES ANNOTATIONS [--json] [--out DIR]

Pairs are read, scored and reported by the very code behind ``regard evaluate`` (regard.evaluation); only
the face finder and the embedding change. face_recognition is used through its public API, as its README
shows: ``load_image_file``, ``face_locations`` (HOG, upsample 1, its default), the largest face,
``face_encodings`` (128-d dlib ResNet, 1 jitter) and ``face_distance``. Its distance ``d`` is mapped to a
score ``1 - d``, so "higher means more alike" as for Regard; its documented tolerance 0.6 (``d <= 0.6`` is
a match) is then the score threshold 0.4, and the tolerance 0.5 of its video example the threshold 0.5.
Ranking figures (AUC, EER, TAR at FAR, cross-validated accuracy) do not depend on the mapping.

Detection uses the same HOG detector face_recognition calls (``face_recognition.api.face_detector``),
through dlib's ``run`` so each box has a score for the precision-recall curve (threshold 0, its default).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np

from regard.evaluation import detection, plots, verification

PEER_THRESHOLDS = (0.4, 0.5)
"""Scores ``1 - distance`` for face_recognition's tolerance 0.6 (default) and 0.5."""


def _peer_version() -> str:
    import dlib
    import face_recognition

    return f"face_recognition {face_recognition.__version__} (dlib {dlib.__version__}, HOG + ResNet 128-d)"


def peer_embedder() -> verification.Embedder:
    import face_recognition

    def embed(path: Path) -> tuple[np.ndarray | None, int, str | None]:
        if not path.is_file():
            return None, 0, "missing file"
        try:
            image = face_recognition.load_image_file(str(path))
        except Exception as exc:  # report any decode failure
            return None, 0, f"unreadable: {exc}"
        locations = face_recognition.face_locations(image)
        if not locations:
            return None, 0, "no face found"
        # (top, right, bottom, left): largest by area
        largest = max(locations, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
        encoding = face_recognition.face_encodings(image, known_face_locations=[largest])[0]
        return np.asarray(encoding, np.float32), len(locations), None

    return embed


def peer_score(a: np.ndarray, b: np.ndarray) -> float:
    import face_recognition

    return float(face_recognition.face_distance([a], b)[0])


def peer_detector() -> detection.Detector:
    import face_recognition

    detector = face_recognition.api.face_detector

    def detect(path: Path) -> detection.Detected:
        if not path.is_file():
            return detection.Detected(np.zeros((0, 4)), np.zeros(0), "missing file")
        image = face_recognition.load_image_file(str(path))
        rects, scores, _ = detector.run(image, 1, 0.0)
        boxes = np.asarray([[r.left(), r.top(), r.right(), r.bottom()] for r in rects], np.float64).reshape(
            -1, 4
        )
        return detection.Detected(boxes, np.asarray(scores, np.float64))

    return detect


def _emit(result: dict[str, Any], as_json: bool) -> None:
    text = json.dumps(result, indent=1, default=float)
    if as_json:
        click.echo(text)
    else:
        overall = result.get("overall", {})
        summary = {k: overall.get(k) for k in ("auc", "eer")} if overall else {}
        print(
            json.dumps(
                summary or {k: result[k] for k in ("recall", "precision", "average_precision")}, indent=1
            )
        )


@click.group()
def cli() -> None:
    """face_recognition's figures, computed the way `regard evaluate` computes Regard's."""


@cli.command("verification")
@click.argument("data", type=click.Path(exists=True, path_type=Path))
@click.option("--root", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True)
def verification_command(data: Path, root: Path | None, out_dir: Path | None, as_json: bool) -> None:
    def progress(done: int, total: int) -> None:
        if done == total or done % 10 == 0:
            print(f"\rembedding images: {done}/{total}", end="" if done < total else "\n", file=sys.stderr)

    result, scored = verification.evaluate(
        data,
        peer_embedder(),
        peer_score,
        lambda d: 1.0 - d,
        root=root,
        thresholds=PEER_THRESHOLDS,
        score_scale="1 - face_distance (0.4 = its default tolerance 0.6); threshold_raw = distance",
        threshold_to_raw=lambda s: 1.0 - s,
        progress=progress,
    )
    result = {"command": "bench/accuracy_peer.py verification", "model_version": _peer_version(), **result}
    out = out_dir or Path("regard-evaluation") / "peer-verification"
    gen, imp = scored.scores[scored.same], scored.scores[~scored.same]
    result["plots"] = {}
    if gen.size + imp.size:
        result["plots"]["scores"] = str(
            plots.score_histogram(
                gen,
                imp,
                out / "scores.png",
                f"face_recognition: {data.name}",
                PEER_THRESHOLDS,
                xlabel="1 - distance",
            )
        )
    if gen.size and imp.size:
        result["plots"]["roc"] = str(
            plots.roc_plot(gen, imp, out / "roc.png", f"face_recognition: {data.name}")
        )
        result["plots"]["det"] = str(
            plots.det_plot(gen, imp, out / "det.png", f"face_recognition: {data.name}")
        )
    _emit(result, as_json)


@cli.command("detection")
@click.argument("images", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("annotations", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--iou", type=float, default=0.5)
@click.option("--json", "as_json", is_flag=True)
def detection_command(
    images: Path, annotations: Path, out_dir: Path | None, iou: float, as_json: bool
) -> None:
    annotated = detection.load_annotations(annotations, images)
    results = detection.run(annotated, peer_detector(), iou)
    figures, curve = detection.report(results, iou)
    out = out_dir or Path("regard-evaluation") / "peer-detection"
    result = {"command": "bench/accuracy_peer.py detection", "model_version": _peer_version(), **figures}
    result["plots"] = plots.detection_plots(curve, out, f"face_recognition HOG: {annotations.name}")
    _emit(result, as_json)


if __name__ == "__main__":
    cli()
