"""SearchFaces and SearchFacesByImage: 1:N search of a collection, best match first.

Similarities are on Rekognition's 0-100 scale (``vision.similarity`` maps cosine to it); the default
threshold 80 is Rekognition's, and docs/thresholds.md states what it costs in false matches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from regard.errors import InvalidParameterException, ResourceNotFoundException
from regard.service import params as p
from regard.service.auditing import probe_details
from regard.service.common import face_to_wire, require_same_model
from regard.service.context import RequestContext
from regard.service.faces import bounding_box, quality_filter_reasons
from regard.service.images import load_image
from regard.store.base import Vector
from regard.vision.similarity import cosine_from_similarity, similarity_from_cosine

if TYPE_CHECKING:
    from regard.service.app import Regard
    from regard.store.records import FaceRecord

DEFAULT_THRESHOLD = 80.0
MAX_MATCHES = 4096  # Rekognition returns at most 4096 matching faces


def matches(
    regard: Regard,
    collection_id: str,
    query: Vector,
    *,
    threshold: float,
    max_faces: int,
    exclude: tuple[str, ...] = (),
) -> list[tuple[FaceRecord, float]]:
    """Faces of the collection at or above ``threshold`` similarity, best first, as (face, similarity)."""
    found = regard.store.search_faces(
        collection_id,
        query,
        max_results=max_faces,
        min_cosine=cosine_from_similarity(threshold),
        exclude=exclude,
    )
    return _at_threshold(found, threshold)


def batch_matches(
    regard: Regard, collection_id: str, queries: Vector, *, threshold: float, max_faces: int
) -> list[list[tuple[FaceRecord, float]]]:
    """``matches`` for each row of ``queries`` (n, d), searched as one batch."""
    found = regard.store.search_faces_batch(
        collection_id, queries, max_results=max_faces, min_cosine=cosine_from_similarity(threshold)
    )
    return [_at_threshold(hits, threshold) for hits in found]


def _at_threshold(found: list[tuple[FaceRecord, float]], threshold: float) -> list[tuple[FaceRecord, float]]:
    scored = [(record, float(similarity_from_cosine(cosine))) for record, cosine in found]
    return [(record, similarity) for record, similarity in scored if similarity >= threshold]


def match_list(found: list[tuple[FaceRecord, float]]) -> list[dict[str, Any]]:
    """Rekognition's FaceMatchList: ``{Similarity, Face}`` per match, best first."""
    return [
        {"Similarity": round(similarity, 5), "Face": face_to_wire(record)} for record, similarity in found
    ]


def search_faces(regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection_id = p.collection_id(params)
    face_id = p.required_string(params, "FaceId", pattern=p.FACE_ID, max_length=36)
    max_faces = p.integer(params, "MaxFaces", default=MAX_MATCHES, low=1, high=MAX_MATCHES)
    threshold = p.number(params, "FaceMatchThreshold", default=DEFAULT_THRESHOLD)
    collection = regard.store.get_collection(collection_id)
    require_same_model(regard, collection)
    vectors = regard.store.get_embeddings(collection_id, [face_id])
    if face_id not in vectors:
        raise ResourceNotFoundException(f"Face {face_id} was not found in collection {collection_id}.")
    found = matches(
        regard, collection_id, vectors[face_id], threshold=threshold, max_faces=max_faces, exclude=(face_id,)
    )
    regard.record(
        regard.audit_entry(
            ctx,
            "SearchFaces",
            collection_id,
            searched_face_id=face_id,
            threshold=threshold,
            matched_face_ids=[record.face_id for record, _ in found],
        )
    )
    return {
        "SearchedFaceId": face_id,
        "FaceMatches": match_list(found),
        "FaceModelVersion": collection.face_model_version,
    }


def search_faces_by_image(regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection_id = p.collection_id(params)
    max_faces = p.integer(params, "MaxFaces", default=MAX_MATCHES, low=1, high=MAX_MATCHES)
    threshold = p.number(params, "FaceMatchThreshold", default=DEFAULT_THRESHOLD)
    level = p.quality_filter(params, default="NONE")
    collection = regard.store.get_collection(collection_id)
    require_same_model(regard, collection)
    image, probe = load_image(params.get("Image"), regard.buckets)
    engine = regard.engine
    faces = engine.detect(image, max_faces=1)
    if not faces:
        raise InvalidParameterException("There are no faces in the image. Should be at least 1.")
    largest = faces[0]
    if quality_filter_reasons(largest, image, level):
        raise InvalidParameterException("The largest face in the image does not pass the quality filter.")
    query = engine.embed(image, [largest])[0]
    found = matches(regard, collection_id, query, threshold=threshold, max_faces=max_faces)
    box = bounding_box(largest, image)
    regard.record(
        regard.audit_entry(
            ctx,
            "SearchFacesByImage",
            collection_id,
            threshold=threshold,
            matched_face_ids=[record.face_id for record, _ in found],
            **probe_details(probe, faces=found),
        )
    )
    return {
        "SearchedFaceBoundingBox": box,
        "SearchedFaceConfidence": round(largest.score * 100.0, 4),
        "FaceMatches": match_list(found),
        "FaceModelVersion": collection.face_model_version,
    }
