"""Users: association rules, reasons, the 100-faces cap, idempotency tokens and user search."""

from __future__ import annotations

import pytest
from tests.service.conftest import gallery, image

from regard.errors import (
    ConflictException,
    IdempotentParameterMismatchException,
    InvalidParameterException,
    ResourceNotFoundException,
    ServiceQuotaExceededException,
)
from regard.service.app import Regard


def _faces_by_person(regard: Regard, collection: str, per_person: int = 3) -> dict[str, list[str]]:
    regard.invoke("CreateCollection", {"CollectionId": collection})
    faces: dict[str, list[str]] = {}
    for person, files in gallery("johns").items():
        faces[person] = []
        for path in files[:per_person]:
            response = regard.invoke(
                "IndexFaces", {"CollectionId": collection, "Image": image(path), "ExternalImageId": person}
            )
            faces[person] += [r["Face"]["FaceId"] for r in response["FaceRecords"]]
    return faces


def test_users_associate_search_and_delete(regard: Regard) -> None:
    faces = _faces_by_person(regard, "c")
    for person, ids in faces.items():
        regard.invoke("CreateUser", {"CollectionId": "c", "UserId": person})
        response = regard.invoke("AssociateFaces", {"CollectionId": "c", "UserId": person, "FaceIds": ids})
        assert sorted(f["FaceId"] for f in response["AssociatedFaces"]) == sorted(ids)
        assert response["UnsuccessfulFaceAssociations"] == []
        assert response["UserStatus"] == "ACTIVE"
    users = regard.invoke("ListUsers", {"CollectionId": "c"})["Users"]
    assert sorted(u["UserId"] for u in users) == sorted(faces)
    assert regard.invoke("DescribeCollection", {"CollectionId": "c"})["UserCount"] == 5

    # SearchUsersByImage with a held-back image names the right user first.
    for person, files in gallery("johns").items():
        response = regard.invoke("SearchUsersByImage", {"CollectionId": "c", "Image": image(files[-1])})
        assert response["UserMatches"], person
        assert response["UserMatches"][0]["User"]["UserId"] == person
        assert "FaceDetail" in response["SearchedFace"]

    # SearchUsers by face finds the face's own user.
    simm = faces["John_Simm"][0]
    by_face = regard.invoke("SearchUsers", {"CollectionId": "c", "FaceId": simm})
    assert by_face["SearchedFace"] == {"FaceId": simm}
    assert by_face["UserMatches"][0]["User"]["UserId"] == "John_Simm"
    by_user = regard.invoke("SearchUsers", {"CollectionId": "c", "UserId": "John_Simm"})
    assert by_user["SearchedUser"] == {"UserId": "John_Simm"}
    assert all(m["User"]["UserId"] != "John_Simm" for m in by_user["UserMatches"])

    # A face bound to a user cannot be deleted until the user lets it go.
    refused = regard.invoke("DeleteFaces", {"CollectionId": "c", "FaceIds": [simm]})
    assert refused["UnsuccessfulFaceDeletions"] == [
        {"FaceId": simm, "UserId": "John_Simm", "Reasons": ["ASSOCIATED_TO_AN_EXISTING_USER"]}
    ]
    regard.invoke("DeleteUser", {"CollectionId": "c", "UserId": "John_Simm"})
    with pytest.raises(ResourceNotFoundException):
        regard.invoke("DeleteUser", {"CollectionId": "c", "UserId": "John_Simm"})
    assert regard.invoke("DeleteFaces", {"CollectionId": "c", "FaceIds": [simm]})["DeletedFaces"] == [simm]


