"""Users: a person's several faces under one UserId, searched as one.

A user's similarity to a query is that of its best-matching face. AssociateFaces only adds a face
to a user that already has faces when the face matches them at UserMatchThreshold (default 75),
which keeps one person's template set from absorbing somebody else's face by mistake.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from regard.errors import (
    ConflictException,
    IdempotentParameterMismatchException,
    InvalidParameterException,
    ResourceNotFoundException,
    ServiceQuotaExceededException,
)
from regard.service import params as p
from regard.service.auditing import probe_details
from regard.service.common import page, require_same_model
from regard.service.context import RequestContext
from regard.service.faces import face_detail, quality_filter_reasons
from regard.service.images import load_image
from regard.service.searching import MAX_MATCHES, matches
from regard.store.base import Vector
from regard.vision.similarity import similarity_from_cosine

if TYPE_CHECKING:
    from regard.service.app import Regard
    from regard.store.records import UserRecord

MAX_FACES_PER_USER = 100
DEFAULT_ASSOCIATE_THRESHOLD = 75.0
DEFAULT_SEARCH_THRESHOLD = 80.0
DEFAULT_MAX_USERS = 500


def _status(record: UserRecord) -> str:
    return "ACTIVE" if record.face_count > 0 else "CREATED"


def _idempotent(regard: Regard, operation: str, params: dict[str, Any], run: Any) -> dict[str, Any]:
    """Run ``run()`` once per ClientRequestToken: a retry gets the first answer; changed input, an error."""
    token = p.client_request_token(params)
    if token is None:
        return run()
    digest = hashlib.sha256(
        json.dumps({k: v for k, v in params.items() if k != "ClientRequestToken"}, sort_keys=True).encode()
    ).hexdigest()
    remembered = regard.store.recall_request(token, operation)
    if remembered is not None:
        if remembered[0] != digest:
            raise IdempotentParameterMismatchException(
                "ClientRequestToken was used before with different parameters."
            )
        return dict(remembered[1])
    response = run()
    regard.store.remember_request(token, operation, digest, response)
    return response


def _require_user(regard: Regard, collection_id: str, user_id: str) -> UserRecord:
    record = regard.store.get_user(collection_id, user_id)
    if record is None:
        raise ResourceNotFoundException(f"User {user_id} was not found in collection {collection_id}.")
    return record


def create_user(regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection_id = p.collection_id(params)
    user_id = p.user_id(params) or ""

    def run() -> dict[str, Any]:
        regard.store.get_collection(collection_id)
        if regard.store.get_user(collection_id, user_id) is not None:
            raise ConflictException(f"User {user_id} exists already in collection {collection_id}.")
        regard.store.create_user(
            collection_id,
            user_id,
            audit=regard.audit_entry(ctx, "CreateUser", collection_id, user_id=user_id),
        )
        return {}

    return _idempotent(regard, "CreateUser", params, run)


def delete_user(regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection_id = p.collection_id(params)
    user_id = p.user_id(params) or ""

    def run() -> dict[str, Any]:
        regard.store.get_collection(collection_id)
        record = _require_user(regard, collection_id, user_id)
        audit = regard.audit_entry(
            ctx, "DeleteUser", collection_id, user_id=user_id, faces_disassociated=record.face_count
        )
        regard.store.delete_user(collection_id, user_id, audit=audit)
        return {}

    return _idempotent(regard, "DeleteUser", params, run)


def list_users(regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection_id = p.collection_id(params)
    limit = p.integer(params, "MaxResults", default=DEFAULT_MAX_USERS, low=1, high=500)
    token = p.string(params, "NextToken", required=False)
    regard.store.get_collection(collection_id)
    records, next_token = page(
        regard,
        "ListUsers",
        collection_id,
        token,
        limit,
        lambda after, n: regard.store.list_users(collection_id, after=after, limit=n),
        lambda record: record.user_id,
    )
    regard.record(regard.audit_entry(ctx, "ListUsers", collection_id, returned=len(records)))
    response: dict[str, Any] = {
        "Users": [{"UserId": record.user_id, "UserStatus": _status(record)} for record in records]
    }
    if next_token:
        response["NextToken"] = next_token
    return response


def associate_faces(regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection_id = p.collection_id(params)
    user_id = p.user_id(params) or ""
    face_ids = p.face_id_list(params, "FaceIds", max_items=100) or []
    threshold = p.number(params, "UserMatchThreshold", default=DEFAULT_ASSOCIATE_THRESHOLD)

    def run() -> dict[str, Any]:
        collection = regard.store.get_collection(collection_id)
        user = _require_user(regard, collection_id, user_id)
        found = {record.face_id: record for record in regard.store.get_faces(collection_id, face_ids)}
        current = regard.store.list_faces(
            collection_id, after=None, limit=MAX_FACES_PER_USER + 1, user_id=user_id
        )
        current_ids = [record.face_id for record in current]
        user_vectors = regard.store.get_embeddings(collection_id, current_ids)
        candidates = [f for f in face_ids if f in found and found[f].user_id is None]
        if candidates and user_vectors:
            require_same_model(regard, collection)
        new_vectors = regard.store.get_embeddings(collection_id, candidates)
        unsuccessful: list[dict[str, Any]] = []
        accepted: list[str] = []
        for face_id in face_ids:
            record = found.get(face_id)
            if record is None:
                unsuccessful.append({"FaceId": face_id, "Reasons": ["FACE_NOT_FOUND"]})
            elif record.user_id == user_id:
                continue  # already this user's: Rekognition ignores it silently
            elif record.user_id is not None:
                unsuccessful.append(
                    {
                        "FaceId": face_id,
                        "UserId": record.user_id,
                        "Reasons": ["ASSOCIATED_TO_A_DIFFERENT_USER"],
                    }
                )
            else:
                similarity = _best_similarity(new_vectors[face_id], list(user_vectors.values()))
                if similarity is not None and similarity < threshold:
                    unsuccessful.append(
                        {
                            "FaceId": face_id,
                            "UserId": user_id,
                            "Confidence": round(similarity, 5),
                            "Reasons": ["LOW_MATCH_CONFIDENCE"],
                        }
                    )
                else:
                    accepted.append(face_id)
        if user.face_count + len(accepted) > MAX_FACES_PER_USER:
            raise ServiceQuotaExceededException(f"A user can have at most {MAX_FACES_PER_USER} faces.")
        audit = regard.audit_entry(
            ctx,
            "AssociateFaces",
            collection_id,
            user_id=user_id,
            face_ids=accepted,
            refused=[u["FaceId"] for u in unsuccessful],
            threshold=threshold,
        )
        if accepted:
            regard.store.associate_faces(collection_id, user_id, accepted, audit=audit)
        else:
            regard.record(audit)
        status = "ACTIVE" if user.face_count + len(accepted) > 0 else "CREATED"
        return {
            "AssociatedFaces": [{"FaceId": face_id} for face_id in accepted],
            "UnsuccessfulFaceAssociations": unsuccessful,
            "UserStatus": status,
        }

    return _idempotent(regard, "AssociateFaces", params, run)


def _best_similarity(vector: Vector, others: list[Vector]) -> float | None:
    if not others:
        return None
    return max(float(similarity_from_cosine(float(vector @ other))) for other in others)


def disassociate_faces(regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection_id = p.collection_id(params)
    user_id = p.user_id(params) or ""
    face_ids = p.face_id_list(params, "FaceIds", max_items=100) or []

    def run() -> dict[str, Any]:
        regard.store.get_collection(collection_id)
        user = _require_user(regard, collection_id, user_id)
        found = {record.face_id: record for record in regard.store.get_faces(collection_id, face_ids)}
        unsuccessful: list[dict[str, Any]] = []
        released: list[str] = []
        for face_id in face_ids:
            record = found.get(face_id)
            if record is None:
                unsuccessful.append({"FaceId": face_id, "Reasons": ["FACE_NOT_FOUND"]})
            elif record.user_id is None:
                continue  # not associated: nothing to undo, Rekognition ignores it
            elif record.user_id != user_id:
                unsuccessful.append(
                    {
                        "FaceId": face_id,
                        "UserId": record.user_id,
                        "Reasons": ["ASSOCIATED_TO_A_DIFFERENT_USER"],
                    }
                )
            else:
                released.append(face_id)
        audit = regard.audit_entry(
            ctx, "DisassociateFaces", collection_id, user_id=user_id, face_ids=released
        )
        if released:
            regard.store.disassociate_faces(collection_id, user_id, released, audit=audit)
        else:
            regard.record(audit)
        remaining = user.face_count - len(released)
        return {
            "DisassociatedFaces": [{"FaceId": face_id} for face_id in released],
            "UnsuccessfulFaceDisassociations": unsuccessful,
            "UserStatus": "ACTIVE" if remaining > 0 else "CREATED",
        }

    return _idempotent(regard, "DisassociateFaces", params, run)


def _user_matches(
    regard: Regard,
    collection_id: str,
    queries: list[Vector],
    *,
    threshold: float,
    max_users: int,
    exclude_user: str | None = None,
) -> list[dict[str, Any]]:
    """Users whose best face matches any query at ``threshold`` or more, best first."""
    best: dict[str, float] = {}
    for query in queries:
        for record, similarity in matches(
            regard, collection_id, query, threshold=threshold, max_faces=MAX_MATCHES
        ):
            if record.user_id is None or record.user_id == exclude_user:
                continue
            best[record.user_id] = max(similarity, best.get(record.user_id, 0.0))
    ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:max_users]
    return [
        {"Similarity": round(similarity, 5), "User": {"UserId": user, "UserStatus": "ACTIVE"}}
        for user, similarity in ranked
    ]


def search_users(regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection_id = p.collection_id(params)
    user_id = p.user_id(params, required=False)
    face_id = p.face_id(params, required=False)
    threshold = p.number(params, "UserMatchThreshold", default=DEFAULT_SEARCH_THRESHOLD)
    max_users = p.integer(params, "MaxUsers", default=DEFAULT_MAX_USERS, low=1, high=500)
    if (user_id is None) == (face_id is None):
        raise InvalidParameterException("Give exactly one of UserId or FaceId.")
    collection = regard.store.get_collection(collection_id)
    require_same_model(regard, collection)
    response: dict[str, Any] = {"FaceModelVersion": collection.face_model_version}
    if face_id is not None:
        vectors = regard.store.get_embeddings(collection_id, [face_id])
        if not vectors:
            raise ResourceNotFoundException(f"Face {face_id} was not found in collection {collection_id}.")
        response["SearchedFace"] = {"FaceId": face_id}
        found = _user_matches(
            regard, collection_id, list(vectors.values()), threshold=threshold, max_users=max_users
        )
    else:
        user_id = user_id or ""
        _require_user(regard, collection_id, user_id)
        faces = regard.store.list_faces(collection_id, after=None, limit=MAX_FACES_PER_USER, user_id=user_id)
        vectors = regard.store.get_embeddings(collection_id, [f.face_id for f in faces])
        response["SearchedUser"] = {"UserId": user_id}
        found = _user_matches(
            regard,
            collection_id,
            list(vectors.values()),
            threshold=threshold,
            max_users=max_users,
            exclude_user=user_id,
        )
    response["UserMatches"] = found
    regard.record(
        regard.audit_entry(
            ctx,
            "SearchUsers",
            collection_id,
            searched_face_id=face_id,
            searched_user_id=user_id,
            threshold=threshold,
            matched_user_ids=[m["User"]["UserId"] for m in found],
            matches=probe_details(None, users=[(m["User"]["UserId"], m["Similarity"]) for m in found])[
                "matches"
            ],
        )
    )
    return response


def search_users_by_image(regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection_id = p.collection_id(params)
    threshold = p.number(params, "UserMatchThreshold", default=DEFAULT_SEARCH_THRESHOLD)
    max_users = p.integer(params, "MaxUsers", default=DEFAULT_MAX_USERS, low=1, high=500)
    level = p.quality_filter(params, default="NONE")
    collection = regard.store.get_collection(collection_id)
    require_same_model(regard, collection)
    image, probe = load_image(params.get("Image"), regard.buckets)
    engine = regard.engine
    faces = engine.detect(image, max_faces=100)
    response: dict[str, Any] = {"UserMatches": [], "FaceModelVersion": collection.face_model_version}
    unsearched: list[dict[str, Any]] = []
    for face in faces[1:]:
        reasons = ["FACE_NOT_LARGEST", *quality_filter_reasons(face, image, level)]
        unsearched.append({"FaceDetails": face_detail(face, image), "Reasons": reasons})
    found: list[dict[str, Any]] = []
    if faces:
        largest = faces[0]
        reasons = quality_filter_reasons(largest, image, level)
        if reasons:
            unsearched.insert(0, {"FaceDetails": face_detail(largest, image), "Reasons": reasons})
        else:
            query = engine.embed(image, [largest])[0]
            found = _user_matches(regard, collection_id, [query], threshold=threshold, max_users=max_users)
            response["SearchedFace"] = {"FaceDetail": face_detail(largest, image)}
    response["UserMatches"] = found
    response["UnsearchedFaces"] = unsearched
    regard.record(
        regard.audit_entry(
            ctx,
            "SearchUsersByImage",
            collection_id,
            threshold=threshold,
            matched_user_ids=[m["User"]["UserId"] for m in found],
            **probe_details(probe, users=[(m["User"]["UserId"], m["Similarity"]) for m in found]),
        )
    )
    return response
