"""Head pose (Roll, Yaw, Pitch in degrees) from landmarks, with the signs Rekognition uses.

Roll comes straight from the eye line (the angle of the line from the image-left eye to the image-right eye;
positive when the image-right eye is lower, i.e. the head tilts clockwise as seen). Yaw and pitch come from
``cv2.solvePnP`` fitting a generic 3D face (a mean head shape in millimetres, nose tip at the origin, x to the
image's right, y down, z away from the camera) to the 2D points: six points with the 106-point model (eye
outer corners, nose tip, mouth corners, chin), else the 5 keypoints. A generic head gives angles good to a few
degrees near frontal and the right sign and rough size beyond; that is what the signs and Rekognition's
EXTREME_POSE filter need.

Signs (checked on InspireFace's pose images against the constraints their tests assert, ``tests/vision``): Yaw
is negative when the face turns towards the image's left (we see its right cheek), positive towards the
image's right; Pitch is positive when the face looks up, negative when it looks down; Roll is positive
clockwise.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

from regard.vision.face import Pose

# Generic head, millimetres: image-left and image-right eye outer corners, nose tip, mouth corners, chin.
_MODEL_6 = np.array(
    [
        [-45.0, -34.0, 27.0],
        [45.0, -34.0, 27.0],
        [0.0, 0.0, 0.0],
        [-30.0, 30.0, 25.0],
        [30.0, 30.0, 25.0],
        [0.0, 66.0, 13.0],
    ]
)
# Eye centres, nose tip, mouth corners (the 5 keypoints).
_MODEL_5 = np.array(
    [[-31.0, -34.0, 27.0], [31.0, -34.0, 27.0], [0.0, 0.0, 0.0], [-30.0, 30.0, 25.0], [30.0, 30.0, 25.0]]
)
LANDMARKS_FOR_POSE = (35, 93, 86, 52, 61, 0)
"""Indices in the 106-point layout matching ``_MODEL_6``."""


def estimate_pose(
    keypoints: NDArray[np.floating], landmarks: NDArray[np.floating] | None, image_size: tuple[int, int]
) -> Pose:
    """Pose of one face from its 5 keypoints and, if present, its 106 landmarks; ``image_size`` is (w, h)."""
    left_eye, right_eye = keypoints[0], keypoints[1]
    roll = math.degrees(math.atan2(float(right_eye[1] - left_eye[1]), float(right_eye[0] - left_eye[0])))
    if landmarks is not None:
        model, points = _MODEL_6, np.asarray(landmarks, np.float64)[list(LANDMARKS_FOR_POSE)]
    else:
        model, points = _MODEL_5, np.asarray(keypoints, np.float64)
    yaw, pitch = _yaw_pitch(model, points, image_size)
    return Pose(roll=round(roll, 4), yaw=round(yaw, 4), pitch=round(pitch, 4))


def _yaw_pitch(
    model: NDArray[np.float64], points: NDArray[np.float64], image_size: tuple[int, int]
) -> tuple[float, float]:
    width, height = image_size
    focal = float(max(width, height))
    camera = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], dtype=np.float64)
    # Start from a frontal face at a distance that makes the eyes as far apart as observed.
    eye_px = max(float(np.linalg.norm(points[1] - points[0])), 1.0)
    distance = focal * float(model[1, 0] - model[0, 0]) / eye_px
    centre = points[2]
    tvec = np.array(
        [
            [(centre[0] - width / 2) * distance / focal],
            [(centre[1] - height / 2) * distance / focal],
            [distance],
        ]
    )
    rvec = np.zeros((3, 1))
    ok, rvec, tvec = cv2.solvePnP(
        model, points, camera, None, rvec, tvec, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE
    )
    if not ok:
        return 0.0, 0.0
    rotation, _ = cv2.Rodrigues(rvec)
    # Rotation taking model (face) axes to camera axes. Yaw: about the camera's y axis; pitch: about x.
    forward = rotation @ np.array(
        [0.0, 0.0, -1.0]
    )  # the direction the face looks (towards the camera when 0)
    yaw = math.degrees(math.atan2(forward[0], -forward[2]))
    pitch = math.degrees(math.atan2(-forward[1], math.hypot(forward[0], forward[2])))
    return float(np.clip(yaw, -180, 180)), float(np.clip(pitch, -180, 180))
