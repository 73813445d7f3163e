"""The cosine <-> Similarity map: monotonic, invertible, 80 where the measured impostors are far below."""

from __future__ import annotations

import itertools

import numpy as np

from regard.vision.similarity import cosine_from_similarity, similarity_from_cosine


def test_monotonic_and_bounded() -> None:
    cosines = np.linspace(-1, 1, 2001)
    values = [similarity_from_cosine(c) for c in cosines]
    assert values[0] == 0 and values[-1] == 100
    assert all(b > a for a, b in itertools.pairwise(values))


def test_inverse() -> None:
    for similarity in (0, 12.5, 50, 80, 90, 99, 99.9, 100):
        assert abs(similarity_from_cosine(cosine_from_similarity(similarity)) - similarity) < 1e-9


def test_threshold_80_is_above_the_worst_measured_impostor() -> None:
    # bench/measure_similarity.py: worst impostor cosine 0.316 over 7,510 pairs; genuine median 0.712.
    assert cosine_from_similarity(80) == 0.4
    assert similarity_from_cosine(0.316) < 70
    assert similarity_from_cosine(0.712) > 99
