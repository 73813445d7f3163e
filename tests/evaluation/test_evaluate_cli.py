"""End to end: `regard evaluate verification|detection` and `regard calibrate` on a few real images."""

from __future__ import annotations

import csv
import json
import stat
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from regard.adapters.cli import evaluate as evaluate_cli
from regard.evaluation.calibration import load_calibration
from regard.vision.engine import FaceEngine

DATA = Path(__file__).resolve().parents[1] / "data" / "evaluation"
JOHNS = DATA / "johns"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def eval_engine() -> FaceEngine:
    return FaceEngine()


@pytest.fixture(autouse=True)
def _shared_engine(monkeypatch: pytest.MonkeyPatch, eval_engine: FaceEngine) -> None:
    """One engine for the whole module instead of one per command run."""
    monkeypatch.setattr(evaluate_cli, "_engine", lambda: eval_engine)


def run_json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        evaluate_cli.evaluate if args[0] != "calibrate" else evaluate_cli.calibrate,
        list(args[1:] if args[0] == "calibrate" else args),
    )
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)  # stdout holds the JSON object and nothing else


def is_png(path: str | Path) -> bool:
    return Path(path).read_bytes()[:8] == PNG_MAGIC


def test_verification_on_identity_folders(tmp_path: Path) -> None:
    scores = tmp_path / "scores.csv"
    out = run_json(
        "verification", str(JOHNS), "--json", "--out", str(tmp_path / "plots"), "--scores", str(scores)
    )
    assert out["model_version"] == FaceEngine().model_version
    assert out["images"]["total"] == 9 and out["images"]["embedded"] == 9 and out["images"]["no_face"] == 0
    assert out["pairs"]["genuine"] == 9 and out["pairs"]["impostor"] == 27 and out["pairs"]["scored"] == 36
    overall = out["overall"]
    assert overall["genuine_score"]["mean"] > overall["impostor_score"]["mean"] + 20
    assert 0.9 <= overall["auc"] <= 1.0
    assert 0.0 <= overall["eer"]["rate"] <= 0.2
    assert 0.0 <= overall["kfold"]["accuracy_mean"] <= 1.0 and overall["kfold"]["folds"] == 10
    # 27 impostor pairs support FAR 1e-2 only (1/27 > 1e-2, so not even that) - each figure says so
    assert all(row["negatives"] == 27 and not row["supported"] for row in overall["tar_at_far"])
    assert [row["threshold"] for row in overall["at_thresholds"]] == [80.0, 90.0, 95.0, 99.0]
    for row in overall["at_thresholds"]:
        assert row["fmr"]["total"] == 27 and row["fnmr"]["total"] == 9
        assert row["fmr"]["ci_lower"] <= row["fmr"]["value"] <= row["fmr"]["ci_upper"]
    hardest = out["hardest_pairs"]
    assert hardest["impostor_highest"][0]["score"] == pytest.approx(overall["impostor_score"]["max"])
    assert hardest["genuine_lowest"][0]["score"] == pytest.approx(overall["genuine_score"]["min"])
    with scores.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 36 and {r["same"] for r in rows} == {"0", "1"}
    assert all(-1.0 <= float(r["raw"]) <= 1.0 and 0.0 <= float(r["score"]) <= 100.0 for r in rows)
    assert set(out["plots"]) == {"scores", "roc", "det"}
    assert all(is_png(p) for p in out["plots"].values())


