"""``regard.Client(...).recognize_faces``: boto3's call shape in-process, with false-match rates per match."""

from __future__ import annotations

from pathlib import Path

import pytest

import regard
from regard.errors import InvalidParameterException, ResourceNotFoundException

KNN = Path(__file__).resolve().parents[1] / "data" / "galleries" / "knn"


def test_recognize_faces_names_faces_with_false_match_rates(tmp_path: Path, engine) -> None:
    with regard.Client(tmp_path / "data", engine=engine) as client:
        assert "recognize_faces" in dir(client)
        client.create_collection(CollectionId="knn")
        for person in ("obama", "biden"):
            for path in sorted((KNN / "train" / person).iterdir()):
                client.index_faces(
                    CollectionId="knn", Image={"Bytes": path.read_bytes()}, ExternalImageId=person, MaxFaces=1
                )
        group = {"Bytes": (KNN / "test" / "obama_and_biden.jpg").read_bytes()}
        response = client.recognize_faces(CollectionId="knn", Image=group, MaxMatchesPerFace=2)
        named = {r["FaceMatches"][0]["Face"]["ExternalImageId"] for r in response["RecognizedFaces"]}
        assert named == {"obama", "biden"}
        for recognized in response["RecognizedFaces"]:
            assert len(recognized["FaceMatches"]) == 2  # two images of each person were indexed
            for match in recognized["FaceMatches"]:
                assert match["Similarity"] >= 80
                assert 0 <= match["EstimatedFalseMatchRate"] <= match["FalseMatchRateUpperBound"] < 0.01
        assert all("EstimatedFalseMatchRate" not in u for u in response["UnrecognizedFaces"])
        kit = {"Bytes": (KNN / "test" / "kit_with_rose.jpg").read_bytes()}
        strangers = client.recognize_faces(CollectionId="knn", Image=kit)
        assert strangers["RecognizedFaces"] == [] and len(strangers["UnrecognizedFaces"]) == 2
        with pytest.raises(ResourceNotFoundException):
            client.recognize_faces(CollectionId="missing", Image=group)
        with pytest.raises(InvalidParameterException):
            client.recognize_faces(CollectionId="knn", Image=group, FaceMatchThreshold=150)
