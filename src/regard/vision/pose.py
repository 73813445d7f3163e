"""Head pose (Roll, Yaw, Pitch in degrees) from the detector's 5 keypoints, with the signs Rekognition uses.

Roll comes straight from the eye line (the angle of the line from the image-left eye to the image-right eye;
positive when the image-right eye is lower, i.e. the head tilts clockwise as seen). Yaw and pitch come from a
closed-form weak-perspective fit of a generic 3D face (a mean head shape in millimetres, nose tip at the
origin, x to the image's right, y down, z away from the camera) to the 5 keypoints: the least-squares affine
camera ``M = Y X+`` (Y the centred 2D points, X+ the pseudo-inverse of the centred model), its nearest matrix
with orthonormal rows (SVD), completed to a rotation by a cross product. It is numpy on all faces at once
(about 0.01 ms per face, where ``cv2.solvePnP`` per face took 0.4 ms and a 106-point model run 6 ms), so
DetectFaces with the DEFAULT attributes never runs the landmark model, and DEFAULT and ALL report the same
pose. A generic head gives angles good to several degrees near frontal and the right sign and rough size
beyond; that is what the signs and Rekognition's EXTREME_POSE filter need.

Signs (checked on InspireFace's pose images against the constraints their tests assert, ``tests/vision``): Yaw
is negative when the face turns towards the image's left (we see its right cheek), positive towards the
image's right; Pitch is positive when the face looks up, negative when it looks down; Roll is positive
clockwise.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from regard.vision.face import Pose

# Eye centres, nose tip, mouth corners (the 5 keypoints), millimetres.
_MODEL_5 = np.array(
    [[-31.0, -34.0, 27.0], [31.0, -34.0, 27.0], [0.0, 0.0, 0.0], [-30.0, 30.0, 25.0], [30.0, 30.0, 25.0]]
)
_MODEL_PINV = np.linalg.pinv(_MODEL_5 - _MODEL_5.mean(axis=0))
"""(3, 5): maps centred 2D keypoints to the affine camera's rows."""


def estimate_poses(keypoints: NDArray[np.floating]) -> NDArray[np.float64]:
    """``(n, 3)`` roll, yaw, pitch in degrees for keypoints ``(n, 5, 2)`` (image pixels)."""
    points = np.asarray(keypoints, dtype=np.float64).reshape(-1, 5, 2)
    if len(points) == 0:
        return np.zeros((0, 3))
    eyes = points[:, 1] - points[:, 0]
    roll = np.degrees(np.arctan2(eyes[:, 1], eyes[:, 0]))
    centred = points - points.mean(axis=1, keepdims=True)
    affine = np.einsum("nkc,jk->ncj", centred, _MODEL_PINV)  # (n, 2, 3), rows = scale x rotation rows
    u, _, vt = np.linalg.svd(affine, full_matrices=False)
    rows = u @ vt
    third = np.cross(rows[:, 0], rows[:, 1])
    # The direction the face looks (-z of the face) in camera axes: minus the rotation's third column.
    forward = -np.stack([rows[:, 0, 2], rows[:, 1, 2], third[:, 2]], axis=1)
    yaw = np.degrees(np.arctan2(forward[:, 0], -forward[:, 2]))
    pitch = np.degrees(np.arctan2(-forward[:, 1], np.hypot(forward[:, 0], forward[:, 2])))
    return np.round(np.stack([roll, yaw, pitch], axis=1), 4)


def estimate_pose(keypoints: NDArray[np.floating]) -> Pose:
    """Pose of one face from its ``(5, 2)`` keypoints."""
    roll, yaw, pitch = (float(v) for v in estimate_poses(keypoints)[0])
    return Pose(roll=roll, yaw=yaw, pitch=pitch)
