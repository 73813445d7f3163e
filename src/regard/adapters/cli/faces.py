"""``regard models``, ``regard detect`` and ``regard compare``: the face engine from the command line.

``--json`` prints exactly the Rekognition response body; otherwise a short table. Errors print
``Error: <Code>: <message>`` and exit with status 1, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from regard.adapters.cli.options import data_option, database_url, purpose_option
from regard.errors import RegardError

F = TypeVar("F", bound=Callable[..., Any])

NON_COMMERCIAL = (
    "InsightFace's pretrained weights are for NON-COMMERCIAL RESEARCH ONLY "
    "(the InsightFace project's terms); commercial use needs a licence from InsightFace."
)


def _rekognition_errors(func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RegardError as exc:
            click.echo(f"Error: {exc.code}: {exc.message}", err=True)
            raise SystemExit(1) from None

    return wrapper  # type: ignore[return-value]


def _read(path: Path) -> Any:
    from regard.vision.image import read_image_file

    return read_image_file(path)


@click.command("models")
@click.option(
    "--pack",
    default=None,
    help="A pack name or a folder of ONNX files (default: $REGARD_MODEL_PACK or buffalo_s).",
)
@click.option("--verify/--no-verify", default=True, show_default=True, help="Hash every file now.")
@_rekognition_errors
def models_command(pack: str | None, verify: bool) -> None:
    """List the model pack: files, the runtime and precision each runs on, SHA-256 hashes, embedding size
    and licence."""
    from rich.console import Console
    from rich.table import Table

    from regard.vision.packs import load_pack
    from regard.vision.runtimes import plan

    model_pack = load_pack(pack)
    if verify:
        model_pack.verify()
    console = Console()
    console.print(
        f"[bold]{model_pack.name}[/bold] version {model_pack.version} "
        f"(FaceModelVersion {model_pack.model_version}), embedding size {model_pack.embedding_size}"
    )
    console.print(f"source: {model_pack.source}")
    table = Table("role", "file", "what")
    for pack_file in model_pack.files:
        table.add_row(pack_file.role, str(pack_file.path), pack_file.what)
    console.print(table)
    runs_on = ", ".join(f"{pack_file.role} on {plan(pack_file.role)}" for pack_file in model_pack.files)
    console.print(f"runs on (REGARD_RUNTIME, REGARD_PRECISION): {runs_on}", soft_wrap=True, highlight=False)
    console.print("sha256 (as sha256sum prints them):")
    for pack_file in model_pack.files:
        console.print(f"{pack_file.sha256}  {pack_file.path.name}", soft_wrap=True, highlight=False)
    console.print("hashes verified" if verify else "hashes not checked (--no-verify)")
    console.print(f"licence: {model_pack.licence}", soft_wrap=True)
    console.print(f"[bold]{NON_COMMERCIAL}[/bold]", soft_wrap=True)


@click.command("detect")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the DetectFaces response body.")
@click.option(
    "--draw",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the image with boxes, landmarks and face indices (PNG or JPEG by extension).",
)
@click.option(
    "--max-faces",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="The largest N faces (Rekognition: 100); 0 for all, e.g. to count a crowd.",
)
@_rekognition_errors
def detect_command(image: Path, as_json: bool, draw: Path | None, max_faces: int) -> None:
    """Detect faces in IMAGE (JPEG or PNG), largest first."""
    from regard.service.faces import face_detail
    from regard.vision.engine import FaceEngine

    decoded = _read(image)
    faces = FaceEngine().detect(decoded, max_faces=max_faces or None, landmarks=True)
    body = {"FaceDetails": [face_detail(face, decoded) for face in faces]}  # the DetectFaces body
    if draw is not None:
        _draw(decoded, faces, draw)
    if as_json:
        click.echo(json.dumps(body))
        return
    from rich.console import Console
    from rich.table import Table

    details = body["FaceDetails"]
    table = Table(
        "#",
        "left",
        "top",
        "width",
        "height",
        "conf.",
        "roll",
        "yaw",
        "pitch",
        "bright.",
        "sharp.",
        title=f"{len(details)} face(s) in {image.name} ({decoded.width}x{decoded.height})",
    )
    for i, d in enumerate(details):
        box, pose, quality = d["BoundingBox"], d["Pose"], d["Quality"]
        table.add_row(
            str(i),
            f"{box['Left']:.3f}",
            f"{box['Top']:.3f}",
            f"{box['Width']:.3f}",
            f"{box['Height']:.3f}",
            f"{d['Confidence']:.1f}",
            f"{pose['Roll']:.0f}",
            f"{pose['Yaw']:.0f}",
            f"{pose['Pitch']:.0f}",
            f"{quality['Brightness']:.0f}",
            f"{quality['Sharpness']:.0f}",
        )
    Console().print(table)


@click.command("compare")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("target", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the CompareFaces response body.")
@click.option(
    "--threshold",
    type=float,
    default=80.0,
    show_default=True,
    help="SimilarityThreshold, 0-100 (80: low false-match rate, see docs/similarity.md).",
)
@purpose_option
@data_option
@_rekognition_errors
def compare_command(
    source: Path, target: Path, as_json: bool, threshold: float, purpose: str | None, data_dir: Path
) -> None:
    """Compare the largest face in SOURCE with the faces in TARGET.

    The table gives each match's estimated false-match rate, from your own calibration (``regard
    calibrate``, kept under --data) or the one shipped for the model pack; --json prints exactly the
    CompareFaces response body. With --purpose the comparison runs over the data folder and leaves an
    audit record (the images' hashes, the similarities and the purpose).
    """
    from regard.evaluation.calibration import annotate_matches, load_calibration
    from regard.vision.engine import FaceEngine

    if purpose is not None:
        body, model_version = _audited_compare(source, target, threshold, purpose, data_dir)
    else:
        from regard.service.faces import compare_faces

        engine = FaceEngine()
        body = compare_faces(engine, _read(source), _read(target), similarity_threshold=threshold)
        model_version = engine.model_version
    if as_json:
        click.echo(json.dumps(body))
        return
    database = database_url()
    if database is None:
        annotate_matches(body, load_calibration(data_dir, model_version))
    else:
        from regard.store import open_store

        store = open_store(None, database=database)
        try:
            annotate_matches(body, load_calibration(data_dir, model_version, settings=store))
        finally:
            store.close()
    from rich.console import Console
    from rich.table import Table

    table = Table(
        "target face",
        "left",
        "top",
        "width",
        "height",
        "similarity",
        "est. false-match rate",
        "match",
        title=f"{source.name} vs {target.name} (threshold {threshold:g})",
    )
    rows = [(m["Face"], m["Similarity"], _fmr(m), "yes") for m in body["FaceMatches"]]
    rows += [(face, None, "", "no") for face in body["UnmatchedFaces"]]
    for i, (face, similarity, fmr, matched) in enumerate(rows):
        box = face["BoundingBox"]
        table.add_row(
            str(i),
            f"{box['Left']:.3f}",
            f"{box['Top']:.3f}",
            f"{box['Width']:.3f}",
            f"{box['Height']:.3f}",
            "-" if similarity is None else f"{similarity:.1f}",
            fmr,
            matched,
        )
    Console().print(table)


def _audited_compare(
    source: Path, target: Path, threshold: float, purpose: str, data_dir: Path
) -> tuple[dict[str, Any], str]:
    """CompareFaces through the data folder's Regard, so it is audited with its purpose."""
    from regard.adapters.cli.common import cli_context, open_regard

    params = {
        "SourceImage": {"Bytes": source.read_bytes()},
        "TargetImage": {"Bytes": target.read_bytes()},
        "SimilarityThreshold": threshold,
    }
    with open_regard(data_dir) as regard:
        return regard.invoke("CompareFaces", params, cli_context(purpose)), regard.engine.model_version


def _fmr(match: dict[str, Any]) -> str:
    if "EstimatedFalseMatchRate" not in match:
        return "not calibrated"
    from regard.evaluation.calibration import format_fmr

    return format_fmr(match["EstimatedFalseMatchRate"], match["FalseMatchRateUpperBound"])


def _draw(decoded: Any, faces: list[Any], out: Path) -> None:
    marks = []
    for i, face in enumerate(faces):
        points = face.landmarks if face.landmarks is not None else face.keypoints
        marks.append(Mark(face.box, points, str(i)))
    draw_marks(decoded, marks, out)


@dataclass(frozen=True)
class Mark:
    """One face to draw: its box ``(x1, y1, x2, y2)`` and points in pixels, a label, a BGR colour."""

    box: Any
    points: Any
    label: str
    colour: tuple[int, int, int] = (0, 255, 0)


def draw_marks(decoded: Any, marks: list[Mark], out: Path) -> None:
    """Write ``decoded`` with each mark's box, points and label (PNG or JPEG by the name of ``out``)."""
    import cv2

    canvas = decoded.pixels.copy()
    thickness = max(1, round(max(decoded.width, decoded.height) / 600))
    for mark in marks:
        x1, y1, x2, y2 = (round(float(v)) for v in mark.box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), mark.colour, thickness)
        radius = max(1, min(thickness, round((x2 - x1) / 60)))  # small faces keep visible features
        for x, y in mark.points:
            cv2.circle(canvas, (round(float(x)), round(float(y))), radius, (0, 0, 255), -1)
        cv2.putText(
            canvas,
            mark.label,
            (x1, max(y1 - 3, 10)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4 * thickness,
            (255, 255, 0),
            thickness,
        )
    if not cv2.imwrite(str(out), canvas):
        raise click.ClickException(f"Could not write {out} (use a .png or .jpg name).")


COMMANDS = [models_command, detect_command, compare_command]
