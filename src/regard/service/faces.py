"""Faces in Rekognition's shapes: FaceDetail, ComparedFace, DetectFaces and CompareFaces bodies, quality
filters.

Regard never infers age, gender, emotion or other demographic or affective attributes: Rekognition's own model
card says emotions are not a determination of a person's internal state and gender is a binary appearance
prediction not to be used for decisions about individuals. ``Attributes=["ALL"]`` is accepted (so existing
clients work) and adds only what Rekognition adds that is not an inference about the person: the 25 other
landmark types (30 in all, from the 106-point model); DEFAULT gives the 5 keypoint landmarks, as Rekognition
does, and skips that model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from regard.errors import InvalidParameterException
from regard.vision.engine import FaceEngine
from regard.vision.face import Face
from regard.vision.image import DecodedImage
from regard.vision.landmarks import rekognition_points
from regard.vision.similarity import similarities_from_cosines

ATTRIBUTE_VALUES = frozenset(
    {
        "DEFAULT",
        "ALL",
        "AGE_RANGE",
        "BEARD",
        "EMOTIONS",
        "EYE_DIRECTION",
        "EYEGLASSES",
        "EYES_OPEN",
        "GENDER",
        "MOUTH_OPEN",
        "MUSTACHE",
        "FACE_OCCLUDED",
        "SMILE",
        "SUNGLASSES",
    }
)
QUALITY_FILTERS = ("NONE", "AUTO", "LOW", "MEDIUM", "HIGH")
MAX_FACES_LIMIT = 100
"""DetectFaces and CompareFaces consider at most the 100 largest faces, as Rekognition does."""

# level -> (min box side px, min confidence %, min sharpness, min brightness, max brightness,
#           max |yaw| or |pitch| in degrees)
_QUALITY_BARS: dict[str, tuple[float, float, float, float, float, float]] = {
    "LOW": (20.0, 50.0, 5.0, 5.0, 99.0, 75.0),
    "MEDIUM": (32.0, 60.0, 15.0, 10.0, 97.0, 60.0),
    "HIGH": (48.0, 70.0, 30.0, 20.0, 95.0, 45.0),
}
_QUALITY_BARS["AUTO"] = _QUALITY_BARS["MEDIUM"]


def bounding_box(face: Face, image: DecodedImage) -> dict[str, float]:
    """Rekognition BoundingBox: ratios of the image's width and height (may be < 0 or > 1 at the edges)."""
    x1, y1, x2, y2 = (float(v) for v in face.box)
    return {
        "Width": (x2 - x1) / image.width,
        "Height": (y2 - y1) / image.height,
        "Left": x1 / image.width,
        "Top": y1 / image.height,
    }


def confidence(face: Face) -> float:
    """The detector's score as a percentage (0-100)."""
    return float(np.clip(face.score * 100.0, 0.0, 100.0))


def landmarks(face: Face, image: DecodedImage) -> list[dict[str, Any]]:
    """Rekognition Landmarks ``[{Type, X, Y}]`` as ratios: 5 types always, 30 with a 106-point model."""
    return [
        {"Type": name, "X": x / image.width, "Y": y / image.height}
        for name, x, y in rekognition_points(face.keypoints, face.landmarks)
    ]


def face_detail(face: Face, image: DecodedImage) -> dict[str, Any]:
    """A Rekognition FaceDetail: BoundingBox, Landmarks, Pose, Quality, Confidence (never demographic
    attributes).
    """
    return {
        "BoundingBox": bounding_box(face, image),
        "Landmarks": landmarks(face, image),
        "Pose": {"Roll": face.pose.roll, "Yaw": face.pose.yaw, "Pitch": face.pose.pitch},
        "Quality": {"Brightness": face.quality.brightness, "Sharpness": face.quality.sharpness},
        "Confidence": confidence(face),
    }


def compared_face(face: Face, image: DecodedImage) -> dict[str, Any]:
    """A Rekognition ComparedFace (its Emotions and Smile are never produced)."""
    detail = face_detail(face, image)
    return {key: detail[key] for key in ("BoundingBox", "Confidence", "Landmarks", "Pose", "Quality")}


def validate_attributes(attributes: Any) -> tuple[str, ...]:
    if isinstance(attributes, str) or not all(isinstance(a, str) for a in attributes):
        raise InvalidParameterException("Attributes must be a list of attribute names.")
    unknown = sorted(set(attributes) - ATTRIBUTE_VALUES)
    if unknown:
        raise InvalidParameterException(
            f"Attributes contains unknown values {unknown}; valid values are {sorted(ATTRIBUTE_VALUES)}."
        )
    return tuple(attributes)


