"""Vision fixtures: the reference engine on onnxruntime fp32 (what the default runtime is measured against).
"""

from __future__ import annotations

import pytest

from regard.vision.engine import FaceEngine


@pytest.fixture(scope="session")
def ort_engine() -> FaceEngine:
    """Every model on onnxruntime in fp32, created once; the reference for parity with other runtimes."""
    return FaceEngine(runtime="onnxruntime")
