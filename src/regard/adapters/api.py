"""The Python API: Rekognition's stateless face operations on image bytes, returning Rekognition-shaped dicts.

    import regard
    engine = regard.Engine()
    body = engine.detect_faces(open("photo.jpg", "rb").read())
    match = engine.compare_faces(source_bytes, target_bytes, similarity_threshold=80)

Models load on first use. Errors are the Rekognition-named exceptions of ``regard.errors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from regard.service import faces
from regard.vision.engine import FaceEngine
from regard.vision.image import decode_image
from regard.vision.packs import load_pack


class Engine:
    """Stateless face operations (DetectFaces, CompareFaces); ``pack`` is a pack name or folder (default
    buffalo_s).
    """

    def __init__(
        self, pack: str | None = None, *, engine: FaceEngine | None = None, data_dir: Path | None = None
    ) -> None:
        self.engine = engine if engine is not None else FaceEngine(load_pack(pack))
        self.data_dir = data_dir  # where a calibration of the user's own lives (``regard calibrate``)

    def detect_faces(
        self,
        image: bytes,
        *,
        attributes: Sequence[str] = ("DEFAULT",),
        max_faces: int | None = faces.MAX_FACES_LIMIT,
    ) -> dict[str, Any]:
        """The DetectFaces body for JPEG/PNG bytes: the ``max_faces`` largest faces (None: all), largest
        first.
        """
        return faces.detect_faces(
            self.engine, decode_image(image), attributes=attributes, max_faces=max_faces
        )

    def compare_faces(
        self,
        source: bytes,
        target: bytes,
        *,
        similarity_threshold: float = 80.0,
        quality_filter: str = "NONE",
    ) -> dict[str, Any]:
        """The CompareFaces body: the source's largest face against the target's faces (80 = low false
        matches). Each match also carries ``EstimatedFalseMatchRate`` and its upper bound when the pack
        has a calibration table.
        """
        from regard.evaluation.calibration import annotate_matches, load_calibration

        body = faces.compare_faces(
            self.engine,
            decode_image(source),
            decode_image(target),
            similarity_threshold=similarity_threshold,
            quality_filter=quality_filter,
        )
        return annotate_matches(body, load_calibration(self.data_dir, self.engine.model_version))
