"""Every search answerable: the probe's hash and the matches in the audit record, a stated purpose, a
purpose-bound collection, and a person's access report that still names their erased faces."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

import regard as regard_api
from regard.errors import AccessDeniedException, InvalidParameterException
from regard.service.app import Regard
from regard.service.context import RequestContext
from regard.service.retention import erase

AWS = Path(__file__).resolve().parents[1] / "data" / "aws"
OBAMA, OBAMA_SMALL, BIDEN = ((AWS / n).read_bytes() for n in ("obama2.jpg", "obama-240p.jpg", "biden.jpg"))
PURPOSE = "case 2026-0142: identify the person in the shop camera still"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def last(app: Regard, operation: str) -> dict:
    records = [r for r in app.store.iter_audit() if r.entry.operation == operation]
    assert records, f"no {operation} record"
    return records[-1].entry.details


def _gallery(app: Regard, ctx: RequestContext, collection: str, **tags: str) -> dict[str, str]:
    app.invoke("CreateCollection", {"CollectionId": collection, "Tags": tags}, ctx)
    faces = {}
    for name, data in (("obama", OBAMA), ("biden", BIDEN)):
        body = app.invoke(
            "IndexFaces", {"CollectionId": collection, "Image": {"Bytes": data}, "ExternalImageId": name}, ctx
        )
        faces[name] = body["FaceRecords"][0]["Face"]["FaceId"]
    return faces


def test_search_by_image_records_probe_hash_matches_and_purpose(regard: Regard, ctx: RequestContext) -> None:
    faces = _gallery(regard, ctx, "people")
    asked = dataclasses.replace(ctx, purpose=PURPOSE)
    body = regard.invoke(
        "SearchFacesByImage", {"CollectionId": "people", "Image": {"Bytes": OBAMA_SMALL}}, asked
    )
    details = last(regard, "SearchFacesByImage")
    assert details["probe_sha256"] == sha(OBAMA_SMALL) and details["purpose"] == PURPOSE
    assert [m["face_id"] for m in details["matches"]] == [faces["obama"]] == details["matched_face_ids"]
    assert details["matches"][0]["similarity"] == pytest.approx(
        body["FaceMatches"][0]["Similarity"], abs=1e-4
    )
    assert "Bytes" not in json.dumps(details) and len(json.dumps(details)) < 1000  # never the image

    regard.invoke("CreateUser", {"CollectionId": "people", "UserId": "barack"}, ctx)
    regard.invoke(
        "AssociateFaces", {"CollectionId": "people", "UserId": "barack", "FaceIds": [faces["obama"]]}, ctx
    )
    regard.invoke("SearchUsersByImage", {"CollectionId": "people", "Image": {"Bytes": OBAMA_SMALL}}, ctx)
    details = last(regard, "SearchUsersByImage")
    assert details["probe_sha256"] == sha(OBAMA_SMALL) and "purpose" not in details
    assert [m["user_id"] for m in details["matches"]] == ["barack"] and details["matches"][0][
        "similarity"
    ] > 80
    regard.invoke("SearchFacesByImage", {"CollectionId": "people", "Image": {"Bytes": OBAMA_SMALL}}, ctx)
    assert last(regard, "SearchFacesByImage")["matches"][0]["user_id"] == "barack"

    regard.invoke(
        "CompareFaces", {"SourceImage": {"Bytes": OBAMA_SMALL}, "TargetImage": {"Bytes": OBAMA}}, asked
    )
    details = last(regard, "CompareFaces")
    assert (details["probe_sha256"], details["target_sha256"]) == (sha(OBAMA_SMALL), sha(OBAMA))
    assert len(details["matches"]) == 1 and details["matches"][0]["similarity"] > 80
    assert details["purpose"] == PURPOSE


def test_purpose_bound_collection_refuses_searches_without_a_purpose(
    regard: Regard, ctx: RequestContext
) -> None:
    faces = _gallery(regard, ctx, "bound", **{"regard:require-purpose": "true"})
    assert regard.invoke("DescribeCollection", {"CollectionId": "bound"}, ctx)["RegardRequirePurpose"] is True
    probe = {"CollectionId": "bound", "Image": {"Bytes": OBAMA_SMALL}}
    for operation, params in (
        ("SearchFacesByImage", probe),
        ("SearchUsersByImage", probe),
        ("SearchFaces", {"CollectionId": "bound", "FaceId": faces["obama"]}),
    ):
        with pytest.raises(AccessDeniedException, match="requires a stated purpose"):
            regard.invoke(operation, params, ctx)
        failed = last(regard, operation)
        assert failed == {"outcome": "error", "error": "AccessDeniedException"}
    found = regard.invoke("SearchFacesByImage", probe, dataclasses.replace(ctx, purpose=PURPOSE))
    assert found["FaceMatches"][0]["Face"]["FaceId"] == faces["obama"]
    # An ordinary collection answers without one; a bad tag value is refused at creation.
    _gallery(regard, ctx, "open")
    assert regard.invoke("DescribeCollection", {"CollectionId": "open"}, ctx)["RegardRequirePurpose"] is False
    assert regard.invoke("SearchFacesByImage", {**probe, "CollectionId": "open"}, ctx)["FaceMatches"]
    with pytest.raises(InvalidParameterException):
        regard.invoke(
            "CreateCollection", {"CollectionId": "x", "Tags": {"regard:require-purpose": "yes"}}, ctx
        )


def test_subject_report_names_searches_of_erased_faces(regard: Regard, ctx: RequestContext) -> None:
    faces = _gallery(regard, ctx, "people")
    second = regard.invoke(
        "IndexFaces",
        {"CollectionId": "people", "Image": {"Bytes": OBAMA_SMALL}, "ExternalImageId": "obama"},
        ctx,
    )["FaceRecords"][0]["Face"]["FaceId"]
    regard.invoke("CreateUser", {"CollectionId": "people", "UserId": "barack"}, ctx)
    regard.invoke(
        "AssociateFaces",
        {"CollectionId": "people", "UserId": "barack", "FaceIds": [faces["obama"], second]},
        ctx,
    )
    searcher = RequestContext(access_key="AKIASEARCHSEARCH0001", client="test", purpose=PURPOSE)
    regard.invoke("SearchFacesByImage", {"CollectionId": "people", "Image": {"Bytes": OBAMA}}, searcher)
    regard.invoke("SearchFacesByImage", {"CollectionId": "people", "Image": {"Bytes": BIDEN}}, searcher)
    erase(regard, "people", user_id="barack", external_image_id=None, ctx=ctx)
    assert (
        regard.store.list_faces("people", after=None, limit=10, user_id=None)[0].external_image_id == "biden"
    )

    for subject in ({"UserId": "barack"}, {"ExternalImageId": "obama"}, {"FaceId": faces["obama"]}):
        report = regard.invoke("ListSubjectAuditRecords", {"CollectionId": "people", **subject}, ctx)
        lines = report["Records"]
        searches = [line for line in lines if line["Operation"] == "SearchFacesByImage"]
        assert len(searches) == 1, lines  # the search with Biden's photo did not find this person
        hit = searches[0]
        assert hit["Role"] == "RETURNED" and hit["AccessKeyId"] == "AKIASEARCHSEARCH0001"
        assert hit["ProbeSha256"] == sha(OBAMA) and hit["Purpose"] == PURPOSE and hit["Similarity"] > 80
        assert faces["obama"] in hit["FaceIds"] and faces["biden"] not in report["FaceIds"]
        operations = [line["Operation"] for line in lines]
        assert "IndexFaces" in operations and "Erase" in operations
        assert faces["obama"] in report["FaceIds"]
    # Both erased faces are found again from the history alone, and the reports themselves are audited.
    by_user = regard.invoke("ListSubjectAuditRecords", {"CollectionId": "people", "UserId": "barack"}, ctx)
    assert set(by_user["FaceIds"]) == {faces["obama"], second}
    assert last(regard, "ListSubjectAuditRecords")["subject"] == {"user_id": "barack"}
    with pytest.raises(InvalidParameterException):
        regard.invoke("ListSubjectAuditRecords", {"CollectionId": "people"}, ctx)
    with pytest.raises(AccessDeniedException):
        regard.invoke(
            "ListSubjectAuditRecords",
            {"CollectionId": "people", "UserId": "barack"},
            RequestContext(scope="search"),
        )


def test_python_client_takes_purpose(tmp_path: Path, engine) -> None:
    with regard_api.Client(tmp_path / "data", engine=engine) as client:
        client.create_collection(CollectionId="bound", Tags={"regard:require-purpose": "true"})
        client.index_faces(CollectionId="bound", Image={"Bytes": OBAMA})
        with pytest.raises(AccessDeniedException):
            client.search_faces_by_image(CollectionId="bound", Image={"Bytes": OBAMA_SMALL})
        with pytest.raises(InvalidParameterException):
            client.search_faces_by_image(CollectionId="bound", Image={"Bytes": OBAMA_SMALL}, Purpose="a\nb")
        found = client.search_faces_by_image(
            CollectionId="bound", Image={"Bytes": OBAMA_SMALL}, Purpose=PURPOSE
        )
        assert found["FaceMatches"]
        details = last(client.regard, "SearchFacesByImage")
        assert details["purpose"] == PURPOSE and details["probe_sha256"] == sha(OBAMA_SMALL)
