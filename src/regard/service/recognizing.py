"""RecognizeFaces: name every face in one photo with one call (a Regard operation).

Rekognition names the faces of a photo only for celebrities (RecognizeCelebrities); Azure calls this
Identify. Without it a caller runs DetectFaces, then one SearchFacesByImage per face on a crop.

What the call does, in order:

- The ``MaxFaces`` largest faces are considered (default and most: 100, DetectFaces' limit), largest first;
  smaller faces are not reported.
- A face that fails ``QualityFilter`` (default NONE) is not searched; it is listed in UnrecognizedFaces with
  Rekognition's reasons (EXTREME_POSE, SMALL_BOUNDING_BOX, ...), as IndexFaces lists UnindexedFaces.
- The other faces are embedded together and searched in one batched query to the collection's index. A face
  with at least one stored face at or above ``FaceMatchThreshold`` (default 80) is in RecognizedFaces with its
  best ``MaxMatchesPerFace`` matches (default 1), best first, in SearchFacesByImage's FaceMatch shape (UserId
  included when the stored face belongs to a user). A face with none is in UnrecognizedFaces, reason NO_MATCH.
- A photo without faces answers two empty lists: "nobody here" is an answer, not an error (DetectFaces and
  IndexFaces do the same; SearchFacesByImage, which needs a face to search with, refuses).

``MaxMatchesPerFace`` is at most 100, so that one answer (and its audit record, which lists every match) stays
bounded at 10,000 matches; SearchFaces with one face ID lists up to 4096.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from regard.service import params as p
from regard.service.auditing import probe_details
from regard.service.common import require_same_model
from regard.service.context import RequestContext
from regard.service.faces import MAX_FACES_LIMIT, face_detail, quality_filter_reasons
from regard.service.images import load_image
from regard.service.searching import DEFAULT_THRESHOLD, batch_matches, match_list

if TYPE_CHECKING:
    from regard.service.app import Regard
    from regard.store.records import FaceRecord

OPERATION = "RecognizeFaces"
MAX_MATCHES_PER_FACE = 100
NO_MATCH = "NO_MATCH"
"""The reason of a face that was searched and matched nobody at the threshold."""


def recognize_faces(regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    collection_id = p.collection_id(params)
    max_faces = p.integer(params, "MaxFaces", default=MAX_FACES_LIMIT, low=1, high=MAX_FACES_LIMIT)
    threshold = p.number(params, "FaceMatchThreshold", default=DEFAULT_THRESHOLD)
    per_face = p.integer(params, "MaxMatchesPerFace", default=1, low=1, high=MAX_MATCHES_PER_FACE)
    level = p.quality_filter(params, default="NONE")
    collection = regard.store.get_collection(collection_id)
    require_same_model(regard, collection)
    image, data = load_image(params.get("Image"), regard.buckets)
    engine = regard.engine
    faces = engine.detect(image, max_faces=max_faces)
    reasons = [quality_filter_reasons(face, image, level) for face in faces]
    searched = [face for face, why in zip(faces, reasons, strict=True) if not why]
    found = iter(
        batch_matches(
            regard, collection_id, engine.embed(image, searched), threshold=threshold, max_faces=per_face
        )
        if searched
        else []
    )
    recognized: list[dict[str, Any]] = []
    unrecognized: list[dict[str, Any]] = []
    all_matches: list[tuple[FaceRecord, float]] = []
    for face, why in zip(faces, reasons, strict=True):
        detail = face_detail(face, image)
        hits = [] if why else next(found)
        if hits:
            recognized.append({"Face": detail, "FaceMatches": match_list(hits)})
            all_matches += hits
        else:
            unrecognized.append({"Face": detail, "Reasons": why or [NO_MATCH]})
    regard.record(
        regard.audit_entry(
            ctx,
            OPERATION,
            collection_id,
            threshold=threshold,
            quality_filter=level,
            faces=len(faces),
            recognized=len(recognized),
            unrecognized=len(unrecognized),
            matched_face_ids=list(dict.fromkeys(record.face_id for record, _ in all_matches)),
            **probe_details(data, faces=all_matches),
        )
    )
    return {
        "RecognizedFaces": recognized,
        "UnrecognizedFaces": unrecognized,
        "FaceModelVersion": collection.face_model_version,
    }

