"""The interface every runtime implements, and what a model runs on (runtime and precision)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
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

    @property
    def batch(self) -> int | None:
        """The batch size the model was compiled for (its fastest), or None when any size runs as fast."""
        ...

    def run(self, blob: NDArray[np.float32]) -> list[NDArray[np.float32]]:
        """The model's outputs, in its output order, for one float32 NCHW input blob."""
        ...

    def run_all(self, blobs: Sequence[NDArray[np.float32]]) -> list[list[NDArray[np.float32]]]:
        """``run`` of each blob, in order; a runtime may run several of them at the same time."""
        ...


def batches(count: int, size: int) -> list[slice]:
    """``count`` items in slices of ``size``, the last one shorter when ``size`` does not divide ``count``.

    Plain batches are what every runtime wants now: onnxruntime runs one at a time, and OpenVINO runs full
    batches of its static size in parallel, each stream taking the next as soon as it is free, and the
    shorter last one on its dynamic model (``OpenVinoModel.run_all``).
    """
    return [slice(start, min(start + size, count)) for start in range(0, count, size)]


def run_batched(
    model: CompiledModel, count: int, batch: int, blob_for: Callable[[slice], NDArray[np.float32]]
) -> Iterator[tuple[slice, list[NDArray[np.float32]]]]:
    """``(part, outputs)`` for ``count`` items run through ``model`` in batches, each part's input blob built
    by ``blob_for(part)``: the one batching loop of every face model. A model compiled for one batch size
    gets batches of that size (``batch`` is then ignored)."""
    parts = batches(count, model.batch or batch)
    yield from zip(parts, model.run_all([blob_for(part) for part in parts]), strict=True)
