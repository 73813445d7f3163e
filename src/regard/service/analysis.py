"""DetectFaces and CompareFaces: stateless operations on one or two images (no collection involved).

They still leave an audit record: a comparison is a biometric check on a person, so who ran it and
what it found is kept, though never the images themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from regard.service import faces as shapes
from regard.service import params as p
from regard.service.auditing import probe_details, sha256_hex
from regard.service.context import RequestContext
from regard.service.images import load_image

if TYPE_CHECKING:
    from regard.service.app import Regard



def detect_faces(regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    attributes = params.get("Attributes") or ("DEFAULT",)  # validated by shapes.detect_faces
    max_faces = p.integer(params, "RegardMaxFaces", default=100, low=1, high=10_000)
    image, _ = load_image(params.get("Image"), regard.buckets)
    response = shapes.detect_faces(regard.engine, image, attributes=attributes, max_faces=max_faces)
    regard.record(regard.audit_entry(ctx, "DetectFaces", faces=len(response["FaceDetails"])))
    return response


def compare_faces(regard: Regard, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
    threshold = p.number(params, "SimilarityThreshold", default=80.0)
    level = p.quality_filter(params, default="NONE")
    source, source_bytes = load_image(params.get("SourceImage"), regard.buckets)
    target, target_bytes = load_image(params.get("TargetImage"), regard.buckets)
    response = shapes.compare_faces(
        regard.engine, source, target, similarity_threshold=threshold, quality_filter=level
    )
    regard.record(
        regard.audit_entry(
            ctx,
            "CompareFaces",
            threshold=threshold,
            unmatched=len(response["UnmatchedFaces"]),
            target_sha256=sha256_hex(target_bytes),
            **probe_details(source_bytes, similarities=[m["Similarity"] for m in response["FaceMatches"]]),
        )
    )
    return response
