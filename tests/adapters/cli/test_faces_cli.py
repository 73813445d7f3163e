"""``regard models``, ``regard detect`` and ``regard compare`` run in-process with click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
from click.testing import CliRunner

from regard.adapters.cli.faces import compare_command, detect_command, models_command


def test_models_lists_files_hashes_and_the_licence() -> None:
    result = CliRunner().invoke(models_command, [])
    assert result.exit_code == 0, result.output
    assert "buffalo_s" in result.output and "w600k_mbf.onnx" in result.output
    assert "9cc6e4a75f0e2bf0b1aed94578f144d15175f357bdc05e815e5c4a02b319eb4f" in result.output
    assert "hashes verified" in result.output
    assert "NON-COMMERCIAL" in result.output.upper().replace("\n", " ")


def test_models_says_which_runtime_and_precision_run_each_model(monkeypatch) -> None:
    from regard.vision.runtimes.openvino_model import cpu_has_bf16

    default = CliRunner().invoke(models_command, ["--no-verify"])
    assert default.exit_code == 0, default.output
    precision = "bf16" if cpu_has_bf16() else "fp32"
    assert "detector on onnxruntime fp32" in default.output
    for role in ("recogniser", "landmarks"):
        assert f"{role} on openvino {precision}" in default.output
    monkeypatch.setenv("REGARD_RUNTIME", "onnxruntime")
    forced = CliRunner().invoke(models_command, ["--no-verify"])
    assert "recogniser on onnxruntime fp32" in forced.output and "openvino" not in forced.output
    monkeypatch.setenv("REGARD_RUNTIME", "cuda")
    refused = CliRunner().invoke(models_command, ["--no-verify"])
    assert refused.exit_code == 1 and "ModelPackError" in refused.output and "cuda" in refused.output


def test_detect_json_is_the_response_body(data_file) -> None:
    result = CliRunner().invoke(detect_command, [str(data_file("vision/obama.jpg")), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert list(body) == ["FaceDetails"] and len(body["FaceDetails"]) == 1


def test_detect_max_faces(data_file) -> None:
    players = str(data_file("vision/players.jpg"))
    default = json.loads(CliRunner().invoke(detect_command, [players, "--json"]).output)
    everyone = json.loads(CliRunner().invoke(detect_command, [players, "--json", "--max-faces", "0"]).output)
    assert len(default["FaceDetails"]) == 100 and len(everyone["FaceDetails"]) > 100


def test_detect_table_and_draw(data_file, tmp_path: Path) -> None:
    out = tmp_path / "drawn.png"
    result = CliRunner().invoke(detect_command, [str(data_file("vision/yaoming.jpg")), "--draw", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 face(s)" in result.output
    drawn = cv2.imread(str(out))
    assert drawn is not None and drawn.shape == (287, 233, 3)


def test_compare_json_and_exit_codes(data_file) -> None:
    result = CliRunner().invoke(
        compare_command, [str(data_file("vision/obama.jpg")), str(data_file("vision/obama2.jpg")), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["FaceMatches"][0]["Similarity"] >= 80
    table = CliRunner().invoke(
        compare_command, [str(data_file("vision/obama.jpg")), str(data_file("vision/biden.jpg"))]
    )
    assert table.exit_code == 0 and "no" in table.output


def test_errors_print_the_rekognition_code_without_traceback(data_file, tmp_path: Path) -> None:
    not_image = tmp_path / "notes.txt"
    not_image.write_text("hello")
    result = CliRunner().invoke(detect_command, [str(not_image)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: InvalidImageFormatException: ")
    assert "Traceback" not in result.output
    no_face = CliRunner().invoke(
        compare_command, [str(data_file("vision/dogs.jpg")), str(data_file("vision/obama.jpg"))]
    )
    assert no_face.exit_code == 1 and no_face.output.startswith("Error: InvalidParameterException: ")
    bad = CliRunner().invoke(
        compare_command,
        [str(data_file("vision/obama.jpg")), str(data_file("vision/obama2.jpg")), "--threshold", "101"],
    )
    assert bad.exit_code == 1 and "InvalidParameterException" in bad.output
