"""RecognizeFaces on real photos against a real gallery: names, unknown faces, filters, errors and audit."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from tests.service.conftest import GALLERIES, gallery, image

from regard.errors import (
    AccessDeniedException,
    InvalidImageFormatException,
    InvalidParameterException,
    ResourceNotFoundException,
)
from regard.service.app import Regard
from regard.service.context import RequestContext
from regard.service.faces import face_detail, quality_filter_reasons
from regard.service.searching import matches
from regard.store.records import AuditRecord, CollectionRecord
from regard.vision.image import decode_image

KNN_TEST = GALLERIES / "knn" / "test"
GROUP = KNN_TEST / "obama_and_biden.jpg"


def _index_knn(regard: Regard, collection: str = "knn", skip: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Index every training image of the knn gallery; returns person -> face IDs."""
    regard.invoke("CreateCollection", {"CollectionId": collection})
    ids: dict[str, list[str]] = {}
    for person, files in gallery("knn/train").items():
        if person in skip:
            continue
        for path in files:
            response = regard.invoke(
                "IndexFaces",
                {"CollectionId": collection, "Image": image(path), "ExternalImageId": person, "MaxFaces": 1},
            )
            ids.setdefault(person, []).append(response["FaceRecords"][0]["Face"]["FaceId"])
    return ids


def _recognize(regard: Regard, path: Path, ctx: RequestContext | None = None, **params: object) -> dict:
    return regard.invoke(
        "RecognizeFaces", {"CollectionId": "knn", "Image": image(path), **params}, ctx or RequestContext()
    )


def _names(response: dict) -> list[str]:
    return [r["FaceMatches"][0]["Face"]["ExternalImageId"] for r in response["RecognizedFaces"]]


def _audited(regard: Regard, collection_id: str | None = None) -> list[AuditRecord]:
    records = regard.store.list_audit(collection_id=collection_id)
    return [r for r in records if r.entry.operation == "RecognizeFaces"]


def _left(entry: dict) -> float:
    return float(entry["Face"]["BoundingBox"]["Left"])


def test_names_everyone_known_and_agrees_with_one_search_per_face(regard: Regard) -> None:
    _index_knn(regard)
    response = _recognize(regard, GROUP)
    assert set(response) == {"RecognizedFaces", "UnrecognizedFaces", "FaceModelVersion"}
    assert response["FaceModelVersion"] == regard.engine.model_version
    assert sorted(_names(response)) == ["biden", "obama"]
    biden, obama = sorted(response["RecognizedFaces"], key=_left)  # Biden stands left of Obama
    assert biden["FaceMatches"][0]["Face"]["ExternalImageId"] == "biden"
    assert obama["FaceMatches"][0]["Face"]["ExternalImageId"] == "obama"
    # Every face is answered exactly as SearchFacesByImage's search of that one face would be.
    decoded = decode_image(GROUP.read_bytes())
    faces = regard.engine.detect(decoded, max_faces=100)
    vectors = regard.engine.embed(decoded, faces)
    answered = {json.dumps(r["Face"]["BoundingBox"]): r for r in response["RecognizedFaces"]}
    answered |= {json.dumps(u["Face"]["BoundingBox"]): u for u in response["UnrecognizedFaces"]}
    assert len(answered) == len(faces)
    for face, vector in zip(faces, vectors, strict=True):
        detail = face_detail(face, decoded)
        entry = answered[json.dumps(detail["BoundingBox"])]
        assert entry["Face"] == detail  # the FaceDetail DetectFaces gives
        one = matches(regard, "knn", vector, threshold=80.0, max_faces=1)
        got = [(m["Face"]["FaceId"], m["Similarity"]) for m in entry.get("FaceMatches", [])]
        assert got == [(record.face_id, round(similarity, 5)) for record, similarity in one]
    # Faces come largest first within each list.
    for key in ("RecognizedFaces", "UnrecognizedFaces"):
        boxes = [e["Face"]["BoundingBox"] for e in response[key]]
        areas = [box["Width"] * box["Height"] for box in boxes]
        assert areas == sorted(areas, reverse=True)