def test_association_reasons(regard: Regard) -> None:
    faces = _faces_by_person(regard, "c", per_person=2)
    regard.invoke("CreateUser", {"CollectionId": "c", "UserId": "salley"})
    regard.invoke("CreateUser", {"CollectionId": "c", "UserId": "savage"})
    regard.invoke(
        "AssociateFaces", {"CollectionId": "c", "UserId": "salley", "FaceIds": faces["John_Salley"][:1]}
    )
    regard.invoke(
        "AssociateFaces", {"CollectionId": "c", "UserId": "savage", "FaceIds": faces["John_Savage"][:1]}
    )
    missing = "00000000-0000-4000-8000-000000000000"
    response = regard.invoke(
        "AssociateFaces",
        {
            "CollectionId": "c",
            "UserId": "salley",
            "FaceIds": [
                faces["John_Salley"][0],  # already this user's: ignored
                faces["John_Salley"][1],  # same person: accepted
                faces["John_Savage"][0],  # another user's
                faces["John_Simm"][0],  # a different person: low match
                missing,
            ],
        },
    )
    assert [f["FaceId"] for f in response["AssociatedFaces"]] == [faces["John_Salley"][1]]
    reasons = {u["FaceId"]: u["Reasons"] for u in response["UnsuccessfulFaceAssociations"]}
    assert reasons == {
        faces["John_Savage"][0]: ["ASSOCIATED_TO_A_DIFFERENT_USER"],
        faces["John_Simm"][0]: ["LOW_MATCH_CONFIDENCE"],
        missing: ["FACE_NOT_FOUND"],
    }
    low = next(u for u in response["UnsuccessfulFaceAssociations"] if u["FaceId"] == faces["John_Simm"][0])
    assert 0 <= low["Confidence"] < 75

    released = regard.invoke(
        "DisassociateFaces",
        {
            "CollectionId": "c",
            "UserId": "salley",
            "FaceIds": [faces["John_Salley"][0], faces["John_Savage"][0]],
        },
    )
    assert released["DisassociatedFaces"] == [{"FaceId": faces["John_Salley"][0]}]
    assert released["UnsuccessfulFaceDisassociations"][0]["Reasons"] == ["ASSOCIATED_TO_A_DIFFERENT_USER"]
    assert released["UserStatus"] == "ACTIVE"


def test_user_errors_and_idempotency(regard: Regard) -> None:
    regard.invoke("CreateCollection", {"CollectionId": "c"})
    with pytest.raises(ResourceNotFoundException):
        regard.invoke("CreateUser", {"CollectionId": "missing", "UserId": "u"})
    token = {"ClientRequestToken": "retry-1"}
    assert regard.invoke("CreateUser", {"CollectionId": "c", "UserId": "u", **token}) == {}
    assert regard.invoke("CreateUser", {"CollectionId": "c", "UserId": "u", **token}) == {}  # a retry
    with pytest.raises(ConflictException):
        regard.invoke("CreateUser", {"CollectionId": "c", "UserId": "u"})
    with pytest.raises(IdempotentParameterMismatchException):
        regard.invoke("CreateUser", {"CollectionId": "c", "UserId": "v", **token})
    with pytest.raises(ResourceNotFoundException):
        regard.invoke(
            "AssociateFaces",
            {"CollectionId": "c", "UserId": "nobody", "FaceIds": ["00000000-0000-4000-8000-000000000000"]},
        )
    with pytest.raises(InvalidParameterException):
        regard.invoke(
            "SearchUsers",
            {"CollectionId": "c", "UserId": "u", "FaceId": "00000000-0000-4000-8000-000000000000"},
        )
    with pytest.raises(InvalidParameterException):
        regard.invoke("AssociateFaces", {"CollectionId": "c", "UserId": "u", "FaceIds": ["x"] * 101})


def test_a_user_holds_at_most_100_faces(regard: Regard, data_file) -> None:
    regard.invoke("CreateCollection", {"CollectionId": "crowd"})
    response = regard.invoke(
        "IndexFaces",
        {"CollectionId": "crowd", "Image": image(data_file("vision/players.jpg")), "QualityFilter": "NONE"},
    )
    ids = [r["Face"]["FaceId"] for r in response["FaceRecords"]]
    assert len(ids) == 100
    extra = regard.invoke(
        "IndexFaces",
        {"CollectionId": "crowd", "Image": image(data_file("vision/yaoming.jpg")), "QualityFilter": "NONE"},
    )
    ids.append(extra["FaceRecords"][0]["Face"]["FaceId"])
    regard.invoke("CreateUser", {"CollectionId": "crowd", "UserId": "everyone"})
    first = regard.invoke(
        "AssociateFaces",
        {"CollectionId": "crowd", "UserId": "everyone", "FaceIds": ids[:1]},
    )
    assert len(first["AssociatedFaces"]) == 1
    # At UserMatchThreshold 0 no face is refused for a low match, so only the cap can stop them.
    regard.invoke(
        "AssociateFaces",
        {"CollectionId": "crowd", "UserId": "everyone", "FaceIds": ids[1:100], "UserMatchThreshold": 0},
    )
    with pytest.raises(ServiceQuotaExceededException):
        regard.invoke(
            "AssociateFaces",
            {"CollectionId": "crowd", "UserId": "everyone", "FaceIds": ids[100:], "UserMatchThreshold": 0},
        )


def test_search_users_by_image_without_a_face_is_empty_not_an_error(regard: Regard, data_file) -> None:
    regard.invoke("CreateCollection", {"CollectionId": "c"})
    response = regard.invoke(
        "SearchUsersByImage", {"CollectionId": "c", "Image": image(data_file("vision/dogs.jpg"))}
    )
    assert response["UserMatches"] == []
    assert "SearchedFace" not in response
