"""Exact graph rewrites that make InsightFace's models faster on onnxruntime's CPU provider.

MobileFaceNet (the recogniser) and 2d106det follow every convolution with a per-channel PReLU. onnxruntime
fuses Relu into its blocked (NCHWc) convolutions but not PReLU, so each PReLU runs as a separate kernel and
forces the activations out of the blocked layout and back (profiled: PReLU 32 % and layout reorders 16 % of
the recogniser's time). ``PReLU(x) = (1 - a) * Relu(x) + a * x`` is the same function with operators the
optimiser keeps in the blocked layout: measured 1.5x less CPU per face, outputs equal to 3e-6
(``tests/vision/test_rewrites.py`` checks the embeddings of real faces). The rewrite runs in memory on the
bytes whose SHA-256 the pack checked; no model file is written. Only the onnxruntime runtime applies it
(``runtimes/onnxruntime_model.py``); OpenVINO fuses PReLU itself.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper


def prelu_as_relu(model: bytes) -> bytes:
    """``model`` with each PReLU whose slope is a constant replaced by ``(1 - a) * Relu(x) + a * x``."""
    graph_model = onnx.load_from_string(model)
    graph = graph_model.graph
    constants = {init.name: init for init in graph.initializer}
    nodes = []
    changed = False
    for node in graph.node:
        if node.op_type != "PRelu" or node.input[1] not in constants:
            nodes.append(node)
            continue
        x, slope = node.input
        y = node.output[0]
        complement = f"{slope}__one_minus"
        if complement not in constants:
            value = 1.0 - numpy_helper.to_array(constants[slope]).astype(np.float32)
            constants[complement] = numpy_helper.from_array(value.astype(np.float32), complement)
            graph.initializer.append(constants[complement])
        nodes += [
            helper.make_node("Relu", [x], [f"{y}__relu"]),
            helper.make_node("Mul", [f"{y}__relu", complement], [f"{y}__positive"]),
            helper.make_node("Mul", [x, slope], [f"{y}__linear"]),
            helper.make_node("Add", [f"{y}__positive", f"{y}__linear"], [y]),
        ]
        changed = True
    if not changed:
        return model
    del graph.node[:]
    graph.node.extend(nodes)
    return graph_model.SerializeToString()
