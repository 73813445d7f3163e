"""``regard recognize`` in-process with click's runner: a real gallery indexed, a group photo named, drawn."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from regard.adapters.cli.main import cli
from regard.vision.image import decode_image

KNN = Path(__file__).resolve().parents[2] / "data" / "galleries" / "knn"
GROUP = KNN / "test" / "obama_and_biden.jpg"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A data folder holding the knn training gallery, each file named after its person."""
    tmp = tmp_path_factory.mktemp("recognize")
    gallery = tmp / "gallery"
    gallery.mkdir()
    for person in sorted(p for p in (KNN / "train").iterdir() if p.is_dir()):
        for path in sorted(person.iterdir()):
            shutil.copy(path, gallery / f"{person.name}-{path.name}")
    data = str(tmp / "data")
    assert run("collections", "create", "knn", "--data", data)[0] == 0
    code, out = run(
        "index", "knn", str(gallery), "--max-faces", "1", "--quality-filter", "NONE", "--json", "--data", data
    )
    assert code == 0 and json.loads(out)["indexed"] == 9, out
    return data


def _name(entry: dict) -> str:
    return str(entry["FaceMatches"][0]["Face"]["ExternalImageId"]).split("-")[0]


def test_json_names_the_group_with_false_match_rates(data: str) -> None:
    code, out = run("recognize", "knn", str(GROUP), "--json", "--data", data)
    assert code == 0, out
    body = json.loads(out)
    recognized = sorted(body["RecognizedFaces"], key=lambda e: e["Face"]["BoundingBox"]["Left"])
    assert [_name(e) for e in recognized] == ["biden", "obama"]
    match = recognized[1]["FaceMatches"][0]
    assert (
        match["Similarity"] >= 80
        and 0 <= match["EstimatedFalseMatchRate"] <= match["FalseMatchRateUpperBound"]
    )
    assert [u["Reasons"] for u in body["UnrecognizedFaces"]] == [["NO_MATCH"]]
    code, out = run(
        "recognize", "knn", str(GROUP), "--json", "--max-faces", "1", "--threshold", "99.9", "--data", data
    )
    body = json.loads(out)
    assert body["RecognizedFaces"] == [] and len(body["UnrecognizedFaces"]) == 1


def test_table(data: str) -> None:
    code, out = run("recognize", "knn", str(GROUP), "--data", data)
    assert code == 0, out
    assert "2 of 3 face(s) recognized" in out and "obama-" in out and "biden-" in out and "NO_MATCH" in out


def test_draw_labels_each_box(data: str, tmp_path: Path) -> None:
    out_file = tmp_path / "named.png"
    code, out = run("recognize", "knn", str(GROUP), "--json", "--draw", str(out_file), "--data", data)
    assert code == 0, out
    body = json.loads(out)
    original = decode_image(GROUP.read_bytes()).pixels
    drawn = cv2.imread(str(out_file))
    assert drawn is not None and drawn.shape == original.shape
    height, width = original.shape[:2]

    def edge(entry: dict) -> tuple[int, int, int, int]:
        box = entry["Face"]["BoundingBox"]
        x1, y1 = round(box["Left"] * width), round(box["Top"] * height)
        return x1, y1, round(x1 + box["Width"] * width), round(y1 + box["Height"] * height)

    for entry, colour in [(e, (0, 255, 0)) for e in body["RecognizedFaces"]] + [
        (e, (0, 165, 255)) for e in body["UnrecognizedFaces"]
    ]:
        x1, y1, x2, y2 = edge(entry)
        inside = (slice(max(y1 - 2, 0), y2 + 3), slice(max(x1 - 2, 0), x2 + 3))
        assert np.any(drawn[inside] != original[inside])
        assert tuple(int(v) for v in drawn[(y1 + y2) // 2, x1]) == colour  # the box's left edge
    far = (slice(0, 5), slice(width - 5, width))  # a corner no box or label reaches
    assert np.array_equal(drawn[far], original[far])


def test_errors_exit_1_with_the_rekognition_code(data: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["recognize", "missing", str(GROUP), "--data", data])
    assert result.exit_code == 1 and "ResourceNotFoundException" in result.output
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"not a picture" * 50)
    result = CliRunner().invoke(cli, ["recognize", "knn", str(garbage), "--data", data])
    assert result.exit_code == 1 and "InvalidImageFormatException" in result.output
    result = CliRunner().invoke(cli, ["recognize", "knn", str(GROUP), "--max-faces", "0", "--data", data])
    assert result.exit_code == 1 and "InvalidParameterException" in result.output