def test_verification_pairs_csv_counts_faceless_images_and_groups(tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((120, 120, 3), 128, np.uint8))
    salley = sorted((JOHNS / "John_Salley").iterdir())
    savage = sorted((JOHNS / "John_Savage").iterdir())
    rows = [
        (salley[0], salley[1], "1", "g1"),
        (salley[0], savage[0], "0", "g1"),
        (savage[0], savage[1], "same", "g2"),
        (savage[1], salley[2], "different", "g2"),
        (salley[2], blank, "0", "g2"),
    ]
    pairs = tmp_path / "pairs.csv"
    with pairs.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image_a", "image_b", "same", "group"])
        writer.writerows([str(a), str(b), s, g] for a, b, s, g in rows)
    out = run_json(
        "verification", str(pairs), "--json", "--out", str(tmp_path / "plots"), "--threshold", "80"
    )
    assert out["images"]["no_face"] == 1
    assert out["images"]["failures"] == [{"image": str(blank), "reason": "no face found"}]
    assert (
        out["pairs"]["total"] == 5
        and out["pairs"]["scored"] == 4
        and out["pairs"]["not_scored_impostor"] == 1
    )
    assert set(out["groups"]) == {"g1", "g2"}
    assert out["groups"]["g1"]["genuine_pairs"] == 1 and out["groups"]["g2"]["impostor_pairs"] == 1
    ratio = out["group_fmr_ratio"][0]
    assert ratio["threshold"] == 80.0 and set(ratio["groups"]) == {"g1", "g2"}


def test_calibrate_then_load(tmp_path: Path, eval_engine: FaceEngine) -> None:
    data_dir = tmp_path / "regard-data"
    out = run_json("calibrate", str(JOHNS), "--data", str(data_dir), "--json")
    path = Path(out["path"])
    assert path == data_dir / "calibration" / f"{eval_engine.model_version.split('/')[0]}.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert out["impostor_pairs"] == 27 and out["genuine_pairs"] == 9
    assert any("fewer than the built-in" in w for w in out["warnings"])  # a tiny set says so
    calibration = load_calibration(data_dir, eval_engine.model_version)
    assert calibration is not None and calibration.origin == str(path) and not calibration.builtin
    low, high = calibration.false_match_rate(0.0), calibration.false_match_rate(99.0)
    assert low[0] == 1.0  # every impostor pair scores at least 0
    assert high[0] <= low[0] and high[0] <= high[1] <= 1.0
    assert high[1] >= 0.1  # 27 negatives cannot show a small rate: the bound says so
    assert [row["similarity"] for row in out["at"]] == list(evaluate_cli.REPORTED_SIMILARITIES)


def test_detection_with_misses(tmp_path: Path) -> None:
    out = run_json(
        "detection",
        str(DATA / "detection"),
        str(DATA / "detection" / "annotations.xml"),
        "--json",
        "--out",
        str(tmp_path / "plots"),
        "--misses",
        str(tmp_path / "misses"),
    )
    assert out["images"] == 1 and out["faces"] == 3
    assert out["true_positives"] + out["missed"] == 3
    assert out["recall"]["value"] >= 2 / 3
    assert 0.0 <= out["average_precision"] <= 1.0
    assert out["size_bands"]["64-128"]["faces"] == 3
    assert is_png(out["plots"]["precision_recall"])
    assert all(is_png(p) for p in out["misses_images"])


def test_builtin_calibration_for_the_default_pack(tmp_path: Path, eval_engine: FaceEngine) -> None:
    """The shipped table applies until the user calibrates; it covers the default pack's exact version."""
    builtin = load_calibration(tmp_path / "no-calibration-here", eval_engine.model_version)
    assert builtin is not None and builtin.builtin
    assert builtin.impostor_pairs > 5000
    estimate, upper = builtin.false_match_rate(99.0)
    assert estimate == 0.0 and 0.0 < upper < 1e-3
    assert builtin.false_match_rate(30.0)[0] > builtin.false_match_rate(60.0)[0]


def test_detection_misses_are_drawn(tmp_path: Path) -> None:
    """At IoU 0.9 the detector's boxes (drawn to its own convention) miss dlib's: every miss is drawn."""
    out = run_json(
        "detection",
        str(DATA / "detection"),
        str(DATA / "detection" / "annotations.xml"),
        "--iou",
        "0.9",
        "--json",
        "--out",
        str(tmp_path / "plots"),
        "--misses",
        str(tmp_path / "misses"),
    )
    assert out["iou_threshold"] == 0.9 and out["missed"] > 0
    assert out["misses_images"] == [str(tmp_path / "misses" / "2008_002506_misses.png")]
    assert is_png(out["misses_images"][0])
