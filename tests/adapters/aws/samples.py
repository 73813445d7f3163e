"""Valid sample values for any shape of the model, so round-trip tests cover every operation and member."""

from __future__ import annotations

from typing import Any

import regex
from botocore.model import Shape

# Candidates tried in order for string shapes with a pattern; the first that fits pattern and length wins.
_CANDIDATES = (
    "sample-1",
    "a",
    "0123abcd-0123-4567-89ab-0123456789ab",
    "1.0",
    "1.0.0",
    "123",
    "{}",
    "arn:aws:sns:us-east-1:123456789012:topic",
    "arn:aws:iam::123456789012:role/rekognition",
    "arn:aws:rekognition:us-east-1:123456789012:project/p/1",
    "arn:aws:rekognition:us-east-1:123456789012:project/p/dataset/train/1",
    "arn:aws:rekognition:us-east-1:123456789012:project/p/version/v/1",
    "arn:aws:rekognition:us-east-1:123456789012:streamprocessor/sp",
    "arn:aws:kinesis:us-east-1:123456789012:stream/s",
    "arn:aws:kinesisvideo:us-east-1:123456789012:stream/s",
    "AbCd",
)


def sample(shape: Shape, depth: int = 0) -> Any:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if depth > 6:
            return {}
        return {name: sample(member, depth + 1) for name, member in shape.members.items()}  # type: ignore[attr-defined]
    if kind == "list":
        return [sample(shape.member, depth + 1)] * max(1, meta.get("min", 1))  # type: ignore[attr-defined]
    if kind == "map":
        return {sample(shape.key, depth + 1): sample(shape.value, depth + 1)}  # type: ignore[attr-defined]
    if kind in ("integer", "long"):
        return int(meta.get("min", 1)) if meta.get("min", 1) > 0 else 1
    if kind in ("float", "double"):
        return float(meta.get("min", 0.5)) if "min" in meta else 0.5
    if kind == "boolean":
        return True
    if kind == "blob":
        return b"\x00\xffblob"
    if kind == "timestamp":
        return 1700000000
    return sample_string(shape)


def sample_string(shape: Shape) -> str:
    meta = shape.metadata
    if "enum" in meta:
        return str(meta["enum"][0])
    lo, hi = meta.get("min", 0), meta.get("max", 10**6)
    pattern = meta.get("pattern")
    for candidate in _CANDIDATES:
        if lo <= len(candidate) <= hi and (pattern is None or regex.fullmatch(pattern, candidate)):
            return candidate
    raise AssertionError(f"no sample for {shape.name} ({pattern!r}, {lo}-{hi})")
