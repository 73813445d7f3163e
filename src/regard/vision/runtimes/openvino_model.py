"""OpenVINO behind ``CompiledModel``: bf16 where the CPU has it, streams in parallel, pooled infer requests.

An OpenVINO compiled model may be shared by threads, its infer requests may not: each ``run`` borrows an idle
request from a pool (a new one when every request is busy) and gives it back, so there are never more
requests than threads that ran the model at once. The model is read from the verified bytes in memory
(``Core.read_model(bytes)``); no file is written. The batch (and for the detector the image) dimensions stay
dynamic: one compiled model serves any number of faces (measured: static batch shapes were at most ~10 %
faster per face in large batches, and slower for one face, which is most searches). Outputs are copies, so
a request can go back to the pool before its results are used.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from regard.errors import ModelPackError
from regard.vision.runtimes.base import BF16, OPENVINO, Plan

# ``import openvino`` also imports its model-conversion API (openvino.tools.ovc), whose import sends a usage
# event to Google Analytics from a forked process and stores a client ID under ~/intel unless the user opted
# out. Regard converts no models, sends nothing anywhere, and a forked child would also inherit the data
# folder's lock (a CLI command's lock outlived the command). A None entry makes that one import fail, which
# openvino/__init__.py catches (``ov.convert_model`` is then absent); the runtime itself is unaffected.
sys.modules.setdefault("openvino.tools.ovc", None)  # type: ignore[arg-type]
import openvino as ov  # noqa: E402

RUNTIME_CACHE_FREE_INPUT = 64
"""Kernels kept per input shape for models whose input takes the image's shape (the detector). OpenVINO
keeps 5000 by default; with a new canvas shape per photo that grows memory for hours
(bench/results/memory.md)."""

_core_lock = threading.Lock()
_core: ov.Core | None = None


def core() -> ov.Core:
    """The process's one OpenVINO Core (made once: it loads the CPU plugin)."""
    global _core
    with _core_lock:
        if _core is None:
            _core = ov.Core()
        return _core


def cpu_has_bf16() -> bool:
    """Whether OpenVINO's CPU plugin can run bf16 natively here (AVX512_BF16 or AMX)."""
    return BF16.upper() in core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class OpenVinoModel:
    """An OpenVINO CPU compiled model with one input, run through a pool of infer requests."""

    def __init__(self, compiled: ov.CompiledModel, precision: str) -> None:
        self._compiled = compiled
        self._outputs = list(compiled.outputs)
        self._idle: list[ov.InferRequest] = []
        self._lock = threading.Lock()
        self.plan = Plan(OPENVINO, precision)
        self.parallel = int(compiled.get_property("NUM_STREAMS"))

    @classmethod
    def compile(
        cls,
        model: bytes,
        *,
        name: str,
        precision: str,
        threads: int,
        fixed_input: bool = False,
    ) -> OpenVinoModel:
        """``fixed_input`` models (face crops in batches) get one stream per thread, each stream one thread:
        a batch of faces runs as ``threads`` smaller batches at once (``run_all``), and concurrent requests of
        a server each get a core instead of sharing both. Measured on 2 loaded cores against one stream of 2
        threads: 1.1-1.35x less time per face for 115 faces, but one face alone takes 12.6 ms instead of 8.8
        (a few ms on a request that decodes and detects for 50-100 ms). The detector (one image at a time)
        gets one stream of ``threads`` threads.
        """
        config: dict[str, object] = {
            "INFERENCE_PRECISION_HINT": "bf16" if precision == BF16 else "f32",
            "INFERENCE_NUM_THREADS": threads,
            "NUM_STREAMS": threads if fixed_input else 1,
            "ENABLE_CPU_PINNING": False,  # a shared server: other threads need the cores between runs
        }
        if not fixed_input:
            config["CPU_RUNTIME_CACHE_CAPACITY"] = RUNTIME_CACHE_FREE_INPUT
        try:
            compiled = core().compile_model(core().read_model(model), "CPU", config)
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses with its own messages
            raise ModelPackError(f"Model file {name} could not be compiled by OpenVINO: {exc}") from None
        return cls(compiled, precision)

    @property
    def idle_requests(self) -> int:
        """Infer requests not running now (all of them between calls: at most what the threads that ran the
        model at once borrowed)."""
        with self._lock:
            return len(self._idle)

    def run(self, blob: NDArray[np.float32]) -> list[NDArray[np.float32]]:
        return self.run_all([blob])[0]

    def run_all(self, blobs: Sequence[NDArray[np.float32]]) -> list[list[NDArray[np.float32]]]:
        requests = self._borrow(min(self.parallel, len(blobs)))
        try:
            results: list[list[NDArray[np.float32]]] = []
            for start in range(0, len(blobs), len(requests)):
                wave = list(zip(requests, blobs[start : start + len(requests)], strict=False))
                for request, blob in wave:
                    request.start_async({0: blob}, share_inputs=True)
                for request, _ in wave:
                    request.wait()
                    results.append([request.get_tensor(output).data.copy() for output in self._outputs])
            return results
        finally:
            with self._lock:
                self._idle += requests

    def _borrow(self, count: int) -> list[ov.InferRequest]:
        with self._lock:
            taken = [self._idle.pop() for _ in range(min(count, len(self._idle)))]
        return taken + [self._compiled.create_infer_request() for _ in range(count - len(taken))]
