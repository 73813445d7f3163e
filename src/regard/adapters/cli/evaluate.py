"""``regard evaluate verification|detection`` and ``regard calibrate``: measured error rates on labelled data.

With ``--json`` each command prints all its figures as one JSON object on standard output and nothing else
(progress goes to standard error).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import click

from regard.adapters.cli.options import data_option, database_url

DEFAULT_OUT = Path("regard-evaluation")


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _engine() -> Any:
    from regard.vision.engine import FaceEngine

    return FaceEngine()


def _similarity_functions() -> tuple[Any, Any]:
    from regard.vision.similarity import cosine_from_similarity, similarity_from_cosine

    return (lambda c: float(similarity_from_cosine(float(c)))), (
        lambda s: float(cosine_from_similarity(float(s)))
    )


def _progress(console: Any, label: str) -> Any:
    def report(done: int, total: int) -> None:
        if done == total or done % 10 == 0:
            console.print(f"\r{label}: {done}/{total}", end="" if done < total else "\n", highlight=False)

    return report


def _emit_json(payload: dict[str, Any]) -> None:
    click.echo(json.dumps(_clean(payload), indent=1, allow_nan=False))


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _clean(value.item())
    return value


def _pct(rate: dict[str, Any] | None) -> str:
    if not rate or rate.get("value") is None:
        return "-"
    return (
        f"{rate['value']:.2%} [{rate['ci_lower']:.2%}, {rate['ci_upper']:.2%}] "
        f"({rate['count']}/{rate['total']})"
    )


# ----------------------------------------------------------------------------------------------------


@click.group("evaluate")
def evaluate() -> None:
    """Measure accuracy on your own labelled data (verification pairs, detection boxes)."""


def run_verification(
    data: Path,
    root: Path | None,
    max_pairs: int,
    thresholds: tuple[float, ...],
    folds: int,
    console: Any,
    scores_path: Path | None = None,
) -> tuple[dict[str, Any], Any, Any]:
    from regard.evaluation import verification

    engine = _engine()
    to_similarity, to_cosine = _similarity_functions()
    result, scored = verification.evaluate(
        data,
        verification.engine_embedder(engine),
        verification.cosine,
        to_similarity,
        root=root,
        max_pairs=max_pairs,
        thresholds=thresholds or verification.DEFAULT_THRESHOLDS,
        folds=folds,
        score_scale="similarity 0-100 (Rekognition's scale, from cosine via similarity_from_cosine); "
        "threshold_raw = cosine",
        threshold_to_raw=to_cosine,
        progress=_progress(console, "embedding images"),
        scores_path=scores_path,
    )
    result = {"command": "evaluate verification", "model_version": engine.model_version, **result}
    return result, scored, engine


def _verification_plots(scored: Any, out: Path, title: str, thresholds: tuple[float, ...]) -> dict[str, str]:
    from regard.evaluation import plots

    gen, imp = scored.scores[scored.same], scored.scores[~scored.same]
    written: dict[str, str] = {}
    if gen.size + imp.size:
        written["scores"] = str(
            plots.score_histogram(gen, imp, out / "scores.png", f"{title}: scores", thresholds)
        )
    if gen.size and imp.size:
        written["roc"] = str(plots.roc_plot(gen, imp, out / "roc.png", f"{title}: ROC"))
        written["det"] = str(plots.det_plot(gen, imp, out / "det.png", f"{title}: DET"))
    return written


@evaluate.command("verification")
@click.argument("data", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder that relative paths in a pairs CSV are relative to (default: the CSV's folder).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Folder for the PNG plots [default: {DEFAULT_OUT}/verification].",
)
@click.option(
    "--threshold",
    "thresholds",
    type=float,
    multiple=True,
    help="Similarity at which to report FMR/FNMR (repeatable) [default: 80 90 95 99].",
)
@click.option(
    "--max-pairs",
    type=int,
    default=200_000,
    show_default=True,
    help="Cap on genuine and on impostor pairs drawn from identity folders (seeded sample).",
)
@click.option(
    "--folds", type=int, default=10, show_default=True, help="Folds for the cross-validated accuracy."
)
@click.option(
    "--scores",
    "scores_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write every scored pair (similarity and cosine) to this CSV file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print all figures as one JSON object on stdout.")
def verification_command(
    data: Path,
    root: Path | None,
    out_dir: Path | None,
    thresholds: tuple[float, ...],
    max_pairs: int,
    folds: int,
    scores_path: Path | None,
    as_json: bool,
) -> None:
    """1:1 verification on DATA: a folder with one sub-folder per identity, or a CSV of pairs
    (image_a,image_b,same[,group]).

    Reports score distributions, ROC/DET curves (PNG), AUC, EER, TAR at FAR 1e-2, 1e-3 and lower where the
    number of impostor pairs allows, FMR/FNMR at fixed similarities, accuracy at a 10-fold cross-validated
    threshold, the same per group, and the ratio of the worst to the best group's false-match rate. Images
    where no face is found are counted and listed."""
    console = _stderr_console()
    result, scored, _ = run_verification(data, root, max_pairs, thresholds, folds, console, scores_path)
    out = out_dir or DEFAULT_OUT / "verification"
    result["plots"] = _verification_plots(scored, out, data.name, thresholds or (80.0, 99.0))
    if as_json:
        _emit_json(result)
        return
    _print_verification(result)


def _print_verification(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    images, pairs, overall = result["images"], result["pairs"], result["overall"]
    console.print(f"[bold]Verification[/] on {result['input']['source']}  (model {result['model_version']})")
    console.print(
        f"images {images['total']}: embedded {images['embedded']}, no face {images['no_face']}, "
        f"unreadable {images['unreadable']}, missing {images['missing']}; "
        f"pairs scored {pairs['scored']}/{pairs['total']} "
        f"(genuine {pairs['genuine']}, impostor {pairs['impostor']})"
    )
    for failure in images["failures"]:
        console.print(f"  [yellow]not embedded[/] {failure['image']}: {failure['reason']}", highlight=False)
    if "auc" in overall:
        console.print(
            f"AUC {overall['auc']:.4f}   EER {overall['eer']['rate']:.2%} at similarity "
            f"{overall['eer']['threshold']:.1f}   accuracy ({overall['kfold']['folds']}-fold) "
            f"{overall['kfold']['accuracy_mean']:.2%} +- {overall['kfold']['accuracy_std']:.2%} "
            f"at similarity {overall['kfold']['threshold_mean']:.1f}"
        )
        table = Table(title="TAR at FAR")
        for col in ("FAR", "negatives", "threshold", "TAR [95% CI]", "measured FMR"):
            table.add_column(col)
        for row in overall["tar_at_far"]:
            if row["supported"]:
                threshold = "-" if row.get("threshold") is None else f"{row['threshold']:.1f}"
                table.add_row(
                    f"{row['far_target']:g}",
                    str(row["negatives"]),
                    threshold,
                    _pct(row["tar"]),
                    _pct(row["fmr"]),
                )
            else:
                table.add_row(f"{row['far_target']:g}", str(row["negatives"]), "-", "not supported", "-")
        console.print(table)
    else:
        console.print(overall.get("note", ""))
    table = Table(title="Errors at fixed similarity thresholds")
    for col in ("similarity", "FMR [95% CI]", "FNMR [95% CI]"):
        table.add_column(col)
    for row in overall["at_thresholds"]:
        table.add_row(f"{row['threshold']:g}", _pct(row["fmr"]), _pct(row["fnmr"]))
    console.print(table)
    for entry in result.get("group_fmr_ratio", []):
        ratio = "undefined" if entry["ratio"] is None else f"{entry['ratio']:.2f}"
        console.print(
            f"group FMR ratio worst/best at {entry['threshold']:.1f}: {ratio} {entry.get('note', '')}"
        )
    hardest = result.get("hardest_pairs", {})
    kinds = (("highest different-person", "impostor_highest"), ("lowest same-person", "genuine_lowest"))
    for label, key in kinds:
        for row in hardest.get(key, [])[:3]:
            console.print(
                f"{label}: {row['score']:.1f} (cosine {row['raw']:.3f}) {row['image_a']} ~ {row['image_b']}",
                highlight=False,
            )
    for name, path in result.get("plots", {}).items():
        console.print(f"{name} plot: {path}", highlight=False)


@evaluate.command("detection")
@click.argument("images", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("annotations", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Folder for the precision-recall PNG [default: {DEFAULT_OUT}/detection].",
)
@click.option(
    "--misses",
    "misses_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write annotated copies of images with missed faces or false positives here.",
)
@click.option(
    "--iou", type=float, default=0.5, show_default=True, help="Overlap needed to count a face found."
)
@click.option("--json", "as_json", is_flag=True, help="Print all figures as one JSON object on stdout.")
def detection_command(
    images: Path, annotations: Path, out_dir: Path | None, misses_dir: Path | None, iou: float, as_json: bool
) -> None:
    """Face detection on IMAGES against ANNOTATIONS (dlib/imglab XML, or a WIDER FACE box list).

    Reports recall and precision at IoU 0.5, per face-size band, and average precision, with a PNG of the
    precision-recall curve."""
    from regard.evaluation import detection, plots

    engine = _engine()
    annotated = detection.load_annotations(annotations, images)
    results = detection.run(annotated, detection.engine_detector(engine), iou)
    figures, curve = detection.report(results, iou)
    out = out_dir or DEFAULT_OUT / "detection"
    result: dict[str, Any] = {
        "command": "evaluate detection",
        "model_version": engine.model_version,
        "annotations": str(annotations),
        **figures,
    }
    result["plots"] = plots.detection_plots(curve, out, annotations.name)
    if misses_dir is not None:
        result["misses_images"] = [str(p) for p in detection.draw_misses(results, misses_dir)]
    if as_json:
        _emit_json(result)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"[bold]Detection[/] on {annotations} ({result['images']} images, {result['faces']} faces, "
        f"model {result['model_version']})"
    )
    console.print(
        f"recall {_pct(result['recall'])}   precision {_pct(result['precision'])}   "
        f"AP {result['average_precision']:.3f} (IoU {iou:g})"
    )
    table = Table(title="By face height (px)")
    for col in ("band", "faces", "recall", "false positives"):
        table.add_column(col)
    for name, band in result["size_bands"].items():
        table.add_row(name, str(band["faces"]), _pct(band["recall"]), str(band["false_positives"]))
    console.print(table)
    for failure in result["unreadable_images"]:
        console.print(f"  [yellow]not read[/] {failure['image']}: {failure['reason']}", highlight=False)
    for path in result["plots"].values():
        console.print(f"plot: {path}", highlight=False)
    if misses_dir is not None:
        console.print(f"{len(result['misses_images'])} annotated images in {misses_dir}", highlight=False)


# ----------------------------------------------------------------------------------------------------

REPORTED_SIMILARITIES = (50.0, 60.0, 70.0, 80.0, 90.0, 95.0, 99.0)


@click.command("calibrate")
@click.argument("data_source", metavar="DATA", type=click.Path(exists=True, path_type=Path))
@data_option
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder that relative paths in a pairs CSV are relative to (default: the CSV's folder).",
)
@click.option(
    "--max-pairs",
    type=int,
    default=200_000,
    show_default=True,
    help="Cap on genuine and on impostor pairs drawn from identity folders (seeded sample).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the stored table and figures as JSON on stdout.")
def calibrate(data_source: Path, data_dir: Path, root: Path | None, max_pairs: int, as_json: bool) -> None:
    """Measure, for the active model pack, the false-match rate at each similarity on labelled DATA (identity
    folders or a pairs CSV), and store it under the data folder so matches show their estimated FMR.

    The more different-person pairs DATA holds, the tighter the bounds: n pairs can only show rates down to
    about 3/n."""
    from regard.evaluation import calibration

    console = _stderr_console()
    result, scored, engine = run_verification(data_source, root, max_pairs, (), 10, console)
    imp, gen = scored.scores[~scored.same], scored.scores[scored.same]
    _, to_cosine = _similarity_functions()
    if imp.size == 0:
        raise click.ClickException("DATA gave no scored different-person pairs: nothing to calibrate from.")
    table = calibration.build_calibration(
        engine.model_version,
        imp,
        gen,
        source={
            "data": str(data_source),
            "images": result["images"]["total"],
            "images_without_face": result["images"]["no_face"] + result["images"]["unreadable"],
            "identities": result["input"]["identities"],
        },
        note=f"measured on {imp.size} different-person pairs; rates below about {3 / imp.size:.1g} "
        "cannot be shown by this data",
        to_cosine=to_cosine,
    )
    database = database_url()
    if database is None:
        path = calibration.save_calibration(data_dir, table)
    else:  # every replica on the database reads it from there
        from regard.store import open_store

        store = open_store(None, database=database)
        try:
            path = calibration.save_calibration(data_dir, table, settings=store)
        finally:
            store.close()
    builtin = calibration.builtin_calibration(engine.model_version)
    warnings = []
    if builtin is not None and builtin.impostor_pairs > imp.size:
        warnings.append(
            f"This table rests on {imp.size} different-person pairs, fewer than the built-in one it replaces "
            f"({builtin.impostor_pairs}); it cannot show a rate below about {3.7 / imp.size:.2g}. "
            f"Delete {path} to go back to the built-in table."
        )
    if result["images"]["failures"]:
        warnings.append(
            f"{len(result['images']['failures'])} images gave no face or could not be read and were left out "
            "(`regard evaluate verification` lists them)."
        )
    payload = {
        "command": "calibrate",
        "model_version": engine.model_version,
        "warnings": warnings,
        "path": str(path),
        "impostor_pairs": int(imp.size),
        "genuine_pairs": int(gen.size),
        "images": result["images"],
        "at": [
            {"similarity": s, "fmr": fmr, "fmr_upper": upper}
            for s in REPORTED_SIMILARITIES
            for fmr, upper in [table.false_match_rate(s)]
        ],
        "calibration": table.to_dict(),
    }
    if as_json:
        _emit_json(payload)
        return
    from rich.console import Console
    from rich.table import Table

    out = Console()
    out.print(
        f"Calibrated {engine.model_version} on {imp.size} different-person and {gen.size} same-person pairs."
    )
    out.print(f"Stored {path}", highlight=False)
    tab = Table(title="Estimated false-match rate (95% upper bound)")
    tab.add_column("similarity")
    tab.add_column("false matches")
    tab.add_column("FMR")
    for s in REPORTED_SIMILARITIES:
        point = table.point_at(s)
        tab.add_row(
            f"{s:g}", f"{point.false_matches}/{imp.size}", calibration.format_fmr(point.fmr, point.fmr_upper)
        )
    out.print(tab)
    for warning in warnings:
        print(f"Warning: {warning}", file=sys.stderr)


COMMANDS = [evaluate, calibrate]
