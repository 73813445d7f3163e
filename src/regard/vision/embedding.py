"""Face embeddings: aligned 112 x 112 crops through the recogniser in batches, L2-normalised.

Batching matters on a small CPU: one call for 32 faces costs less than 32 calls (models.md measures it), and
the output is normalised here so that a dot product is the cosine similarity everywhere else.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from regard.vision.packs import Normalisation
from regard.vision.runtimes import CompiledModel
from regard.vision.runtimes.base import run_batched

BATCH_SIZE = 32


class Recogniser:
    """An ArcFace-style ONNX recogniser: ``[N, 3, 112, 112]`` RGB -> ``[N, D]``."""

    def __init__(
        self,
        model: CompiledModel,
        normalisation: Normalisation,
        embedding_size: int,
        *,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self._model = model
        self._norm = normalisation
        self._size = embedding_size
        self._batch = batch_size  # for models of any batch size; OpenVINO's has its own (model.batch)

    @property
    def embedding_size(self) -> int:
        return self._size

    def embed(self, crops: NDArray[np.uint8]) -> NDArray[np.float32]:
        """Embeddings ``(n, D)`` float32 of unit length for BGR crops ``(n, 112, 112, 3)``; ``(0, D)`` for
        none.
        """
        out = np.zeros((len(crops), self._size), dtype=np.float32)
        mean = self._norm.mean
        for part, outputs in run_batched(
            self._model,
            len(crops),
            self._batch,
            lambda part: cv2.dnn.blobFromImages(
                list(crops[part]), 1.0 / self._norm.std, (112, 112), (mean, mean, mean), swapRB=True
            ),
        ):
            out[part] = outputs[0]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)
