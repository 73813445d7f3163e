"""onnxruntime behind ``CompiledModel``: the session options of ``vision.sessions``, fp32 only, and the PReLU
rewrite of ``vision.rewrites`` (an onnxruntime optimisation: OpenVINO runs PReLU natively, and the original
graph ran as fast or faster there, the landmark model about 1.2x)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from regard.vision.rewrites import prelu_as_relu
from regard.vision.runtimes.base import FP32, ONNXRUNTIME, Plan
from regard.vision.sessions import create_session


class OnnxRuntimeModel:
    """An onnxruntime session (thread-safe for ``run``) with one input."""

    plan = Plan(ONNXRUNTIME, FP32)
    batch = None  # onnxruntime runs any batch size as fast

    def __init__(self, session: ort.InferenceSession) -> None:
        self._session = session
        self._input = session.get_inputs()[0].name

    @classmethod
    def compile(
        cls, model: bytes, *, name: str, threads: int | None = None, fixed_input: bool = False
    ) -> OnnxRuntimeModel:
        session = create_session(prelu_as_relu(model), name=name, threads=threads, fixed_input=fixed_input)
        return cls(session)

    def run(self, blob: NDArray[np.float32]) -> list[NDArray[np.float32]]:
        return list(self._session.run(None, {self._input: blob}))

    def run_all(self, blobs: Sequence[NDArray[np.float32]]) -> list[list[NDArray[np.float32]]]:
        return [self.run(blob) for blob in blobs]
