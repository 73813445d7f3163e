"""Which runtime and precision run each model: defaults where measured faster, overridable.

``REGARD_RUNTIME=openvino|onnxruntime`` (or ``FaceEngine(runtime=...)``) puts every model on one runtime;
``REGARD_PRECISION=fp32|bf16`` (or ``FaceEngine(precision=...)``) forces a precision. Without them each model
runs on its ``DEFAULT_RUNTIME``, OpenVINO in bf16 when the CPU supports bf16 natively (OpenVINO's
``OPTIMIZATION_CAPABILITIES`` lists BF16: AVX512_BF16 or AMX), fp32 otherwise, and on onnxruntime (fp32)
when OpenVINO is not installed. An invalid setting is a set-up error (ModelPackError), never a silent
fallback.
"""

from __future__ import annotations

import importlib.util
import os

from regard.errors import ModelPackError
from regard.vision.runtimes.base import (
    BF16,
    FP32,
    ONNXRUNTIME,
    OPENVINO,
    PRECISIONS,
    RUNTIMES,
    CompiledModel,
    Plan,
)
from regard.vision.sessions import default_threads

RUNTIME_ENV = "REGARD_RUNTIME"
PRECISION_ENV = "REGARD_PRECISION"

DEFAULT_RUNTIME = {"detector": ONNXRUNTIME, "recogniser": OPENVINO, "landmarks": OPENVINO}
"""Measured on the 2-core AVX-512 machine (bench/results/precision.md, engine.md): OpenVINO bf16 against
onnxruntime fp32, recogniser about 2x and landmarks about 1.9x faster with the same answers. The detector
would be 1.4x (640) to 2.4x (1280) faster in bf16, but its recall on faces 10-18 px high drops (synthetic
crowd set, bench/bench_crowd.py: 0.378 against 0.396 overall; players.jpg 114 faces against 115), so it stays
on onnxruntime fp32 unless ``REGARD_RUNTIME=openvino`` puts it on OpenVINO."""


def openvino_installed() -> bool:
    return importlib.util.find_spec("openvino") is not None


def plan(role: str, *, runtime: str | None = None, precision: str | None = None) -> Plan:
    """The runtime and precision that will run the model of ``role`` (detector, recogniser, landmarks)."""
    wanted_runtime = _setting(runtime, RUNTIME_ENV, RUNTIMES, "runtime")
    wanted_precision = _setting(precision, PRECISION_ENV, PRECISIONS, "precision")
    chosen = wanted_runtime or DEFAULT_RUNTIME.get(role, ONNXRUNTIME)
    if chosen == OPENVINO and not openvino_installed():
        if wanted_runtime:
            raise ModelPackError(f"{RUNTIME_ENV}=openvino, but the openvino package is not installed.")
        chosen = ONNXRUNTIME
    if chosen == ONNXRUNTIME:
        if wanted_precision == BF16:
            raise ModelPackError(
                "onnxruntime runs Regard's models in fp32 only; bf16 needs the openvino runtime."
            )
        return Plan(ONNXRUNTIME, FP32)
    from regard.vision.runtimes.openvino_model import cpu_has_bf16

    if wanted_precision == FP32:
        return Plan(OPENVINO, FP32)
    native = cpu_has_bf16()
    if wanted_precision == BF16 and not native:
        raise ModelPackError("This CPU has no native bf16 (OpenVINO lists no BF16 capability); use fp32.")
    return Plan(OPENVINO, BF16 if native else FP32)


def compile_model(
    model: bytes, *, plan: Plan, name: str, threads: int | None = None, fixed_input: bool = False
) -> CompiledModel:
    """``model`` (verified ONNX bytes) compiled on ``plan``'s runtime and precision (see ``plan()``).

    ``fixed_input``: the input has a fixed crop size and a batch of at most 32 (recogniser, landmarks), so
    shape-keyed caches stay bounded; the detector's input takes each image's shape.
    """
    if plan.runtime == OPENVINO:
        from regard.vision.runtimes.openvino_model import OpenVinoModel

        return OpenVinoModel.compile(
            model,
            name=name,
            precision=plan.precision,
            threads=threads or default_threads(),
            fixed_input=fixed_input,
        )
    from regard.vision.runtimes.onnxruntime_model import OnnxRuntimeModel

    return OnnxRuntimeModel.compile(model, name=name, threads=threads, fixed_input=fixed_input)


def _setting(value: str | None, env: str, allowed: tuple[str, ...], what: str) -> str | None:
    """``value`` or else the environment variable ``env``, lower-cased and checked against ``allowed``."""
    source = f"the engine's {what} option" if value is not None else env
    text = (value if value is not None else os.environ.get(env, "")).strip().lower()
    if not text:
        return None
    if text not in allowed:
        raise ModelPackError(f"Unknown {what} {text!r} (from {source}); use one of: {', '.join(allowed)}.")
    return text
