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
    """An OpenVINO CPU compiled model with one input, run through pools of infer requests: one compiled for
    batches over several streams (``run_all`` of several blobs), and one for a single blob (all threads on
    it); both may be the same compiled model."""

    def __init__(
        self, compiled: ov.CompiledModel, precision: str, single: ov.CompiledModel | None = None
    ) -> None:
        self._lanes = {False: compiled, True: single if single is not None else compiled}
        self._idle: dict[bool, list[ov.InferRequest]] = {False: [], True: []}
        self._outputs = list(compiled.outputs)
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
        """``fixed_input`` models (face crops in batches) are compiled twice: with one stream per thread, each
        stream one thread, for batches (split over the streams by ``run_all``; concurrent requests of a server
        each get a core), and with one stream of all threads for a single face. Measured on the shared 2-core
        machine (load about 2), ms per face: 115 faces 4.06 on two streams against 4.42 on one (onnxruntime
        7.39); one face 8.41 on one of two streams against 5.56 with both threads (onnxruntime 8.97). The
        detector (one image at a time) is compiled once, one stream of ``threads`` threads.
        """
        config: dict[str, object] = {
            "INFERENCE_PRECISION_HINT": "bf16" if precision == BF16 else "f32",
            "INFERENCE_NUM_THREADS": threads,
            "NUM_STREAMS": 1,
            "ENABLE_CPU_PINNING": False,  # a shared server: other threads need the cores between runs
        }
        if not fixed_input:
            config["CPU_RUNTIME_CACHE_CAPACITY"] = RUNTIME_CACHE_FREE_INPUT
        try:
            graph = core().read_model(model)
            single = core().compile_model(graph, "CPU", config)
            if not fixed_input or threads == 1:
                return cls(single, precision)
            batches = core().compile_model(graph, "CPU", config | {"NUM_STREAMS": threads})
            return cls(batches, precision, single)
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses with its own messages
            raise ModelPackError(f"Model file {name} could not be compiled by OpenVINO: {exc}") from None

    @property
    def idle_requests(self) -> int:
        """Infer requests not running now (all of them between calls: at most what the threads that ran the
        model at once borrowed)."""
        with self._lock:
            return len(self._idle[False]) + len(self._idle[True])

    def run(self, blob: NDArray[np.float32]) -> list[NDArray[np.float32]]:
        return self.run_all([blob])[0]

    def run_all(self, blobs: Sequence[NDArray[np.float32]]) -> list[list[NDArray[np.float32]]]:
        single = len(blobs) == 1
        requests = self._borrow(single, min(self.parallel, len(blobs)))
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
                self._idle[single] += requests

    def _borrow(self, single: bool, count: int) -> list[ov.InferRequest]:
        with self._lock:
            idle = self._idle[single]
            taken = [idle.pop() for _ in range(min(count, len(idle)))]
        return taken + [self._lanes[single].create_infer_request() for _ in range(count - len(taken))]