def validate_percent(name: str, value: Any) -> float:
    """A 0-100 float parameter (Rekognition's Percent), else InvalidParameterException naming it."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= float(value) <= 100.0:
        raise InvalidParameterException(f"{name} must be a number from 0 to 100, got {value!r}.")
    return float(value)


def validate_quality_filter(level: Any) -> str:
    if level not in QUALITY_FILTERS:
        raise InvalidParameterException(
            f"QualityFilter must be one of {list(QUALITY_FILTERS)}, got {level!r}."
        )
    return str(level)


def validate_max_faces(max_faces: Any) -> int | None:
    if max_faces is None:
        return None
    if isinstance(max_faces, bool) or not isinstance(max_faces, int) or max_faces < 1:
        raise InvalidParameterException(f"MaxFaces must be an integer of at least 1, got {max_faces!r}.")
    return max_faces


def detect_faces(
    engine: FaceEngine,
    image: DecodedImage,
    *,
    attributes: Any = ("DEFAULT",),
    max_faces: int | None = MAX_FACES_LIMIT,
) -> dict[str, Any]:
    """The DetectFaces response body: the ``max_faces`` largest faces (100 as Rekognition; None for all).

    ``attributes`` is validated against Rekognition's values; ALL adds the 30 landmark types, nothing else
    (see module doc). No OrientationCorrection key: Rekognition omits it for its current face models, and
    Regard applies EXIF orientation before detection.
    """
    wanted = validate_attributes(attributes)
    faces = engine.detect(image, max_faces=validate_max_faces(max_faces), landmarks="ALL" in wanted)
    return {"FaceDetails": [face_detail(face, image) for face in faces]}


def quality_filter_reasons(face: Face, image: DecodedImage, level: str) -> list[str]:
    """Rekognition's UnindexedFaces reasons for a face under QualityFilter ``level`` (empty: it passes).

    NONE filters nothing; AUTO is MEDIUM. The bars (box side, confidence, sharpness, brightness, pose) are in
    ``_QUALITY_BARS``; LOW_FACE_QUALITY is added when two or more other reasons apply.
    """
    level = validate_quality_filter(level)
    if level == "NONE":
        return []
    min_side, min_conf, min_sharp, min_bright, max_bright, max_angle = _QUALITY_BARS[level]
    reasons = []
    if max(abs(face.pose.yaw), abs(face.pose.pitch)) > max_angle:
        reasons.append("EXTREME_POSE")
    if not min_bright <= face.quality.brightness <= max_bright:
        reasons.append("LOW_BRIGHTNESS")
    if face.quality.sharpness < min_sharp:
        reasons.append("LOW_SHARPNESS")
    if min(face.width, face.height) < min_side:
        reasons.append("SMALL_BOUNDING_BOX")
    if confidence(face) < min_conf:
        reasons.append("LOW_CONFIDENCE")
    if len(reasons) >= 2:
        reasons.append("LOW_FACE_QUALITY")
    return reasons


def compare_faces(
    engine: FaceEngine,
    source: DecodedImage,
    target: DecodedImage,
    *,
    similarity_threshold: float = 80.0,
    quality_filter: str = "NONE",
) -> dict[str, Any]:
    """The CompareFaces response body: the source's largest face against the target's 100 largest faces.

    FaceMatches (similarity >= threshold) are sorted by similarity, highest first; the others are
    UnmatchedFaces. No face in the source or the target (after the quality filter) raises
    InvalidParameterException, as Rekognition does. Similarity is ``regard.vision.similarity`` of the
    embeddings' cosine.
    """
    threshold = validate_percent("SimilarityThreshold", similarity_threshold)
    level = validate_quality_filter(quality_filter)
    source_faces = [
        f for f in engine.detect(source, max_faces=1) if not quality_filter_reasons(f, source, level)
    ]
    if not source_faces:
        raise InvalidParameterException(f"There are no faces in the source image{_bar(level)}.")
    target_faces = [
        f
        for f in engine.detect(target, max_faces=MAX_FACES_LIMIT)
        if not quality_filter_reasons(f, target, level)
    ]
    if not target_faces:
        raise InvalidParameterException(f"There are no faces in the target image{_bar(level)}.")
    source_vector = engine.embed(source, source_faces)[0]
    similarities = similarities_from_cosines(engine.embed(target, target_faces) @ source_vector)
    order = np.argsort(-similarities, kind="stable")
    matches, unmatched = [], []
    for i in order:
        face = target_faces[int(i)]
        if similarities[i] >= threshold:
            matches.append({"Similarity": float(similarities[i]), "Face": compared_face(face, target)})
        else:
            unmatched.append(compared_face(face, target))
    source_face = source_faces[0]
    return {
        "SourceImageFace": {
            "BoundingBox": bounding_box(source_face, source),
            "Confidence": confidence(source_face),
        },
        "FaceMatches": matches,
        "UnmatchedFaces": unmatched,
    }


def _bar(level: str) -> str:
    return "" if level == "NONE" else f" that meet the {level} quality bar"
