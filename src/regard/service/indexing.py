"""IndexFaces, ListFaces and DeleteFaces: putting face templates into a collection and taking them out.

Each face keeps its provenance: the source image's hash and ExternalImageId, the key that indexed it
and when, and its expiry (its own, or the collection's retention period).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from regard.service import params as p
from regard.service.auditing import sha256_hex
from regard.service.common import face_to_wire, page, require_same_model
from regard.service.context import RequestContext
from regard.service.faces import bounding_box, face_detail, quality_filter_reasons
from regard.service.images import load_image
from regard.store.records import BoundingBox, FaceRecord

if TYPE_CHECKING:
    from regard.service.app import Regard
    from regard.vision.face import Face
    from regard.vision.image import DecodedImage

DEFAULT_PAGE = 1000
MAX_FACES_PER_IMAGE = 100  # Rekognition indexes at most the 100 largest faces of an image


def index_faces(regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection_id = p.collection_id(params)
    external_id = p.string(params, "ExternalImageId", pattern=p.EXTERNAL_IMAGE_ID, required=False)
    max_faces = p.optional_integer(params, "MaxFaces", low=1, high=None)
    level = p.quality_filter(params, default="AUTO")
    expires_at = p.optional_integer(params, "RegardExpiresAt", low=0, high=None)
    collection = regard.store.get_collection(collection_id)
    require_same_model(regard, collection)
    image, raw = load_image(params.get("Image"), regard.buckets)
    image_sha256 = sha256_hex(raw)
    engine = regard.engine
    faces = engine.detect(image, max_faces=MAX_FACES_PER_IMAGE)

    existing = regard.store.find_faces_by_image(collection_id, image_sha256, external_id)
    if existing:
        # Rekognition does not store duplicate metadata for the same image, collection and ExternalImageId.
        regard.record(
            regard.audit_entry(
                ctx,
                "IndexFaces",
                collection_id,
                face_ids=[f.face_id for f in existing],
                duplicate_of_earlier=True,
            )
        )
        return {
            "FaceRecords": [
                {
                    "Face": face_to_wire(record, with_user=False),
                    "FaceDetail": _detail_for(record, faces, image),
                }
                for record in existing
            ],
            "UnindexedFaces": [],
            "FaceModelVersion": collection.face_model_version,
        }

    kept: list[Face] = []
    unindexed: list[dict[str, Any]] = []
    for face in faces:  # largest first, as the engine returns them
        reasons = quality_filter_reasons(face, image, level)
        if not reasons and max_faces is not None and len(kept) >= max_faces:
            reasons = ["EXCEEDS_MAX_FACES"]
        if reasons:
            unindexed.append({"Reasons": reasons, "FaceDetail": face_detail(face, image)})
        else:
            kept.append(face)

    now = regard.clock()
    if expires_at is None and collection.retention_days is not None:
        expires_at = int(now + collection.retention_days * 86400)
    image_id = str(uuid.uuid4())
    records = [
        FaceRecord(
            face_id=str(uuid.uuid4()),
            image_id=image_id,
            bounding_box=_box(face, image),
            confidence=round(face.score * 100.0, 4),
            index_model_version=engine.index_model_version,
            indexed_at=now,
            external_image_id=external_id,
            indexed_by=ctx.access_key or ctx.client,
            expires_at=float(expires_at) if expires_at is not None else None,
            image_sha256=image_sha256,
        )
        for face in kept
    ]
    audit = regard.audit_entry(
        ctx,
        "IndexFaces",
        collection_id,
        face_ids=[r.face_id for r in records],
        image_id=image_id if records else None,
        external_image_id=external_id,
        unindexed=len(unindexed),
        quality_filter=level,
        expires_at=expires_at,
    )
    if records:
        embeddings = engine.embed(image, kept)
        regard.store.add_faces(collection_id, records, embeddings, audit=audit)
    else:
        regard.record(audit)
    return {
        "FaceRecords": [
            {"Face": face_to_wire(record, with_user=False), "FaceDetail": face_detail(face, image)}
            for record, face in zip(records, kept, strict=True)
        ],
        "UnindexedFaces": unindexed,
        "FaceModelVersion": collection.face_model_version,
    }


def already_indexed(
    regard: Regard, collection_id: str, image_sha256: str, external_image_id: str | None
) -> bool:
    """Whether these bytes were indexed before under this ExternalImageId (so bulk indexing resumes)."""
    return bool(regard.store.find_faces_by_image(collection_id, image_sha256, external_image_id))


def _box(face: Face, image: DecodedImage) -> BoundingBox:
    box = bounding_box(face, image)
    return BoundingBox(left=box["Left"], top=box["Top"], width=box["Width"], height=box["Height"])


def _detail_for(record: FaceRecord, faces: list[Face], image: DecodedImage) -> dict[str, Any]:
    """The detail of the detected face that lies where a stored face was indexed from the same image."""
    box = record.bounding_box
    cx, cy = box.left + box.width / 2, box.top + box.height / 2

    def distance(face: Face) -> float:
        other = bounding_box(face, image)
        return abs(other["Left"] + other["Width"] / 2 - cx) + abs(other["Top"] + other["Height"] / 2 - cy)

    if not faces:
        return {"BoundingBox": face_to_wire(record)["BoundingBox"], "Confidence": record.confidence}
    return face_detail(min(faces, key=distance), image)


def list_faces(regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection_id = p.collection_id(params)
    limit = p.integer(params, "MaxResults", default=DEFAULT_PAGE, low=0, high=4096)
    token = p.string(params, "NextToken", required=False)
    user_id = p.user_id(params, required=False)
    face_ids = p.face_id_list(params, "FaceIds", max_items=4096, required=False)
    collection = regard.store.get_collection(collection_id)
    scope = "\n".join([collection_id, user_id or "", ",".join(face_ids or [])])
    records, next_token = page(
        regard,
        "ListFaces",
        scope,
        token,
        limit,
        lambda after, n: regard.store.list_faces(
            collection_id, after=after, limit=n, user_id=user_id, face_ids=face_ids
        ),
        lambda record: record.face_id,
    )
    regard.record(regard.audit_entry(ctx, "ListFaces", collection_id, returned=len(records), user_id=user_id))
    response: dict[str, Any] = {
        "Faces": [face_to_wire(record) for record in records],
        "FaceModelVersion": collection.face_model_version,
    }
    if next_token:
        response["NextToken"] = next_token
    return response


def delete_faces(regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection_id = p.collection_id(params)
    face_ids = p.face_id_list(params, "FaceIds", max_items=4096) or []
    regard.store.get_collection(collection_id)
    found = {record.face_id: record for record in regard.store.get_faces(collection_id, face_ids)}
    unsuccessful: list[dict[str, Any]] = []
    deletable: list[str] = []
    for face_id in face_ids:
        record = found.get(face_id)
        if record is None:
            unsuccessful.append({"FaceId": face_id, "Reasons": ["FACE_NOT_FOUND"]})
        elif record.user_id is not None:
            unsuccessful.append(
                {"FaceId": face_id, "UserId": record.user_id, "Reasons": ["ASSOCIATED_TO_AN_EXISTING_USER"]}
            )
        else:
            deletable.append(face_id)
    audit = regard.audit_entry(
        ctx, "DeleteFaces", collection_id, face_ids=deletable, refused=[u["FaceId"] for u in unsuccessful]
    )
    deleted = regard.store.delete_faces(collection_id, deletable, audit=audit) if deletable else []
    if not deletable:
        regard.record(audit)
    return {"DeletedFaces": deleted, "UnsuccessfulFaceDeletions": unsuccessful}
