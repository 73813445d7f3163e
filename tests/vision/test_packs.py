"""Model packs: the default pack's pinned hashes, errors that name the file, folders routed by signature."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from regard.errors import ModelPackError
from regard.vision.engine import FaceEngine
from regard.vision.image import read_image_file
from regard.vision.packs import default_pack, load_pack

MODEL_FILES = ("scrfd_500m_bnkps.onnx", "w600k_mbf.onnx", "2d106det.onnx")


@pytest.fixture(scope="module")
def wheel_folder() -> Path:
    return default_pack().require("detector").path.parent


def test_default_pack_is_buffalo_s_with_verified_hashes() -> None:
    pack = load_pack("buffalo_s")
    assert pack.name == "buffalo_s" and pack.model_version == "buffalo_s/1.0" and pack.embedding_size == 512
    assert [f.role for f in pack.files] == ["detector", "recogniser", "landmarks"]
    assert "NON-COMMERCIAL" in pack.licence
    pack.verify()


def test_environment_variable_chooses_the_pack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REGARD_MODEL_PACK", str(tmp_path / "nowhere"))
    with pytest.raises(ModelPackError, match="nowhere"):
        load_pack()


def _manifest_folder(tmp_path: Path, wheel_folder: Path) -> Path:
    folder = tmp_path / "pack"
    folder.mkdir()
    manifest = json.loads(
        (Path(__file__).parents[2] / "src/regard/vision/manifests/buffalo_s.json").read_text()
    )
    for entry in manifest["files"]:
        (folder / entry["file"]).symlink_to(wheel_folder / entry["file"])
    (folder / "regard-pack.json").write_text(json.dumps(manifest))
    return folder


def test_hash_mismatch_names_the_file(tmp_path: Path, wheel_folder: Path) -> None:
    folder = _manifest_folder(tmp_path, wheel_folder)
    target = folder / "w600k_mbf.onnx"
    target.unlink()
    data = bytearray((wheel_folder / "w600k_mbf.onnx").read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    pack = load_pack(folder)
    with pytest.raises(ModelPackError, match=r"w600k_mbf\.onnx.*hash"):
        pack.verify()
    engine = FaceEngine(pack)
    image = read_image_file(Path(__file__).parents[1] / "data/vision/yaoming.jpg")
    faces = engine.detect(image)  # the detector's file is intact
    with pytest.raises(ModelPackError, match=r"w600k_mbf\.onnx"):
        engine.embed(image, faces)


def test_missing_file_names_it(tmp_path: Path, wheel_folder: Path) -> None:
    folder = _manifest_folder(tmp_path, wheel_folder)
    (folder / "2d106det.onnx").unlink()
    with pytest.raises(ModelPackError, match=r"2d106det\.onnx.*missing"):
        load_pack(folder)


def test_folder_is_routed_by_signature(tmp_path: Path, wheel_folder: Path, data_file) -> None:
    folder = tmp_path / "my_pack"
    folder.mkdir()
    # Names that say nothing: routing must come from the inputs and outputs.
    for i, name in enumerate(MODEL_FILES):
        (folder / f"model_{2 - i}.onnx").symlink_to(wheel_folder / name)
    pack = load_pack(folder)
    assert pack.name == "my_pack" and pack.embedding_size == 512
    routed = {f.role: f.path.resolve().name for f in pack.files}
    assert routed == {"detector": MODEL_FILES[0], "recogniser": MODEL_FILES[1], "landmarks": MODEL_FILES[2]}
    engine = FaceEngine(pack)
    image = read_image_file(data_file("vision/yaoming.jpg"))
    faces = engine.detect(image)
    assert len(faces) == 1 and engine.embed(image, faces).shape == (1, 512)


def test_unknown_file_names_its_signature(tmp_path: Path, wheel_folder: Path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    for name in MODEL_FILES:
        (folder / name).symlink_to(wheel_folder / name)
    shutil.copy(wheel_folder / "dist_cosine.onnx", folder / "dist_cosine.onnx")
    with pytest.raises(ModelPackError, match=r"dist_cosine\.onnx.*signature x1\[\?,512\], x2\[\?,512\]"):
        load_pack(folder)


def test_folder_without_a_recogniser_is_refused(tmp_path: Path, wheel_folder: Path) -> None:
    folder = tmp_path / "detector_only"
    folder.mkdir()
    (folder / "det.onnx").symlink_to(wheel_folder / MODEL_FILES[0])
    with pytest.raises(ModelPackError, match="no recogniser"):
        load_pack(folder)
