"""Beside an operation's answer, the provenance that the Rekognition wire format has no room for.

Collections get their purpose, retention and whether searches must state a purpose, faces the SHA-256
of their source image, the key that indexed them, when, and when they expire; clusters the ExternalImageIds
of their faces. Read from the store after the
operation itself (scope-checked and audited) has run, for the faces and collections that operation returned.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from regard.errors import ResourceNotFoundException
from regard.service.purpose import requires_purpose

if TYPE_CHECKING:
    from regard.service.app import Regard


def _faces_provenance(regard: Regard, params: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    faces = result.get("Faces") or []
    records = regard.store.get_faces(params["CollectionId"], [f["FaceId"] for f in faces])
    by_id = {r.face_id: r for r in records}
    for face in faces:
        record = by_id.get(face["FaceId"])
        if record is not None:
            face["SourceImageSha256"] = record.image_sha256
            face["IndexedBy"] = record.indexed_by
            face["IndexedAt"] = record.indexed_at
            face["ExpiresAt"] = record.expires_at
    return result


def _collections_provenance(regard: Regard, params: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    details = []
    for collection_id in result.get("CollectionIds") or []:
        try:
            record = regard.store.get_collection(collection_id)
        except ResourceNotFoundException:
            continue  # deleted since it was listed
        details.append(_collection_to_json(record))
    result["Collections"] = details
    return result


def _describe_provenance(regard: Regard, params: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    record = regard.store.get_collection(params["CollectionId"])
    result.update(_collection_to_json(record))
    return result


def _collection_to_json(record: Any) -> dict[str, Any]:
    return {
        "CollectionId": record.collection_id,
        "FaceCount": record.face_count,
        "UserCount": record.user_count,
        "FaceModelVersion": record.face_model_version,
        "CreationTimestamp": record.created_at,
        "Purpose": record.purpose,
        "RetentionDays": record.retention_days,
        "RequirePurpose": requires_purpose(record),
    }


def _cluster_images(regard: Regard, params: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """Each cluster's ExternalImageIds (aligned with FaceIds): Regard keeps no face images to show."""
    clusters = result.get("Clusters") or []
    wanted = [face for c in clusters for face in c["FaceIds"]]
    records = regard.store.get_faces(params["CollectionId"], wanted) if wanted else []
    images = {r.face_id: r.external_image_id for r in records}
    for cluster in clusters:
        cluster["ExternalImageIds"] = [images.get(face) for face in cluster["FaceIds"]]
        cluster["RepresentativeExternalImageId"] = images.get(cluster["RepresentativeFaceId"])
    return result


ENRICH: dict[str, Callable[[Regard, dict[str, Any], dict[str, Any]], dict[str, Any]]] = {
    "ListFaces": _faces_provenance,
    "ListCollections": _collections_provenance,
    "DescribeCollection": _describe_provenance,
    "ClusterFaces": _cluster_images,
}
