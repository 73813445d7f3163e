"""CreateCollection, DeleteCollection, ListCollections, DescribeCollection.

A collection is bound to the model pack current at its creation (its FaceModelVersion). Regard reads
two optional tags as provenance: ``regard:purpose`` (why the faces are held) and
``regard:retention-days`` (how long a face indexed here is kept unless given its own expiry).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from regard.errors import InvalidParameterException
from regard.service import params as p
from regard.service.common import PURPOSE_TAG, RETENTION_TAG, collection_arn, page
from regard.service.context import RequestContext
from regard.service.purpose import REQUIRE_PURPOSE_TAG, require_purpose_tag, requires_purpose
from regard.store.records import CollectionRecord

if TYPE_CHECKING:
    from regard.service.app import Regard

DEFAULT_PAGE = 1000


def create_collection(regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection_id = p.collection_id(params)
    tags = params.get("Tags") or {}
    if (
        not isinstance(tags, dict)
        or len(tags) > 200
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items())
    ):
        raise InvalidParameterException("Tags must map at most 200 string keys to string values.")
    purpose = params.get("RegardPurpose", tags.get(PURPOSE_TAG))
    require_purpose_tag(tags.get(REQUIRE_PURPOSE_TAG))
    retention = params.get("RegardRetentionDays", tags.get(RETENTION_TAG))
    retention_days = _retention_days(retention)
    engine = regard.engine
    record = CollectionRecord(
        collection_id=collection_id,
        face_model_version=engine.model_version,
        embedding_size=engine.embedding_size,
        created_at=regard.clock(),
        tags=dict(tags),
        purpose=purpose,
        retention_days=retention_days,
    )
    audit = regard.audit_entry(
        ctx,
        "CreateCollection",
        collection_id,
        collection_purpose=purpose,
        retention_days=retention_days,
        require_purpose=requires_purpose(record) or None,
    )
    regard.store.create_collection(record, audit=audit)
    return {
        "StatusCode": 200,
        "CollectionArn": collection_arn(regard, collection_id),
        "FaceModelVersion": record.face_model_version,
    }


def _retention_days(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        days = float(value)
    except (TypeError, ValueError):
        raise InvalidParameterException(f"{RETENTION_TAG} must be a number of days.") from None
    if not 0 < days <= 365 * 100:
        raise InvalidParameterException(f"{RETENTION_TAG} must be more than 0 and at most 36500 days.")
    return days


def delete_collection(regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection_id = p.collection_id(params)
    collection = regard.store.get_collection(collection_id)
    audit = regard.audit_entry(
        ctx,
        "DeleteCollection",
        collection_id,
        faces_erased=collection.face_count,
        users_erased=collection.user_count,
    )
    regard.store.delete_collection(collection_id, audit=audit)
    return {"StatusCode": 200}


def list_collections(regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    limit = p.integer(params, "MaxResults", default=DEFAULT_PAGE, low=0, high=4096)
    token = p.string(params, "NextToken", required=False)
    records, next_token = page(
        regard,
        "ListCollections",
        "",
        token,
        limit,
        lambda after, n: regard.store.list_collections(after=after, limit=n),
        lambda record: record.collection_id,
    )
    regard.record(regard.audit_entry(ctx, "ListCollections", returned=len(records)))
    response: dict[str, Any] = {
        "CollectionIds": [record.collection_id for record in records],
        "FaceModelVersions": [record.face_model_version for record in records],
    }
    if next_token:
        response["NextToken"] = next_token
    return response


def describe_collection(regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection_id = p.collection_id(params)
    record = regard.store.get_collection(collection_id)
    regard.record(regard.audit_entry(ctx, "DescribeCollection", collection_id))
    return {
        "FaceCount": record.face_count,
        "UserCount": record.user_count,
        "FaceModelVersion": record.face_model_version,
        "CollectionARN": collection_arn(regard, collection_id),
        "CreationTimestamp": record.created_at,
        "RegardRequirePurpose": requires_purpose(record),
    }
