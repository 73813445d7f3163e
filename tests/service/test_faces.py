"""Faces in Rekognition's shapes; same and different people on real photographs at threshold 80."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from regard.errors import InvalidParameterException
from regard.service.faces import (
    bounding_box,
    compare_faces,
    compared_face,
    detect_faces,
    face_detail,
    quality_filter_reasons,
)
from regard.vision.image import read_image_file
from regard.vision.similarity import similarities_from_cosines


@pytest.fixture(scope="module")
def photos(data_file):
    names = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "players.jpg", "yaoming.jpg", "dogs.jpg")
    return {name.split(".")[0]: read_image_file(data_file(f"vision/{name}")) for name in names}


def test_detect_faces_body(engine, photos) -> None:
    body = detect_faces(engine, photos["obama"])
    assert list(body) == ["FaceDetails"] and len(body["FaceDetails"]) == 1
    detail = body["FaceDetails"][0]
    assert set(detail) == {"BoundingBox", "Landmarks", "Pose", "Quality", "Confidence"}
    box = detail["BoundingBox"]
    assert set(box) == {"Width", "Height", "Left", "Top"} and 0 < box["Width"] < 1 and 0 < box["Top"] < 1
    assert 50 <= detail["Confidence"] <= 100
    types = [p["Type"] for p in detail["Landmarks"]]
    assert types == ["eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight"]
    assert all(0 <= p["X"] <= 1 and 0 <= p["Y"] <= 1 for p in detail["Landmarks"])
    assert set(detail["Pose"]) == {"Roll", "Yaw", "Pitch"} and set(detail["Quality"]) == {
        "Brightness",
        "Sharpness",
    }


def test_all_attributes_add_landmarks_and_no_demographics(engine, photos) -> None:
    everything = detect_faces(engine, photos["obama"], attributes=["ALL"])["FaceDetails"][0]
    default = detect_faces(engine, photos["obama"])["FaceDetails"][0]
    assert len(everything["Landmarks"]) == 30 and everything["Landmarks"][:5] == default["Landmarks"]
    assert {k: v for k, v in everything.items() if k != "Landmarks"} == {
        k: v for k, v in default.items() if k != "Landmarks"
    }


def test_unknown_attribute_is_invalid(engine, photos) -> None:
    with pytest.raises(InvalidParameterException):
        detect_faces(engine, photos["obama"], attributes=["AGE"])


def test_detect_faces_limits(engine, photos) -> None:
    assert len(detect_faces(engine, photos["players"])["FaceDetails"]) == 100
    assert len(detect_faces(engine, photos["players"], max_faces=None)["FaceDetails"]) >= 100
    assert detect_faces(engine, photos["dogs"]) == {"FaceDetails": []}
    with pytest.raises(InvalidParameterException):
        detect_faces(engine, photos["obama"], max_faces=0)


def test_bounding_box_is_in_ratios(engine, photos) -> None:
    image = photos["obama"]
    face = engine.detect(image)[0]
    box = bounding_box(face, image)
    assert box["Left"] * image.width == pytest.approx(float(face.box[0]))
    assert box["Height"] * image.height == pytest.approx(face.height)
    assert set(compared_face(face, image)) == {"BoundingBox", "Confidence", "Landmarks", "Pose", "Quality"}
    assert face_detail(face, image)["Confidence"] == pytest.approx(face.score * 100)


@pytest.mark.parametrize("other", ["obama2", "obama3"])
def test_same_person_matches(engine, photos, other: str) -> None:
    body = compare_faces(engine, photos["obama"], photos[other])
    assert len(body["FaceMatches"]) == 1 and body["UnmatchedFaces"] == []
    assert body["FaceMatches"][0]["Similarity"] >= 80
    assert set(body["SourceImageFace"]) == {"BoundingBox", "Confidence"}


def test_different_person_does_not_match(engine, photos) -> None:
    body = compare_faces(engine, photos["obama"], photos["biden"])
    assert body["FaceMatches"] == [] and len(body["UnmatchedFaces"]) == 1
    low = compare_faces(engine, photos["obama"], photos["biden"], similarity_threshold=0)
    assert low["FaceMatches"][0]["Similarity"] < 80


def test_player_is_found_in_the_crowd(engine, photos) -> None:
    # README of ../shared/data: the match is the face at about x 720-764, y 142-192 in players.jpg.
    body = compare_faces(engine, photos["yaoming"], photos["players"])
    assert len(body["FaceMatches"]) == 1
    assert len(body["FaceMatches"]) + len(body["UnmatchedFaces"]) == 100
    box = body["FaceMatches"][0]["Face"]["BoundingBox"]
    centre_x = (box["Left"] + box["Width"] / 2) * photos["players"].width
    centre_y = (box["Top"] + box["Height"] / 2) * photos["players"].height
    assert 720 <= centre_x <= 764 and 142 <= centre_y <= 192
    similarities = [m["Similarity"] for m in body["FaceMatches"]]
    assert similarities == sorted(similarities, reverse=True)


def test_no_face_in_source_or_target_is_invalid(engine, photos) -> None:
    with pytest.raises(InvalidParameterException, match="source"):
        compare_faces(engine, photos["dogs"], photos["obama"])
    with pytest.raises(InvalidParameterException, match="target"):
        compare_faces(engine, photos["obama"], photos["dogs"])


@pytest.mark.parametrize("threshold", [-1, 100.5, "80", None])
def test_threshold_is_validated(engine, photos, threshold) -> None:
    with pytest.raises(InvalidParameterException):
        compare_faces(engine, photos["obama"], photos["obama2"], similarity_threshold=threshold)


def _gallery_vectors(engine, data_file, name: str, per_person: int):
    root = data_file(f"galleries/{name}")
    labels, vectors = [], []
    for person in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(person.iterdir())[:per_person]:
            image = read_image_file(path)
            faces = engine.detect(image, max_faces=1)
            assert len(faces) == 1, path
            labels.append(person.name)
            vectors.append(engine.embed(image, faces)[0])
    return labels, np.stack(vectors)


@pytest.mark.parametrize(("gallery", "per_person", "max_fnmr"), [("johns", 4, 0.0), ("bbt", 3, 0.1)])
def test_same_and_different_people_in_galleries(
    engine, data_file, gallery: str, per_person: int, max_fnmr: float
) -> None:
    labels, vectors = _gallery_vectors(engine, data_file, gallery, per_person)
    genuine, impostor = [], []
    for i, j in itertools.combinations(range(len(labels)), 2):
        (genuine if labels[i] == labels[j] else impostor).append(float(vectors[i] @ vectors[j]))
    assert similarities_from_cosines(np.array(impostor)).max() < 80
    assert (similarities_from_cosines(np.array(genuine)) < 80).mean() <= max_fnmr


def test_quality_filter_reasons(engine, photos, data_file) -> None:
    image = photos["obama"]
    face = engine.detect(image)[0]
    assert all(
        quality_filter_reasons(face, image, level) == [] for level in ("NONE", "LOW", "AUTO", "MEDIUM")
    )
    players = photos["players"]
    small = engine.detect(players, max_faces=None)[-1]
    assert "SMALL_BOUNDING_BOX" in quality_filter_reasons(small, players, "AUTO")
    assert quality_filter_reasons(small, players, "NONE") == []
    blur = read_image_file(data_file("vision/blur.jpg"))
    assert "LOW_SHARPNESS" in quality_filter_reasons(engine.detect(blur)[0], blur, "HIGH")
    turned = read_image_file(data_file("vision/pose/left_face.jpeg"))
    assert "EXTREME_POSE" in quality_filter_reasons(engine.detect(turned)[0], turned, "HIGH")
    with pytest.raises(InvalidParameterException):
        quality_filter_reasons(face, image, "BEST")


def test_compare_with_quality_filter_drops_small_target_faces(engine, photos) -> None:
    loose = compare_faces(engine, photos["yaoming"], photos["players"], quality_filter="NONE")
    strict = compare_faces(engine, photos["yaoming"], photos["players"], quality_filter="MEDIUM")
    assert len(strict["UnmatchedFaces"]) < len(loose["UnmatchedFaces"])
