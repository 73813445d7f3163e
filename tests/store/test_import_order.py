"""A store opened before the face engine must not crash the process (see store/usearch_loader.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "first",
    ["regard.store.embedded", "regard.store.vector_index", "regard.grouping.knn"],
)
def test_vision_after_store_does_not_crash(first: str) -> None:
    code = f"import {first}; import regard.vision.engine; import onnxruntime; print('alive')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip() == "alive"


@pytest.mark.parametrize(
    "code",
    [
        # the store first, then the engine's OpenVINO models compiled (openvino loads after usearch)
        "import regard.store.embedded; from regard.vision.engine import FaceEngine; FaceEngine().warm_up()",
        # openvino first, then usearch
        "from regard.vision.runtimes.openvino_model import ov; "
        "from regard.store.usearch_loader import Index; Index(ndim=4)",
    ],
)
def test_openvino_and_usearch_load_in_either_order(code: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"{code}; print('alive')"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip() == "alive"
