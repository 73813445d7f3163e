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
