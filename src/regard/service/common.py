"""Helpers the operations share: wire shapes of stored records, model-version checks, paging."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from regard.errors import InvalidParameterException
from regard.store.records import BoundingBox, CollectionRecord, FaceRecord

if TYPE_CHECKING:
    from regard.service.app import Regard

T = TypeVar("T")

PURPOSE_TAG = "regard:purpose"
RETENTION_TAG = "regard:retention-days"


def box_to_wire(box: BoundingBox) -> dict[str, float]:
    return {"Width": box.width, "Height": box.height, "Left": box.left, "Top": box.top}


def box_from_wire(box: dict[str, float]) -> BoundingBox:
    return BoundingBox(left=box["Left"], top=box["Top"], width=box["Width"], height=box["Height"])


def face_to_wire(face: FaceRecord, *, with_user: bool = True) -> dict[str, Any]:
    """Rekognition's ``Face`` shape for a stored face."""
    wire: dict[str, Any] = {
        "FaceId": face.face_id,
        "BoundingBox": box_to_wire(face.bounding_box),
        "ImageId": face.image_id,
        "Confidence": face.confidence,
        "IndexFacesModelVersion": face.index_model_version,
    }
    if face.external_image_id is not None:
        wire["ExternalImageId"] = face.external_image_id
    if with_user and face.user_id is not None:
        wire["UserId"] = face.user_id
    return wire


def collection_arn(regard: Regard, collection_id: str) -> str:
    # Rekognition itself returns collection ARNs without the leading "arn:".
    return f"aws:rekognition:{regard.region}:{regard.account}:collection/{collection_id}"


def require_same_model(regard: Regard, collection: CollectionRecord) -> None:
    """Embeddings of different models are not comparable: refuse rather than return nonsense."""
    engine_version = regard.engine.model_version
    if collection.face_model_version != engine_version:
        raise InvalidParameterException(
            f"Collection {collection.collection_id} holds faces of model {collection.face_model_version}, "
            f"but this server runs {engine_version}. Re-index the images into a new collection."
        )


def page(
    regard: Regard,
    operation: str,
    scope: str,
    token: str | None,
    limit: int,
    fetch: Callable[[str | None, int], Sequence[T]],
    key: Callable[[T], str],
) -> tuple[list[T], str | None]:
    """One page of ``fetch(after, limit)`` and the NextToken for the page after it, if there is one."""
    skip = 0
    after: str | None = None
    if token is not None:
        where = regard.tokens.read(token, operation, scope)
        if isinstance(where, int):
            skip = where
        else:
            after = where
    if limit == 0:
        return [], token
    items = list(fetch(after, skip + limit + 1))[skip:]
    more = len(items) > limit
    items = items[:limit]
    next_token = None
    if more and items:
        next_token = regard.tokens.issue(operation, scope, key(items[-1]), position=skip + len(items))
    return items, next_token
