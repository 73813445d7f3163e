"""Regard: self-hosted, accountable face detection and recognition.

``regard.Engine`` is imported on first access, so ``import regard`` does no work (no onnxruntime, no models).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Engine"]


def __getattr__(name: str) -> Any:
    if name == "Engine":
        from regard.adapters.api import Engine

        return Engine
    raise AttributeError(f"module 'regard' has no attribute {name!r}")
