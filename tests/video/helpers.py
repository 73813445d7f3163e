"""Synthetic faces and a scripted engine, for tests of tracking and job mechanics that need no model."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from regard.vision.face import Face, Pose, Quality


def face(x1: float, y1: float, x2: float, y2: float, *, score: float = 0.9, yaw: float = 0.0) -> Face:
    box = np.array([x1, y1, x2, y2], dtype=np.float32)
    return Face(
        box=box,
        score=score,
        keypoints=np.zeros((5, 2), dtype=np.float32),
        pose=Pose(roll=0.0, yaw=yaw, pitch=0.0),
        quality=Quality(brightness=50.0, sharpness=50.0),
    )


def unit(seed: int, dim: int = 512) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return vector / np.linalg.norm(vector)


@dataclass
class ScriptedEngine:
    """Stands in for FaceEngine: two faces in every frame, person A still on the left, person B drifting
    on the right; embeddings say who is who by the side the face is on. ``delay`` slows detection."""

    model_version: str = "scripted/1.0"
    delay: float = 0.0
    detect_calls: int = 0
    embed_calls: int = 0
    landmark_calls: int = 0

    def detect(self, image, *, max_faces: int = 100, landmarks: bool = False):
        if self.delay:
            time.sleep(self.delay)
        self.detect_calls += 1
        self.landmark_calls += landmarks
        w = image.pixels.shape[1]
        x = w * 0.6 + (self.detect_calls % 20)
        return [face(20, 40, 100, 140), face(x, 60, x + 80, 160)][:max_faces]

    def embed(self, image, faces):
        self.embed_calls += len(faces)
        return np.stack([PERSON_A if f.box[0] < 200 else PERSON_B for f in faces]).astype(np.float32)


PERSON_A = unit(7)
PERSON_B = unit(8)
