"""Brightness and Sharpness of a face, each 0-100, measured on the face's box (clipped to the image).

Brightness is the mean luma (BT.601) of the box as a percentage of white. Sharpness is the variance of the
Laplacian of the box resized to 112 px wide (so that it measures the face, not the photo's resolution), mapped
to 0-100 by ``100 * (1 - exp(-variance / SHARPNESS_SCALE))``: monotonic and saturating (63 at a variance of
150, a slightly soft face). SHARPNESS_SCALE was set on the shared test images: InspireFace's deliberately
blurred face scores about 11, press portraits 90-99. These are relative measures for the quality filters, like
Rekognition's, not calibrated physical quantities.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

from regard.vision.face import Quality

SHARPNESS_SCALE = 150.0
_SIDE = 112


def measure_quality(bgr: NDArray[np.uint8], box: NDArray[np.floating]) -> Quality:
    """Quality of the face in ``box`` (x1, y1, x2, y2 pixels) of a BGR image."""
    height, width = bgr.shape[:2]
    x1, y1 = max(math.floor(box[0]), 0), max(math.floor(box[1]), 0)
    x2, y2 = min(math.ceil(box[2]), width), min(math.ceil(box[3]), height)
    if x2 - x1 < 2 or y2 - y1 < 2:
        return Quality(brightness=0.0, sharpness=0.0)
    grey = cv2.cvtColor(bgr[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY)
    brightness = float(grey.mean()) / 255.0 * 100.0
    scale = _SIDE / grey.shape[1]
    size = (_SIDE, max(2, round(grey.shape[0] * scale)))
    resized = cv2.resize(grey, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    variance = float(cv2.Laplacian(resized, cv2.CV_64F).var())
    sharpness = 100.0 * (1.0 - math.exp(-variance / SHARPNESS_SCALE))
    return Quality(brightness=round(brightness, 4), sharpness=round(sharpness, 4))


def quality_batch(bgr: NDArray[np.uint8], boxes: NDArray[np.floating]) -> list[Quality]:
    return [measure_quality(bgr, box) for box in np.asarray(boxes)]
