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
    def parallel(self) -> int:
        """How many inputs ``run_all`` runs at once (1: one after the other)."""
        ...

    @property
    def batch(self) -> int | None:
        """The batch size the model was compiled for (its fastest), or None when any size runs as fast."""
        ...

    def run(self, blob: NDArray[np.float32]) -> list[NDArray[np.float32]]:
        """The model's outputs, in its output order, for one float32 NCHW input blob."""
        ...

    def run_all(self, blobs: Sequence[NDArray[np.float32]]) -> list[list[NDArray[np.float32]]]:
        """``run`` of each blob, in order; up to ``parallel`` of them at the same time."""
        ...


def waves(count: int, batch: int, parallel: int, *, fixed: bool = False) -> Iterator[list[slice]]:
    """Batches for ``count`` items on a model that runs ``parallel`` inputs at once: waves of at most
    ``parallel`` slices, each at most ``batch`` long, a wave's slices of equal size (so no stream waits long
    for another); with ``parallel`` 1, plain batches of ``batch``. ``fixed``: every slice but the last is
    exactly ``batch`` long (a model compiled for that batch size), the rest is a wave of its own.
    """
    if fixed:
        full = count - count % batch
        for start in range(0, full, batch * parallel):
            yield [slice(i, i + batch) for i in range(start, min(full, start + batch * parallel), batch)]
        if full < count:
            yield [slice(full, count)]
        return
    for start in range(0, count, batch * parallel):
        end = min(count, start + batch * parallel)
        size = min(batch, -(-(end - start) // parallel))
        yield [slice(i, min(i + size, end)) for i in range(start, end, size)]


def run_batched(
    model: CompiledModel, count: int, batch: int, blob_for: Callable[[slice], NDArray[np.float32]]
) -> Iterator[tuple[slice, list[NDArray[np.float32]]]]:
    """``(part, outputs)`` for ``count`` items run through ``model`` in the ``waves`` it runs best, each
    part's input blob built by ``blob_for(part)``: the one batching loop of every face model. A model
    compiled for one batch size gets batches of that size (``batch`` is then ignored)."""
    fixed = model.batch
    parts = [
        part
        for wave in waves(count, fixed or batch, model.parallel, fixed=fixed is not None)
        for part in wave
    ]
    yield from zip(parts, model.run_all([blob_for(part) for part in parts]), strict=True)
