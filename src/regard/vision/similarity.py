"""Rekognition's 0-100 Similarity from the recogniser's cosine, and back: a documented, monotonic map.

Rekognition reports face similarity on 0-100 with a default threshold of 80 (CompareFaces, SearchFaces), and
says 80 suits personal photo collections while public-safety uses need 99. Cosine similarity of ArcFace
embeddings has no such meaning by itself, so Regard maps it piecewise-linearly through fixed knots, chosen so
that similarity 80 sits well above every impostor pair measured (the threshold is about false matches first):

    cosine      -1    0.0   0.2   0.4   0.55   0.7   1.0
    similarity   0    20    50    80    95     99    100

Measured with ``bench/measure_similarity.py`` on the labelled sets in ``../shared/data`` (dlib johns,
face-api.js characters, face_recognition/knn_examples, openface, facenet-pytorch, InspireFace pairs: 126
images, 30 identities, 365 genuine and 7,510 impostor pairs, buffalo_s):

* impostor cosine: median 0.007, 99.9th percentile 0.225, worst 0.316 (two actresses; similarity 67.4);
* genuine cosine: median 0.712 (similarity 99.0), 5th percentile 0.506, worst 0.355;
* at similarity 80 (cosine 0.40): FMR 0 / 7,510 (95 % upper bound 4.0e-4, rule of three), FNMR 4 / 365 =
  1.1 % (all four are face-api.js TV stills with strong pose and lighting changes).

These sets are small and not demographically balanced: the numbers show the map is conservative, they are not
an accuracy claim (see docs/similarity.md and the recogniser's published demographic gap in models.md).
"""

from __future__ import annotations

import numpy as np

COSINE_KNOTS = (-1.0, 0.0, 0.2, 0.4, 0.55, 0.7, 1.0)
SIMILARITY_KNOTS = (0.0, 20.0, 50.0, 80.0, 95.0, 99.0, 100.0)

_COSINE = np.array(COSINE_KNOTS)
_SIMILARITY = np.array(SIMILARITY_KNOTS)


def similarity_from_cosine(cosine: float) -> float:
    """Similarity 0-100 for a cosine in [-1, 1] (values outside are clipped); strictly increasing."""
    return float(np.interp(cosine, _COSINE, _SIMILARITY))


def cosine_from_similarity(similarity: float) -> float:
    """The cosine at which ``similarity_from_cosine`` reaches ``similarity`` (0-100): its exact inverse."""
    return float(np.interp(similarity, _SIMILARITY, _COSINE))


def similarities_from_cosines(cosines: np.ndarray) -> np.ndarray:
    """Vectorised ``similarity_from_cosine`` for an array of cosines."""
    return np.interp(np.asarray(cosines, dtype=np.float64), _COSINE, _SIMILARITY)
