"""Inference runtimes: one small interface, ``CompiledModel``, for "a model I can run", on onnxruntime or
OpenVINO.

Why two: on this class of CPU (AVX-512 with BF16) OpenVINO runs InsightFace's models in bfloat16 about twice
as fast as onnxruntime runs them in fp32, with embeddings whose cosine to fp32 stays above 0.998
(bench/results/precision.md), so it is the default where it is installed and faster; onnxruntime stays
selectable (``REGARD_RUNTIME=onnxruntime``) and is what the model router and the int8 experiments use.
Preprocessing lives in the model classes (``embedding``, ``landmarks``, ``detection``); a runtime only
turns one float32 NCHW blob into the model's outputs, in the model's output order.
"""

from regard.vision.runtimes.base import CompiledModel, Plan
from regard.vision.runtimes.choice import compile_model, plan

__all__ = ["CompiledModel", "Plan", "compile_model", "plan"]
