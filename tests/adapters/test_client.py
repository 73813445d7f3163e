"""``regard.Client``: boto3's calls in-process, with estimated false-match rates on every match."""

from __future__ import annotations

from pathlib import Path

import pytest

import regard
from regard.errors import ResourceNotFoundException

JOHNS = Path(__file__).resolve().parents[1] / "data" / "galleries" / "johns"


def test_client_speaks_boto3_calls_and_adds_false_match_rates(tmp_path: Path, engine) -> None:
    salley = sorted((JOHNS / "John_Salley").iterdir())
    with regard.Client(tmp_path / "data", engine=engine) as client:
        assert "index_faces" in dir(client)
        client.create_collection(CollectionId="staff")
        indexed = client.index_faces(
            CollectionId="staff", Image={"Bytes": salley[0].read_bytes()}, ExternalImageId="salley"
        )
        assert len(indexed["FaceRecords"]) == 1
        found = client.search_faces_by_image(CollectionId="staff", Image={"Bytes": salley[1].read_bytes()})
        match = found["FaceMatches"][0]
        assert match["Face"]["ExternalImageId"] == "salley"
        assert match["Similarity"] >= 80
        assert 0 <= match["EstimatedFalseMatchRate"] <= match["FalseMatchRateUpperBound"] < 0.01
        with pytest.raises(ResourceNotFoundException):
            client.describe_collection(CollectionId="missing")
        with pytest.raises(AttributeError):
            client.detect_labels  # noqa: B018  (Rekognition operations Regard does not offer do not exist)
