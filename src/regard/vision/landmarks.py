"""106-point landmarks (InsightFace 2d106det) and the Rekognition landmark types they honestly give.

The model sees a square crop 1.5 x the box's long side around the box centre, resized to 192 x 192, and returns
points in [-1, 1] of that crop. Faces are batched in one call.

Mapping to Rekognition's 30 types (``REKOGNITION_FROM_106``): each type is one 106-point index, or the mean of a
few, chosen by reading the model's point layout off real faces (``tests/vision/test_landmarks`` checks the geometry:
eyes above nose above mouth, left of right, corners outside centres). Rekognition's left/right are the *subject's*
(``eyeLeft`` is the subject's left eye, on the image's right for a frontal face)? No: Rekognition documents
``eyeLeft`` as the eye on the left of the image; Regard follows that (image-left), as the 5 keypoints do.
Pupils are not located by this model (it marks the eye outline), so ``leftPupil``/``rightPupil`` are the centre of
the eye outline: an approximation, stated here. Every one of the 30 types is produced from the 106 points; with a
pack without a landmark model only the 5 keypoint types are returned.
"""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from regard.vision.packs import Normalisation

INPUT_SIZE = 192
CROP_FACTOR = 1.5


class LandmarkModel:
    """A 106-point 2D landmark model: ``[N, 3, 192, 192]`` -> ``[N, 212]``."""

    def __init__(self, session: ort.InferenceSession, normalisation: Normalisation, *, batch_size: int = 32) -> None:
        self._session = session
        self._input = session.get_inputs()[0].name
        self._output = session.get_outputs()[0].name
        self._norm = normalisation
        self._batch = batch_size

    def predict(self, bgr: NDArray[np.uint8], boxes: NDArray[np.float32]) -> NDArray[np.float32]:
        """Landmarks ``(n, 106, 2)`` in image pixels for boxes ``(n, 4)``; ``(0, 106, 2)`` for none."""
        out = np.zeros((len(boxes), 106, 2), dtype=np.float32)
        mean = self._norm.mean
        for start in range(0, len(boxes), self._batch):
            chunk = boxes[start:start + self._batch]
            centres = (chunk[:, :2] + chunk[:, 2:]) / 2
            scales = INPUT_SIZE / (np.maximum(chunk[:, 2] - chunk[:, 0], chunk[:, 3] - chunk[:, 1]) * CROP_FACTOR)
            crops = []
            for (cx, cy), s in zip(centres, scales, strict=True):
                matrix = np.array([[s, 0, INPUT_SIZE / 2 - s * cx], [0, s, INPUT_SIZE / 2 - s * cy]])
                crops.append(cv2.warpAffine(bgr, matrix, (INPUT_SIZE, INPUT_SIZE), borderValue=(0, 0, 0)))
            blob = cv2.dnn.blobFromImages(crops, 1.0 / self._norm.std, (INPUT_SIZE, INPUT_SIZE),
                                          (mean, mean, mean), swapRB=True)
            pred = self._session.run([self._output], {self._input: blob})[0].reshape(len(chunk), -1, 2)[:, -106:]
            crop_px = (pred + 1.0) * (INPUT_SIZE / 2)
            out[start:start + len(chunk)] = (crop_px - INPUT_SIZE / 2) / scales[:, None, None] + centres[:, None, :]
        return out
