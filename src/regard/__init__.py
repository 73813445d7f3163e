"""Regard: self-hosted, accountable face detection and recognition.

``regard.Engine`` (stateless detection and comparison) and ``regard.Client`` (collections, faces, users and
video jobs with boto3's calls, in-process) are imported on first access, so ``import regard`` does no work.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Client", "Engine"]


def __getattr__(name: str) -> Any:
    if name == "Engine":
        from regard.adapters.api import Engine

        return Engine
    if name == "Client":
        from regard.adapters.client import Client

        return Client
    raise AttributeError(f"module 'regard' has no attribute {name!r}")
