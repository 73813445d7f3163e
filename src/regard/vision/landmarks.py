"""106-point landmarks (InsightFace 2d106det) and the Rekognition landmark types they honestly give.

The model sees a square crop 1.5 x the box's long side around the box centre, resized to 192 x 192, and
returns points in [-1, 1] of that crop. Faces are batched in one call.

Mapping to Rekognition's 30 types (``REKOGNITION_FROM_106``): each type is one 106-point index or the mean of
two, read off the model's point layout on real faces (mean layout in the aligned 112 x 112 frame over four
photographs). "Left" and "right" are the image's (``eyeLeft`` is the eye nearer the image's left edge), as the
5 keypoints are. The five basic types (eyeLeft, eyeRight, nose, mouthLeft, mouthRight) come from the
detector's keypoints, so they exist with every pack. The layout: contour 1, 9-16, 2-8 down the image-left side
to the chin 0, and 17, 25-32, 18-24 down the other side; image-left eye outline 33-42 (35 outer corner, 39
inner, 40 top, 33 bottom, 38 centre), image-right eye 87-96 (89 inner, 93 outer, 94 top, 87 bottom, 88
centre); eyebrows 43-51 and 97-105; nose 72-86 (86 tip, 77/83 the wings); mouth 52-71 (52 and 61 the corners,
71 top of the upper lip, 53 bottom of the lower). Pupils are not located by this model (it marks the eye
outline), so ``leftPupil``/``rightPupil`` are the centre of the eye outline: right for a face looking at the
camera, an approximation otherwise.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from regard.vision.packs import Normalisation
from regard.vision.runtimes import CompiledModel
from regard.vision.runtimes.base import run_batched

INPUT_SIZE = 192
CROP_FACTOR = 1.5


class LandmarkModel:
    """A 106-point 2D landmark model: ``[N, 3, 192, 192]`` -> ``[N, 212]``.

    Batches of 8: measured on the 2-core machine, 6 ms per face at batch 4-8 against 9-11 ms at 1 or 22.
    """

    def __init__(
        self, model: CompiledModel, normalisation: Normalisation, *, batch_size: int = 8
    ) -> None:
        self._model = model
        self._norm = normalisation
        self._batch = batch_size

    def predict(self, bgr: NDArray[np.uint8], boxes: NDArray[np.float32]) -> NDArray[np.float32]:
        """Landmarks ``(n, 106, 2)`` in image pixels for boxes ``(n, 4)``; ``(0, 106, 2)`` for none."""
        out = np.zeros((len(boxes), 106, 2), dtype=np.float32)
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        scales = INPUT_SIZE / (np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) * CROP_FACTOR)
        for part, outputs in run_batched(
            self._model, len(boxes), self._batch, lambda part: self._blob(bgr, centres[part], scales[part])
        ):
            pred = outputs[0].reshape(part.stop - part.start, -1, 2)[:, -106:]
            crop_px = (pred + 1.0) * (INPUT_SIZE / 2)
            out[part] = (crop_px - INPUT_SIZE / 2) / scales[part, None, None] + centres[part, None, :]
        return out

    def _blob(
        self, bgr: NDArray[np.uint8], centres: NDArray[np.float32], scales: NDArray[np.float32]
    ) -> NDArray[np.float32]:
        """The model's input for faces at ``centres`` scaled by ``scales``: square crops, 192 x 192."""
        crops = []
        for (cx, cy), s in zip(centres, scales, strict=True):
            matrix = np.array([[s, 0, INPUT_SIZE / 2 - s * cx], [0, s, INPUT_SIZE / 2 - s * cy]])
            crops.append(cv2.warpAffine(bgr, matrix, (INPUT_SIZE, INPUT_SIZE), borderValue=(0, 0, 0)))
        mean = self._norm.mean
        return cv2.dnn.blobFromImages(
            crops, 1.0 / self._norm.std, (INPUT_SIZE, INPUT_SIZE), (mean, mean, mean), swapRB=True
        )


REKOGNITION_FROM_106: dict[str, tuple[int, ...]] = {
    "leftEyeBrowLeft": (43,),
    "leftEyeBrowRight": (46, 50),
    "leftEyeBrowUp": (49, 51),
    "rightEyeBrowLeft": (97, 102),
    "rightEyeBrowRight": (101,),
    "rightEyeBrowUp": (103, 104),
    "leftEyeLeft": (35,),
    "leftEyeRight": (39,),
    "leftEyeUp": (40,),
    "leftEyeDown": (33,),
    "rightEyeLeft": (89,),
    "rightEyeRight": (93,),
    "rightEyeUp": (94,),
    "rightEyeDown": (87,),
    "noseLeft": (77,),
    "noseRight": (83,),
    "mouthUp": (71,),
    "mouthDown": (53,),
    "leftPupil": (38,),
    "rightPupil": (88,),
    "upperJawlineLeft": (1,),
    "midJawlineLeft": (16,),
    "chinBottom": (0,),
    "midJawlineRight": (32,),
    "upperJawlineRight": (17,),
}
"""Rekognition landmark type -> indices of the 106 points to average (see the module docstring)."""

KEYPOINT_TYPES = ("eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight")
"""Rekognition types of the detector's 5 keypoints, in keypoint order."""


def rekognition_points(
    keypoints: NDArray[np.floating], landmarks: NDArray[np.floating] | None
) -> list[tuple[str, float, float]]:
    """(Type, x, y) in pixels: the 5 keypoint types, then the 25 others when 106 landmarks are present."""
    points = [(name, float(x), float(y)) for name, (x, y) in zip(KEYPOINT_TYPES, keypoints, strict=True)]
    if landmarks is not None:
        for name, indices in REKOGNITION_FROM_106.items():
            x, y = np.asarray(landmarks)[list(indices)].mean(axis=0)
            points.append((name, float(x), float(y)))
    return points
