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

STATIC_BATCH = 8
"""Faces per batch on the parallel streams of face-crop models, compiled as a static shape: measured
interleaved on the idle 2-core machine, ms per face on two bf16 streams, static 8 / 16 / 48: 3.11 / 3.06 /
3.10 against 3.72 for the same batches on a dynamic shape (static 4: 3.31). 8 keeps the partial last batch,
which runs on the dynamic lane, small."""

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
    batches of a fixed size over several streams (``run_all`` of several such blobs), and one of dynamic
    shape for everything else (a single face, the last partial batch, the detector's images), all threads on
    it; both may be the same compiled model."""

    def __init__(
        self,
        compiled: ov.CompiledModel,
        precision: str,
        single: ov.CompiledModel | None = None,
        batch: int | None = None,
    ) -> None:
        self._lanes = {False: compiled, True: single if single is not None else compiled}
        self._idle: dict[bool, list[ov.AsyncInferQueue]] = {False: [], True: []}
        self._outputs = list(compiled.outputs)
        self._lock = threading.Lock()
        self.plan = Plan(OPENVINO, precision)
        self.parallel = int(compiled.get_property("NUM_STREAMS"))  # batches the batch lane runs at once
        self.batch = batch
        self._jobs = {False: self.parallel, True: 1}

    @classmethod
    def compile(
        cls,
        model: bytes | ov.Model,
        *,
        name: str,
        precision: str,
        threads: int,
        fixed_input: bool = False,
    ) -> OpenVinoModel:
        """``fixed_input`` models (face crops in batches) are compiled twice: for batches of ``STATIC_BATCH``
        with one stream per thread, each stream one thread (``run_all`` spreads such batches over the
        streams; concurrent requests of a server each get a core), and with a dynamic batch and one stream of
        all threads for the rest. Measured on the shared 2-core machine (load about 2), ms per face: 115
        faces 4.06 on two streams against 4.42 on one (onnxruntime 7.39); one face 8.41 on one of two streams
        against 5.56 with both threads (onnxruntime 8.97). The detector (one image at a time) is compiled
        once, one stream of ``threads`` threads, its input shape dynamic. ``model`` is an ONNX file's bytes or
        a graph OpenVINO already holds (a benchmark's quantised one).
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
            single = core().compile_model(_graph(model), "CPU", config)
            if not fixed_input or threads == 1:
                return cls(single, precision)
            graph = _graph(model)
            shape = graph.inputs[0].get_partial_shape()
            shape[0] = STATIC_BATCH
            graph.reshape({graph.inputs[0].get_any_name(): shape})
            batches = core().compile_model(graph, "CPU", config | {"NUM_STREAMS": threads})
            return cls(batches, precision, single, STATIC_BATCH)
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses with its own messages
            raise ModelPackError(f"Model file {name} could not be compiled by OpenVINO: {exc}") from None

    @property
    def idle_requests(self) -> int:
        """Infer requests not running now (all of them between calls: at most what the threads that ran the
        model at once borrowed)."""
        with self._lock:
            return sum(len(self._idle[lane]) * self._jobs[lane] for lane in (False, True))

    def run(self, blob: NDArray[np.float32]) -> list[NDArray[np.float32]]:
        return self.run_all([blob])[0]

    def run_all(self, blobs: Sequence[NDArray[np.float32]]) -> list[list[NDArray[np.float32]]]:
        """Blobs of the static batch size (two or more) in parallel on the batch lane, the rest one after
        the other on the dynamic lane."""
        results: list[list[NDArray[np.float32]]] = [[] for _ in blobs]
        lanes: dict[bool, list[int]] = {False: [], True: []}  # single (dynamic) lane or not -> blob indexes
        for i, blob in enumerate(blobs):
            lanes[len(blobs) == 1 or self.batch not in (None, blob.shape[0])].append(i)
        for single, chosen in lanes.items():
            if chosen:
                self._run_lane(single, [blobs[i] for i in chosen], [results[i] for i in chosen])
        return results

    def _run_lane(
        self, single: bool, blobs: list[NDArray[np.float32]], into: list[list[NDArray[np.float32]]]
    ) -> None:
        """Each stream takes the next blob as soon as it is free (an ``AsyncInferQueue``: measured 2.47
        against 2.70 ms per face when every stream waited for the slowest of a wave)."""
        queue = self._borrow(single)

        def keep(request: ov.InferRequest, index: int) -> None:
            into[index] += [request.get_tensor(output).data.copy() for output in self._outputs]

        try:
            queue.set_callback(keep)
            for index, blob in enumerate(blobs):
                queue.start_async({0: blob}, index, share_inputs=True)
        finally:
            queue.wait_all()  # also after a failed start: no request goes back to the pool still running
            with self._lock:
                self._idle[single].append(queue)

    def _borrow(self, single: bool) -> ov.AsyncInferQueue:
        with self._lock:
            if self._idle[single]:
                return self._idle[single].pop()
        return ov.AsyncInferQueue(self._lanes[single], self._jobs[single])


def _graph(model: bytes | ov.Model) -> ov.Model:
    """A graph of its own for each compilation (reshaping one must not reshape the other)."""
    return core().read_model(model) if isinstance(model, bytes) else model.clone()
