"""Collections, faces and search with Rekognition's semantics, on real galleries and real models."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.service.conftest import GALLERIES, gallery, image

from regard.errors import (
    InvalidPaginationTokenException,
    InvalidParameterException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from regard.service.app import Regard
from regard.store.records import CollectionRecord


def _index_gallery(regard: Regard, collection: str, name: str, per_person: int) -> dict[str, list[Path]]:
    """Index the first ``per_person`` images of each identity; returns the held-back images."""
    regard.invoke("CreateCollection", {"CollectionId": collection})
    held_back: dict[str, list[Path]] = {}
    for person, files in gallery(name).items():
        for path in files[:per_person]:
            response = regard.invoke(
                "IndexFaces",
                {"CollectionId": collection, "Image": image(path), "ExternalImageId": person, "MaxFaces": 1},
            )
            assert len(response["FaceRecords"]) == 1, path
        held_back[person] = files[per_person:]
    return held_back


def _rank1(regard: Regard, collection: str, held_back: dict[str, list[Path]]) -> tuple[int, int]:
    right = total = 0
    for person, files in held_back.items():
        for path in files:
            total += 1
            response = regard.invoke(
                "SearchFacesByImage",
                {"CollectionId": collection, "Image": image(path), "FaceMatchThreshold": 0, "MaxFaces": 1},
            )
            matches = response["FaceMatches"]
            if matches and matches[0]["Face"]["ExternalImageId"] == person:
                right += 1
    return right, total


@pytest.mark.parametrize(("name", "per_person", "minimum"), [("johns", 6, 0.95), ("bbt", 3, 0.9)])
def test_rank1_identification_of_held_back_images(
    regard: Regard, name: str, per_person: int, minimum: float
) -> None:
    held_back = _index_gallery(regard, name, name, per_person)
    right, total = _rank1(regard, name, held_back)
    assert total >= 10
    assert right / total >= minimum, f"rank-1 {right}/{total}"


def test_knn_examples_named_at_the_default_threshold(regard: Regard) -> None:
    regard.invoke("CreateCollection", {"CollectionId": "knn"})
    for person, files in gallery("knn/train").items():
        for path in files:
            regard.invoke(
                "IndexFaces", {"CollectionId": "knn", "Image": image(path), "ExternalImageId": person}
            )
    expected = {
        "obama1.jpg": "obama",
        "alex_lacamoire1.jpg": "alex_lacamoire",
        "johnsnow_test1.jpg": "kit_harington",
    }
    for file_name, person in expected.items():
        response = regard.invoke(
            "SearchFacesByImage",
            {"CollectionId": "knn", "Image": image(GALLERIES / "knn" / "test" / file_name)},
        )
        names = {m["Face"]["ExternalImageId"] for m in response["FaceMatches"]}
        assert names == {person}, (file_name, response["FaceMatches"])
        assert all(m["Similarity"] >= 80 for m in response["FaceMatches"])


def test_collection_lifecycle_and_describe(regard: Regard) -> None:
    created = regard.invoke("CreateCollection", {"CollectionId": "staff.2026-11"})
    assert created["StatusCode"] == 200
    assert created["CollectionArn"].endswith(":collection/staff.2026-11")
    assert created["FaceModelVersion"] == regard.engine.model_version
    with pytest.raises(ResourceAlreadyExistsException):
        regard.invoke("CreateCollection", {"CollectionId": "staff.2026-11"})
    path = gallery("johns")["John_Simm"][0]
    regard.invoke("IndexFaces", {"CollectionId": "staff.2026-11", "Image": image(path)})
    described = regard.invoke("DescribeCollection", {"CollectionId": "staff.2026-11"})
    assert described["FaceCount"] == 1
    assert described["UserCount"] == 0
    assert "CollectionARN" in described and described["CreationTimestamp"] > 0
    assert regard.invoke("DeleteCollection", {"CollectionId": "staff.2026-11"}) == {"StatusCode": 200}
    for operation in ("DescribeCollection", "DeleteCollection", "ListFaces"):
        with pytest.raises(ResourceNotFoundException):
            regard.invoke(operation, {"CollectionId": "staff.2026-11"})


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("CreateCollection", {"CollectionId": "has space"}),
        ("CreateCollection", {"CollectionId": "x" * 256}),
        ("CreateCollection", {}),
        ("IndexFaces", {"CollectionId": "c", "Image": {"Bytes": b"x"}, "ExternalImageId": "a/b"}),
        ("IndexFaces", {"CollectionId": "c", "Image": {"Bytes": b"x"}, "QualityFilter": "BEST"}),
        ("IndexFaces", {"CollectionId": "c", "Image": {"Bytes": b"x"}, "MaxFaces": 0}),
        ("SearchFaces", {"CollectionId": "c", "FaceId": "NOT-A-UUID"}),
        ("SearchFaces", {"CollectionId": "c", "FaceId": "0" * 36}),
        ("SearchFacesByImage", {"CollectionId": "c", "Image": {"Bytes": b"x"}, "FaceMatchThreshold": 101}),
        ("DeleteFaces", {"CollectionId": "c", "FaceIds": []}),
        ("ListFaces", {"CollectionId": "c", "MaxResults": 4097}),
        ("CreateUser", {"CollectionId": "c", "UserId": "u" * 129}),
        ("SearchUsers", {"CollectionId": "c"}),
    ],
)
def test_invalid_parameters_are_refused(regard: Regard, operation: str, params: dict) -> None:
    regard.invoke("CreateCollection", {"CollectionId": "c"})
    with pytest.raises(InvalidParameterException):
        regard.invoke(operation, params)


def test_index_faces_quality_filter_max_faces_and_duplicates(regard: Regard, data_file) -> None:
    regard.invoke("CreateCollection", {"CollectionId": "crowd"})
    players = data_file("vision/players.jpg").read_bytes()
    response = regard.invoke(
        "IndexFaces",
        {
            "CollectionId": "crowd",
            "Image": {"Bytes": players},
            "ExternalImageId": "players.jpg",
            "MaxFaces": 5,
        },
    )
    records = response["FaceRecords"]
    assert len(records) == 5
    areas = [r["Face"]["BoundingBox"]["Width"] * r["Face"]["BoundingBox"]["Height"] for r in records]
    assert areas == sorted(areas, reverse=True)
    reasons = [reason for u in response["UnindexedFaces"] for reason in u["Reasons"]]
    assert "EXCEEDS_MAX_FACES" in reasons
    assert len(records) + len(response["UnindexedFaces"]) <= 100
    image_ids = {r["Face"]["ImageId"] for r in records}
    assert len(image_ids) == 1
    assert all(r["Face"]["ExternalImageId"] == "players.jpg" for r in records)
    assert all(r["Face"]["IndexFacesModelVersion"] == regard.engine.index_model_version for r in records)
    # The same image, collection and ExternalImageId: no duplicate metadata.
    again = regard.invoke(
        "IndexFaces",
        {
            "CollectionId": "crowd",
            "Image": {"Bytes": players},
            "ExternalImageId": "players.jpg",
            "MaxFaces": 5,
        },
    )
    assert {r["Face"]["FaceId"] for r in again["FaceRecords"]} == {r["Face"]["FaceId"] for r in records}
    assert regard.invoke("DescribeCollection", {"CollectionId": "crowd"})["FaceCount"] == 5


def test_index_faces_without_a_face_indexes_nothing(regard: Regard, data_file) -> None:
    regard.invoke("CreateCollection", {"CollectionId": "c"})
    response = regard.invoke(
        "IndexFaces", {"CollectionId": "c", "Image": image(data_file("vision/dogs.jpg"))}
    )
    assert response["FaceRecords"] == []
    with pytest.raises(InvalidParameterException):
        regard.invoke(
            "SearchFacesByImage", {"CollectionId": "c", "Image": image(data_file("vision/dogs.jpg"))}
        )


def test_list_faces_pagination_and_filters(regard: Regard) -> None:
    _index_gallery(regard, "johns", "johns", 3)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params = {"CollectionId": "johns", "MaxResults": 4}
        if token:
            params["NextToken"] = token
        response = regard.invoke("ListFaces", params)
        assert len(response["Faces"]) <= 4
        assert response["FaceModelVersion"] == regard.engine.model_version
        seen.extend(face["FaceId"] for face in response["Faces"])
        pages += 1
        token = response.get("NextToken")
        if not token:
            break
    assert len(seen) == len(set(seen)) == 15
    assert pages == 4
    some = seen[:3]
    filtered = regard.invoke("ListFaces", {"CollectionId": "johns", "FaceIds": some})
    assert sorted(f["FaceId"] for f in filtered["Faces"]) == sorted(some)
    with pytest.raises(InvalidPaginationTokenException):
        regard.invoke("ListFaces", {"CollectionId": "johns", "NextToken": token or "bm90LWEtdG9rZW4"})
    first = regard.invoke("ListFaces", {"CollectionId": "johns", "MaxResults": 2})
    regard.invoke("CreateCollection", {"CollectionId": "other"})
    with pytest.raises(InvalidPaginationTokenException):  # a token only pages the listing it came from
        regard.invoke("ListFaces", {"CollectionId": "other", "NextToken": first["NextToken"]})


def test_list_collections_pages(regard: Regard) -> None:
    names = [f"c{i:02d}" for i in range(7)]
    for name in names:
        regard.invoke("CreateCollection", {"CollectionId": name})
    collected: list[str] = []
    params: dict = {"MaxResults": 3}
    while True:
        response = regard.invoke("ListCollections", params)
        assert len(response["CollectionIds"]) == len(response["FaceModelVersions"])
        collected.extend(response["CollectionIds"])
        if "NextToken" not in response:
            break
        params = {"MaxResults": 3, "NextToken": response["NextToken"]}
    assert collected == names


def test_search_faces_by_face_id_and_delete_faces(regard: Regard) -> None:
    _index_gallery(regard, "johns", "johns", 4)
    faces = regard.invoke("ListFaces", {"CollectionId": "johns"})["Faces"]
    simm = [f for f in faces if f["ExternalImageId"] == "John_Simm"]
    response = regard.invoke("SearchFaces", {"CollectionId": "johns", "FaceId": simm[0]["FaceId"]})
    assert response["SearchedFaceId"] == simm[0]["FaceId"]
    found = [m["Face"] for m in response["FaceMatches"]]
    assert simm[0]["FaceId"] not in {f["FaceId"] for f in found}
    assert found and all(f["ExternalImageId"] == "John_Simm" for f in found)
    similarities = [m["Similarity"] for m in response["FaceMatches"]]
    assert similarities == sorted(similarities, reverse=True)

    missing = "00000000-0000-4000-8000-000000000000"
    deleted = regard.invoke(
        "DeleteFaces", {"CollectionId": "johns", "FaceIds": [f["FaceId"] for f in simm] + [missing]}
    )
    assert sorted(deleted["DeletedFaces"]) == sorted(f["FaceId"] for f in simm)
    assert deleted["UnsuccessfulFaceDeletions"] == [{"FaceId": missing, "Reasons": ["FACE_NOT_FOUND"]}]
    probe = gallery("johns")["John_Simm"][-1]
    after = regard.invoke(
        "SearchFacesByImage", {"CollectionId": "johns", "Image": image(probe), "FaceMatchThreshold": 0}
    )
    assert all(m["Face"]["ExternalImageId"] != "John_Simm" for m in after["FaceMatches"])
    with pytest.raises(ResourceNotFoundException):
        regard.invoke("SearchFaces", {"CollectionId": "johns", "FaceId": simm[0]["FaceId"]})


def test_collection_bound_to_its_model_version(regard: Regard) -> None:
    regard.store.create_collection(
        CollectionRecord(
            collection_id="legacy",
            face_model_version="antelopev2/1.0",
            embedding_size=512,
            created_at=0.0,
        )
    )
    path = gallery("johns")["John_Simm"][0]
    with pytest.raises(InvalidParameterException, match="antelopev2"):
        regard.invoke("IndexFaces", {"CollectionId": "legacy", "Image": image(path)})
    with pytest.raises(InvalidParameterException, match="antelopev2"):
        regard.invoke("SearchFacesByImage", {"CollectionId": "legacy", "Image": image(path)})


def test_data_survives_a_restart(tmp_path: Path, engine) -> None:
    data = tmp_path / "data"
    with Regard.open(data, engine=engine) as first:
        _index_gallery(first, "johns", "johns", 2)
        before = first.invoke("ListFaces", {"CollectionId": "johns"})["Faces"]
    with Regard.open(data, engine=engine) as second:
        after = second.invoke("ListFaces", {"CollectionId": "johns"})["Faces"]
        assert after == before
        probe = gallery("johns")["John_Salley"][-1]
        response = second.invoke("SearchFacesByImage", {"CollectionId": "johns", "Image": image(probe)})
        assert response["FaceMatches"][0]["Face"]["ExternalImageId"] == "John_Salley"


def test_list_collections_pages_through_ids_too_long_for_a_token(regard: Regard) -> None:
    names = sorted(f"{i}-" + "x" * 250 for i in range(3))  # 252 characters: a token cannot carry them
    for name in names:
        regard.invoke("CreateCollection", {"CollectionId": name})
    seen: list[str] = []
    params: dict = {"MaxResults": 1}
    while True:
        response = regard.invoke("ListCollections", params)
        seen.extend(response["CollectionIds"])
        if "NextToken" not in response:
            break
        assert len(response["NextToken"]) <= 255
        params = {"MaxResults": 1, "NextToken": response["NextToken"]}
    assert seen == names
