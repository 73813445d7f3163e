"""ONNX Runtime sessions set up for a small CPU machine, created lazily and once.

Why these options: on a 2-core machine ONNX Runtime's worker threads spin between calls by default and steal
the cores the next model needs (models.md measured the slow-down), so spinning is switched off; one inter-op
thread because these graphs are sequential; intra-op threads = the cores we may use (``REGARD_THREADS``,
default ``min(2, cpu_count)``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import onnxruntime as ort

from regard.errors import ModelPackError

T = TypeVar("T")


def default_threads() -> int:
    """Intra-op threads: ``REGARD_THREADS`` when set, else the smaller of 2 and the CPU count."""
    configured = os.environ.get("REGARD_THREADS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, min(2, os.cpu_count() or 1))


def session_options(threads: int | None = None, *, fixed_input: bool = False) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or default_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    # Memory stays flat under images of every size: the CPU arena keeps the largest buffers ever needed and
    # grows in steps, and a memory pattern is planned and kept per input shape; for the detector, whose
    # input takes the image's shape, both grew RSS without bound (bench/results/memory.md), so its buffers
    # come from malloc per run and go back to it. Models with a fixed crop size (``fixed_input``: the
    # recogniser's 112 x 112, the landmarks' 192 x 192, batches of at most 32) see a bounded set of shapes,
    # and there the arena and patterns halve the time per face (bench/results/engine.md).
    options.enable_cpu_mem_arena = fixed_input
    options.enable_mem_pattern = fixed_input
    return options


def create_session(
    model: bytes, *, name: str, threads: int | None = None, fixed_input: bool = False
) -> ort.InferenceSession:
    """A CPU session from model bytes (bytes, not a path, so the bytes run are the bytes whose hash was
    checked).
    """
    try:
        return ort.InferenceSession(
            model,
            sess_options=session_options(threads, fixed_input=fixed_input),
            providers=["CPUExecutionProvider"],
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors for a corrupt graph
        raise ModelPackError(f"Model file {name} could not be loaded by onnxruntime: {exc}") from None


def inspect_session(model: bytes, *, name: str) -> ort.InferenceSession:
    """A cheap session (no graph optimisation, one thread) used only to read a model's inputs and outputs."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelPackError(f"Model file {name} is not a loadable ONNX model: {exc}") from None


class Lazy(Generic[T]):
    """A value built on first use, once, even when several threads ask at the same time."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._value: T | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._value is not None

    def get(self) -> T:
        value = self._value
        if value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._factory()
                value = self._value
        return value
