"""Typed reads of request members, with Rekognition's patterns, ranges and defaults.

Requests from the HTTP server have been checked against botocore's model already; requests from the
Python API and the CLI come straight here, so each operation reads its members through these
functions and both paths refuse the same inputs with the same InvalidParameterException.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from regard.errors import InvalidParameterException
from regard.service.faces import QUALITY_FILTERS

COLLECTION_ID = re.compile(r"[a-zA-Z0-9_.\-]+")
EXTERNAL_IMAGE_ID = re.compile(r"[a-zA-Z0-9_.\-:]+")
USER_ID = re.compile(r"[a-zA-Z0-9_.\-:]+")
FACE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CLIENT_REQUEST_TOKEN = re.compile(r"[a-zA-Z0-9\-_]+")


def string(
    params: Mapping[str, Any],
    name: str,
    *,
    pattern: re.Pattern[str] | None = None,
    max_length: int = 255,
    required: bool = True,
) -> str | None:
    value = params.get(name)
    if value is None:
        if required:
            raise InvalidParameterException(f"{name} is required.")
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= max_length:
        raise InvalidParameterException(f"{name} must be a string of 1 to {max_length} characters.")
    if pattern is not None and not pattern.fullmatch(value):
        raise InvalidParameterException(f"{name} {value!r} does not match the pattern {pattern.pattern}.")
    return value


def required_string(
    params: Mapping[str, Any], name: str, *, pattern: re.Pattern[str] | None = None, max_length: int = 255
) -> str:
    value = string(params, name, pattern=pattern, max_length=max_length)
    if value is None:  # string() has raised already; this narrows the type
        raise InvalidParameterException(f"{name} is required.")
    return value


def collection_id(params: Mapping[str, Any]) -> str:
    return required_string(params, "CollectionId", pattern=COLLECTION_ID)


def user_id(params: Mapping[str, Any], *, required: bool = True) -> str | None:
    return string(params, "UserId", pattern=USER_ID, max_length=128, required=required)


def face_id(params: Mapping[str, Any], name: str = "FaceId", *, required: bool = True) -> str | None:
    return string(params, name, pattern=FACE_ID, max_length=36, required=required)


def number(
    params: Mapping[str, Any], name: str, *, default: float, low: float = 0.0, high: float = 100.0
) -> float:
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidParameterException(f"{name} must be a number from {low:g} to {high:g}.")
    return float(value)


def integer(params: Mapping[str, Any], name: str, *, default: int, low: int, high: int | None) -> int:
    value = optional_integer(params, name, low=low, high=high)
    return default if value is None else value


def optional_integer(params: Mapping[str, Any], name: str, *, low: int, high: int | None) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        upper = "" if high is None else f" to {high}"
        raise InvalidParameterException(f"{name} must be a whole number from {low}{upper}.")
    return value


def face_id_list(
    params: Mapping[str, Any], name: str, *, max_items: int, required: bool = True
) -> list[str] | None:
    value = params.get(name)
    if value is None:
        if required:
            raise InvalidParameterException(f"{name} is required.")
        return None
    if not isinstance(value, list) or not 1 <= len(value) <= max_items:
        raise InvalidParameterException(f"{name} must be a list of 1 to {max_items} face IDs.")
    for item in value:
        if not isinstance(item, str) or not FACE_ID.fullmatch(item):
            raise InvalidParameterException(f"{name} holds {item!r}, which is not a face ID.")
    return list(dict.fromkeys(value))  # duplicates count once, order kept


def quality_filter(params: Mapping[str, Any], *, default: str) -> str:
    value = params.get("QualityFilter", default)
    if value not in QUALITY_FILTERS:
        raise InvalidParameterException(f"QualityFilter must be one of {', '.join(QUALITY_FILTERS)}.")
    return str(value)


def client_request_token(params: Mapping[str, Any]) -> str | None:
    return string(params, "ClientRequestToken", pattern=CLIENT_REQUEST_TOKEN, max_length=64, required=False)
