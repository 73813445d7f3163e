"""Alignment: the least-squares similarity fit recovers a known transform; crops have the ArcFace shape."""

from __future__ import annotations

import numpy as np

from regard.vision.alignment import ARCFACE_TEMPLATE, align_faces, arcface_matrix, similarity_transform


def test_similarity_transform_recovers_a_known_transform() -> None:
    angle, scale, shift = np.deg2rad(23.0), 1.7, np.array([12.5, -4.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    src = ARCFACE_TEMPLATE
    dst = src @ (scale * rotation).T + shift
    matrix = similarity_transform(src, dst)
    np.testing.assert_allclose(matrix[:, :2], scale * rotation, atol=1e-9)
    np.testing.assert_allclose(matrix[:, 2], shift, atol=1e-9)


def test_similarity_transform_is_least_squares_under_noise() -> None:
    rng = np.random.default_rng(1)
    noisy = ARCFACE_TEMPLATE * 2.0 + 30 + rng.normal(0, 0.5, ARCFACE_TEMPLATE.shape)
    matrix = arcface_matrix(noisy)
    mapped = noisy @ matrix[:, :2].T + matrix[:, 2]
    assert np.abs(mapped - ARCFACE_TEMPLATE).max() < 1.0
    assert abs(np.linalg.det(matrix[:, :2]) - 0.25) < 0.01  # a pure similarity: scale 1/2, no shear


def test_align_faces_shapes() -> None:
    image = np.zeros((300, 300, 3), dtype=np.uint8)
    crops = align_faces(image, np.stack([ARCFACE_TEMPLATE + 50, ARCFACE_TEMPLATE * 2]))
    assert crops.shape == (2, 112, 112, 3) and crops.dtype == np.uint8
    assert align_faces(image, np.zeros((0, 5, 2))).shape == (0, 112, 112, 3)


def test_a_stack_of_keypoint_sets_gives_each_set_its_own_transform() -> None:
    rng = np.random.default_rng(7)
    stack = ARCFACE_TEMPLATE * 2.5 + rng.normal(0, 3.0, (40, 5, 2)) + rng.uniform(0, 500, (40, 1, 2))
    stack[3] = stack[3][:, ::-1]  # a mirrored set: the reflection case of Umeyama's sign correction
    together = arcface_matrix(stack)
    assert together.shape == (40, 2, 3)
    for points, matrix in zip(stack, together, strict=True):
        np.testing.assert_allclose(matrix, arcface_matrix(points), atol=1e-9)
