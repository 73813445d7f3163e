"""ArcFace alignment: a least-squares similarity transform of the 5 keypoints onto one template, then
warpAffine.

The recogniser was trained on faces warped this way, so the template and the 112 x 112 size are part of the
model's contract, not a choice. The fit is Umeyama's closed form (rotation, uniform scale, translation; no
shear), which is what scikit-image's ``SimilarityTransform.estimate`` computes for InsightFace;
``tests/vision`` checks it recovers a known transform exactly.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

ARCFACE_SIZE = 112
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)
"""Where the 5 keypoints (eye, eye, nose, mouth corner, mouth corner; image left first) land in a 112 crop."""


def similarity_transform(src: NDArray[np.floating], dst: NDArray[np.floating]) -> NDArray[np.float64]:
    """The 2 x 3 similarity matrix minimising the squared distance from ``src`` points to ``dst`` (Umeyama
    1991).
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    variance = (src_c**2).sum() / len(src)
    scale = float((singular * sign).sum() / variance) if variance > 0 else 1.0
    matrix = np.zeros((2, 3), dtype=np.float64)
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def arcface_matrix(keypoints: NDArray[np.floating], size: int = ARCFACE_SIZE) -> NDArray[np.float64]:
    """The transform taking a face's 5 keypoints onto the ArcFace template scaled to ``size``."""
    return similarity_transform(keypoints, ARCFACE_TEMPLATE * (size / ARCFACE_SIZE))


def align_faces(
    bgr: NDArray[np.uint8], keypoints: NDArray[np.floating], size: int = ARCFACE_SIZE
) -> NDArray[np.uint8]:
    """Aligned crops ``(n, size, size, 3)`` BGR, one per ``(5, 2)`` keypoint set in ``keypoints`` ``(n, 5,
    2)``.
    """
    crops = np.zeros((len(keypoints), size, size, 3), dtype=np.uint8)
    for i, points in enumerate(keypoints):
        crops[i] = cv2.warpAffine(bgr, arcface_matrix(points, size), (size, size), borderValue=(0, 0, 0))
    return crops
