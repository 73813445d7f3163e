"""What every backend's ``search_faces`` does around its index: check the query, score candidates exactly.

The index (usearch, pgvector) only proposes candidates; the answer is ranked by float32 dot products
with the stored vectors, so every backend returns the same scores and order for the same candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from typing import Any

import numpy as np

from regard.errors import InvalidParameterException
from regard.store.embedded import rows
from regard.store.records import FaceRecord


def unit_query(query: Any, size: int) -> np.ndarray | None:
    """The query as a unit float32 vector; None for the zero vector; InvalidParameter for a wrong one."""
    q = np.asarray(query, dtype=np.float32).reshape(-1)
    if q.shape != (size,) or not np.all(np.isfinite(q)):
        raise InvalidParameterException(f"query must be {size} finite values")
    norm = float(np.linalg.norm(q))
    return None if norm == 0.0 else q / norm


def rescore(
    found: Sequence[Sequence[Any]],
    q: np.ndarray,
    skip: Container[str],
    min_cosine: float,
    max_results: int,
    to_vector: Callable[[Any], np.ndarray],
) -> list[tuple[FaceRecord, float]]:
    """``found``: face rows (``rows.FACE_COLUMNS``) each followed by its stored vector. Best first."""
    hits: list[tuple[FaceRecord, float]] = []
    for r in found:
        if r[0] in skip:
            continue
        score = float(np.dot(to_vector(r[-1]), q))
        if score >= min_cosine:
            hits.append((rows.face(r[:-1]), score))
    hits.sort(key=lambda h: (-h[1], h[0].face_id))
    return hits[:max_results]
