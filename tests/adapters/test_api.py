"""The Python API: ``regard.Engine`` on image bytes, lazily imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

import regard
from regard.errors import InvalidImageFormatException


@pytest.fixture(scope="module")
def api(engine) -> regard.Engine:
    return regard.Engine(engine=engine)


def test_import_regard_does_no_work() -> None:
    code = "import sys, regard; print('onnxruntime' in sys.modules, 'regard.vision.engine' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_detect_faces_on_bytes(api, data_file) -> None:
    body = api.detect_faces(data_file("vision/obama.jpg").read_bytes())
    assert len(body["FaceDetails"]) == 1


def test_compare_faces_on_bytes(api, data_file) -> None:
    obama = data_file("vision/obama.jpg").read_bytes()
    assert api.compare_faces(obama, data_file("vision/obama3.jpg").read_bytes())["FaceMatches"]
    assert not api.compare_faces(obama, data_file("vision/biden.jpg").read_bytes(), similarity_threshold=80)[
        "FaceMatches"
    ]


def test_bad_bytes_raise_the_rekognition_error(api) -> None:
    with pytest.raises(InvalidImageFormatException):
        api.detect_faces(b"GIF89a")


def test_compare_faces_gives_each_match_an_estimated_false_match_rate(api, data_file) -> None:
    body = api.compare_faces(
        data_file("vision/obama.jpg").read_bytes(),
        data_file("vision/biden.jpg").read_bytes(),
        similarity_threshold=0,
    )
    match = body["FaceMatches"][0]
    assert match["Similarity"] < 80
    # A low similarity between two different people is common among different people: a high rate.
    assert match["EstimatedFalseMatchRate"] > 0.01
    assert match["EstimatedFalseMatchRate"] <= match["FalseMatchRateUpperBound"] <= 1