def test_unknown_faces_are_unrecognized(regard: Regard) -> None:
    _index_knn(regard, skip=("biden",))
    response = _recognize(regard, GROUP)
    assert _names(response) == ["obama"]
    unknown = response["UnrecognizedFaces"]
    assert unknown and all(u["Reasons"] == ["NO_MATCH"] and "FaceMatches" not in u for u in unknown)
    lefts = sorted(_left(u) for u in unknown)
    assert lefts[0] < _left(response["RecognizedFaces"][0])  # Biden, left of Obama, is now unknown
    couple = _recognize(regard, KNN_TEST / "kit_with_rose.jpg")
    assert sorted(_names(couple)) == ["kit_harington", "rose_leslie"] and couple["UnrecognizedFaces"] == []


def test_several_matches_per_face_users_and_thresholds(regard: Regard) -> None:
    ids = _index_knn(regard)
    regard.invoke("CreateUser", {"CollectionId": "knn", "UserId": "barack"})
    regard.invoke("AssociateFaces", {"CollectionId": "knn", "UserId": "barack", "FaceIds": ids["obama"]})
    response = _recognize(regard, KNN_TEST / "obama1.jpg", MaxMatchesPerFace=5)
    (face,) = response["RecognizedFaces"]
    found = face["FaceMatches"]
    assert {m["Face"]["FaceId"] for m in found} == set(ids["obama"])  # both Obama faces, no one else
    assert all(m["Face"]["UserId"] == "barack" for m in found)
    assert [m["Similarity"] for m in found] == sorted((m["Similarity"] for m in found), reverse=True)
    assert set(found[0]["Face"]) == {
        "FaceId",
        "BoundingBox",
        "ImageId",
        "ExternalImageId",
        "Confidence",
        "IndexFacesModelVersion",
        "UserId",
    }
    everyone = _recognize(regard, KNN_TEST / "obama1.jpg", MaxMatchesPerFace=100, FaceMatchThreshold=0)
    assert len(everyone["RecognizedFaces"][0]["FaceMatches"]) == sum(len(v) for v in ids.values())
    top = found[0]["Similarity"]
    above = _recognize(regard, KNN_TEST / "obama1.jpg", FaceMatchThreshold=min(100.0, top + 0.01))
    assert above["RecognizedFaces"] == [] and above["UnrecognizedFaces"][0]["Reasons"] == ["NO_MATCH"]


def test_max_faces_and_quality_filter(regard: Regard, data_file) -> None:
    _index_knn(regard)
    largest = _recognize(regard, GROUP, MaxFaces=1)
    assert len(largest["RecognizedFaces"]) + len(largest["UnrecognizedFaces"]) == 1
    players = data_file("vision/players.jpg")
    loose = _recognize(regard, players)
    strict = _recognize(regard, players, QualityFilter="HIGH")
    assert len(loose["RecognizedFaces"]) + len(loose["UnrecognizedFaces"]) == 100
    assert len(strict["RecognizedFaces"]) + len(strict["UnrecognizedFaces"]) == 100
    assert loose["RecognizedFaces"] == []  # nobody of the knn gallery plays in that team
    decoded = decode_image(players.read_bytes())
    expected = [quality_filter_reasons(f, decoded, "HIGH") for f in regard.engine.detect(decoded)]
    filtered = [u["Reasons"] for u in strict["UnrecognizedFaces"] if u["Reasons"] != ["NO_MATCH"]]
    assert filtered == [reasons for reasons in expected if reasons] and len(filtered) > 10


def test_a_photo_without_faces_answers_empty_lists(regard: Regard, data_file) -> None:
    _index_knn(regard)
    response = _recognize(regard, data_file("vision/dogs.jpg"))
    assert response["RecognizedFaces"] == [] and response["UnrecognizedFaces"] == []
    (record,) = _audited(regard, "knn")
    assert record.entry.details["faces"] == 0 and record.entry.details["matches"] == []


