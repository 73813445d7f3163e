"""The interface every runtime implements, and what a model runs on (runtime and precision)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

ONNXRUNTIME = "onnxruntime"
OPENVINO = "openvino"
RUNTIMES = (OPENVINO, ONNXRUNTIME)
FP32 = "fp32"
BF16 = "bf16"
PRECISIONS = (FP32, BF16)


@dataclass(frozen=True, slots=True)
class Plan:
    """Where a model runs: ``runtime`` (openvino, onnxruntime) and ``precision`` (bf16, fp32)."""

    runtime: str
    precision: str

    def __str__(self) -> str:
        return f"{self.runtime} {self.precision}"


class CompiledModel(Protocol):
    """A model compiled for the CPU, callable from several threads at once."""

    @property
    def plan(self) -> Plan: ...

    def run(self, blob: NDArray[np.float32]) -> list[NDArray[np.float32]]:
        """The model's outputs, in its output order, for one float32 NCHW input blob."""
        ...
