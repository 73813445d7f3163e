"""What the vision layer knows of a face: pixels and geometry, never identity or storage.

Coordinates are in pixels of the decoded, orientation-corrected image, origin top-left.
The five keypoints follow the ArcFace/SCRFD order: the eye on the image's left (the subject's
right eye), the eye on the image's right, the nose tip, the mouth corner on the image's left,
the mouth corner on the image's right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Pose:
    """Head pose in degrees with Rekognition's signs (see ``vision.pose`` for the conventions)."""

    roll: float
    yaw: float
    pitch: float


@dataclass(frozen=True, slots=True)
class Quality:
    """Brightness and sharpness of the face region, each 0-100 (higher is brighter / sharper)."""

    brightness: float
    sharpness: float


@dataclass(frozen=True, slots=True)
class Face:
    """One detected face.

    ``box`` is ``[x1, y1, x2, y2]`` in pixels (it may extend past the image edge);
    ``score`` the detector's confidence 0-1; ``keypoints`` a (5, 2) array;
    ``landmarks`` a (106, 2) array when the pack has a landmark model, else ``None``.
    """

    box: FloatArray
    score: float
    keypoints: FloatArray
    pose: Pose
    quality: Quality
    landmarks: FloatArray | None = None

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)