def test_audit_record_names_every_match(regard: Regard) -> None:
    ids = _index_knn(regard)
    regard.invoke("CreateUser", {"CollectionId": "knn", "UserId": "joe"})
    regard.invoke("AssociateFaces", {"CollectionId": "knn", "UserId": "joe", "FaceIds": ids["biden"]})
    ctx = RequestContext(access_key="AKIATESTTESTTEST0001", scope="search", client="test")
    response = _recognize(regard, GROUP, ctx, MaxMatchesPerFace=2)
    (record,) = _audited(regard, "knn")
    details = record.entry.details
    assert record.entry.access_key == ctx.access_key and record.entry.request_id == ctx.request_id
    assert details["probe_sha256"] == hashlib.sha256(GROUP.read_bytes()).hexdigest()
    assert details["threshold"] == 80.0 and details["faces"] == 3
    assert (details["recognized"], details["unrecognized"]) == (2, 1)
    returned = [m for r in response["RecognizedFaces"] for m in r["FaceMatches"]]
    assert details["matched_face_ids"] == [m["Face"]["FaceId"] for m in returned]
    assert set(details["matched_face_ids"]) == set(ids["biden"] + ids["obama"])
    assert details["matches"] == [
        {"face_id": m["Face"]["FaceId"], "similarity": m["Similarity"]}
        | ({"user_id": "joe"} if m["Face"]["FaceId"] in ids["biden"] else {})
        for m in returned
    ]
    assert len(json.dumps(details)) < 2000  # IDs, scores and a digest: never image bytes


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"CollectionId": "missing"}, ResourceNotFoundException),
        ({"FaceMatchThreshold": 101}, InvalidParameterException),
        ({"FaceMatchThreshold": -1}, InvalidParameterException),
        ({"FaceMatchThreshold": "80"}, InvalidParameterException),
        ({"MaxFaces": 0}, InvalidParameterException),
        ({"MaxFaces": 101}, InvalidParameterException),
        ({"MaxFaces": True}, InvalidParameterException),
        ({"MaxMatchesPerFace": 0}, InvalidParameterException),
        ({"MaxMatchesPerFace": 101}, InvalidParameterException),
        ({"QualityFilter": "BEST"}, InvalidParameterException),
        ({"CollectionId": "bad/id"}, InvalidParameterException),
        ({"Image": {"Bytes": b"not an image at all" * 20}}, InvalidImageFormatException),
        ({"Image": {}}, InvalidParameterException),
        ({"Image": None}, InvalidParameterException),
    ],
)
def test_errors(regard: Regard, params: dict, error: type[Exception]) -> None:
    regard.invoke("CreateCollection", {"CollectionId": "knn"})
    request = {"CollectionId": "knn", "Image": image(GROUP), **params}
    with pytest.raises(error):
        regard.invoke("RecognizeFaces", request)
    (failed,) = _audited(regard)
    assert failed.entry.details["outcome"] == "error"


def test_scope_and_model_version(regard: Regard) -> None:
    regard.invoke("CreateCollection", {"CollectionId": "knn"})
    request = {"CollectionId": "knn", "Image": image(KNN_TEST / "obama1.jpg")}
    with pytest.raises(AccessDeniedException):
        regard.invoke("RecognizeFaces", request, RequestContext(scope="detect"))
    assert regard.invoke("RecognizeFaces", request, RequestContext(scope="search"))["RecognizedFaces"] == []
    regard.store.create_collection(
        CollectionRecord(
            collection_id="legacy", face_model_version="antelopev2/1.0", embedding_size=512, created_at=0.0
        )
    )
    with pytest.raises(InvalidParameterException, match="antelopev2"):
        regard.invoke("RecognizeFaces", {**request, "CollectionId": "legacy"})


def test_batch_search_reaches_the_index_once(regard: Regard, monkeypatch: pytest.MonkeyPatch) -> None:
    """All faces of the photo go to the store in one batch, never one search per face."""
    _index_knn(regard)
    calls: list[int] = []
    batch = regard.store.search_faces_batch

    def counted(collection_id: str, queries: np.ndarray, **kwargs: object) -> object:
        calls.append(len(queries))
        return batch(collection_id, queries, **kwargs)

    def refused(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("RecognizeFaces searched one face at a time")

    monkeypatch.setattr(regard.store, "search_faces_batch", counted)
    monkeypatch.setattr(regard.store, "search_faces", refused)
    response = _recognize(regard, GROUP)
    assert calls == [3] and len(response["RecognizedFaces"]) == 2


def test_a_purpose_bound_collection_needs_a_stated_purpose(regard: Regard) -> None:
    regard.invoke("CreateCollection", {"CollectionId": "knn", "Tags": {"regard:require-purpose": "true"}})
    request = {"CollectionId": "knn", "Image": image(KNN_TEST / "obama1.jpg")}
    with pytest.raises(AccessDeniedException, match="purpose"):
        regard.invoke("RecognizeFaces", request, RequestContext(scope="search"))
    regard.invoke("RecognizeFaces", request, RequestContext(scope="search", purpose="case 42: door camera"))
    records = _audited(regard, "knn")
    assert [r.entry.details.get("purpose") for r in records] == [None, "case 42: door camera"]
