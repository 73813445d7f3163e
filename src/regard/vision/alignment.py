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
    """The 2 x 3 similarity matrix minimising the squared distance from ``src`` points ``(k, 2)`` to
    ``dst`` (Umeyama 1991); for a stack of point sets ``(n, k, 2)``, the ``(n, 2, 3)`` matrices, all in one
    batch of numpy operations.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    points = src.shape[-2]
    src_mean, dst_mean = src.mean(axis=-2, keepdims=True), dst.mean(axis=-2, keepdims=True)
    src_c, dst_c = src - src_mean, dst - dst_mean
    covariance = np.swapaxes(dst_c, -1, -2) @ src_c / points
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones_like(singular)
    sign[..., -1] = np.where(np.linalg.det(u) * np.linalg.det(vt) < 0, -1.0, 1.0)
    rotation = (u * sign[..., None, :]) @ vt  # u @ diag(sign) @ vt
    variance = (src_c**2).sum(axis=(-2, -1)) / points
    spread = (singular * sign).sum(axis=-1)
    scale = np.where(variance > 0, spread / np.where(variance > 0, variance, 1.0), 1.0)
    linear = scale[..., None, None] * rotation
    matrix = np.empty((*src.shape[:-2], 2, 3), dtype=np.float64)
    matrix[..., :2] = linear
    matrix[..., 2] = dst_mean[..., 0, :] - (linear @ np.swapaxes(src_mean, -1, -2))[..., 0]
    return matrix


def arcface_matrix(keypoints: NDArray[np.floating], size: int = ARCFACE_SIZE) -> NDArray[np.float64]:
    """The transform taking a face's 5 keypoints ``(5, 2)`` (or each of ``(n, 5, 2)``) onto the ArcFace
    template scaled to ``size``."""
    return similarity_transform(keypoints, ARCFACE_TEMPLATE * (size / ARCFACE_SIZE))


def align_faces(
    bgr: NDArray[np.uint8], keypoints: NDArray[np.floating], size: int = ARCFACE_SIZE
) -> NDArray[np.uint8]:
    """Aligned crops ``(n, size, size, 3)`` BGR, one per ``(5, 2)`` keypoint set in ``keypoints`` ``(n, 5,
    2)``.
    """
    crops = np.zeros((len(keypoints), size, size, 3), dtype=np.uint8)
    if len(keypoints) == 0:
        return crops
    for crop, matrix in zip(crops, arcface_matrix(keypoints, size), strict=True):  # no batched warp in cv2
        cv2.warpAffine(bgr, matrix, (size, size), dst=crop, borderValue=(0, 0, 0))
    return crops
