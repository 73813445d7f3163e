"""AWS JSON 1.1 for Rekognition, driven by botocore's model: operation lookup, parsing, validation, output.

botocore checks only ``required``, ``min`` and types on the client; this side checks everything the model
says (``max``, ``pattern``, ``enum`` too), because a caller may not be boto3 at all. Constraint failures are
reported as AWS reports them (``ValidationException``, "1 validation error detected: Value ... at
'image.bytes' failed to satisfy constraint: ..."); a wrong JSON type is a ``SerializationException``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import regex
from botocore.model import OperationModel, Shape

from regard.adapters.aws.errors import SerializationException, UnknownOperationException, ValidationException
from regard.adapters.aws.model import operation_model, target_prefix
from regard.errors import RegardError

CONTENT_TYPE = "application/x-amz-json-1.1"
_MAX_SHOWN = 64  # characters of a rejected value echoed in an error message
_MAX_PROBLEMS = 10  # constraint failures spelled out in one message (a 4096-item list could fail 4096 times)


# --- operation -------------------------------------------------------------------------------------


def resolve_operation(target: str | None, offered: frozenset[str]) -> OperationModel:
    """The operation named by ``X-Amz-Target``; anything else is AWS's UnknownOperationException."""
    prefix, _, name = (target or "").partition(".")
    if prefix != target_prefix() or name not in offered:
        raise UnknownOperationException("")
    op = operation_model(name)
    if op is None:
        raise UnknownOperationException("")
    return op


# --- request ---------------------------------------------------------------------------------------


def parse_request(op: OperationModel, body: bytes) -> dict[str, Any]:
    """Decode, type-check and validate a request body; blobs come back as bytes, unknown members dropped."""
    if body.strip() == b"":
        data: Any = {}
    else:
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise SerializationException("The request body is not valid JSON.") from None
    shape = op.input_shape
    if shape is None:
        return {}
    problems: list[str] = []
    params = _parse(shape, data, "", problems)
    if problems:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        shown = problems[:_MAX_PROBLEMS] + (["..."] if count > _MAX_PROBLEMS else [])
        raise ValidationException(f"{count} validation {noun} detected: " + "; ".join(shown))
    return params  # type: ignore[no-any-return]


def _member_path(parent: str, name: str) -> str:
    """AWS names members lowerCamel in messages: ``image.s3Object.bucket``."""
    camel = name[:1].lower() + name[1:]
    return f"{parent}.{camel}" if parent else camel


def _parse(shape: Shape, value: Any, path: str, problems: list[str]) -> Any:
    parser = _PARSERS.get(shape.type_name)
    if parser is None:
        raise SerializationException(f"Unsupported member type at '{path}'.")
    parsed = parser(shape, value, path, problems)
    _check_constraints(shape, parsed, path, problems)
    return parsed


def _wrong_type(path: str, expected: str) -> SerializationException:
    return SerializationException(f"Expected {expected} at '{path or 'body'}'.")


def _parse_structure(shape: Shape, value: Any, path: str, problems: list[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _wrong_type(path, "an object")
    out: dict[str, Any] = {}
    members = shape.members  # type: ignore[attr-defined]
    for name, member in members.items():
        child = value.get(name)
        if child is None:
            continue  # JSON null is absence, as on AWS
        out[name] = _parse(member, child, _member_path(path, name), problems)
    for name in shape.required_members:  # type: ignore[attr-defined]
        if name not in out:
            problems.append(
                f"Value null at '{_member_path(path, name)}' failed to satisfy constraint: "
                "Member must not be null"
            )
    return out


def _parse_list(shape: Shape, value: Any, path: str, problems: list[str]) -> list[Any]:
    if not isinstance(value, list):
        raise _wrong_type(path, "an array")
    member = shape.member  # type: ignore[attr-defined]
    out = []
    for i, item in enumerate(value, start=1):
        if item is None:
            raise _wrong_type(f"{path}.{i}.member", "a value, not null,")
        out.append(_parse(member, item, f"{path}.{i}.member", problems))
    return out


def _parse_map(shape: Shape, value: Any, path: str, problems: list[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _wrong_type(path, "an object")
    key_shape, value_shape = shape.key, shape.value  # type: ignore[attr-defined]
    out = {}
    for key, item in value.items():
        parsed_key = _parse(key_shape, key, f"{path}.key", problems)
        if item is None:
            raise _wrong_type(f"{path}.value", "a value, not null,")
        out[parsed_key] = _parse(value_shape, item, f"{path}.value", problems)
    return out


def _parse_string(shape: Shape, value: Any, path: str, problems: list[str]) -> str:
    if not isinstance(value, str):
        raise _wrong_type(path, "a string")
    return value


def _parse_integer(shape: Shape, value: Any, path: str, problems: list[str]) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong_type(path, "an integer")
    return value


def _parse_float(shape: Shape, value: Any, path: str, problems: list[str]) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong_type(path, "a number")
    return float(value)


def _parse_boolean(shape: Shape, value: Any, path: str, problems: list[str]) -> bool:
    if not isinstance(value, bool):
        raise _wrong_type(path, "a boolean")
    return value


def _parse_blob(shape: Shape, value: Any, path: str, problems: list[str]) -> bytes:
    if not isinstance(value, str):
        raise _wrong_type(path, "a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SerializationException(f"Value at '{path}' is not valid base64.") from None


def _parse_timestamp(shape: Shape, value: Any, path: str, problems: list[str]) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong_type(path, "epoch seconds")
    return float(value)


_PARSERS: dict[str, Callable[[Shape, Any, str, list[str]], Any]] = {
    "structure": _parse_structure,
    "list": _parse_list,
    "map": _parse_map,
    "string": _parse_string,
    "integer": _parse_integer,
    "long": _parse_integer,
    "float": _parse_float,
    "double": _parse_float,
    "boolean": _parse_boolean,
    "blob": _parse_blob,
    "timestamp": _parse_timestamp,
}


# --- constraints -----------------------------------------------------------------------------------


@cache
def _pattern(source: str) -> regex.Pattern[str]:
    """Compiled once; the ``regex`` module knows ``\\p{L}`` (TagKey) that ``re`` lacks."""
    return regex.compile(source)


def _shown(shape: Shape, value: Any) -> str:
    """A rejected value as echoed back: never blob contents, never a sensitive member, never long."""
    if shape.type_name == "blob":
        return f"<{len(value)} bytes>"
    if shape.metadata.get("sensitive"):
        return "***"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "..."


def _check_constraints(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    meta = shape.metadata
    kind = shape.type_name
    sized = kind in ("string", "blob", "list", "map")
    fail = f"Value '{_shown(shape, value)}' at '{path}' failed to satisfy constraint: Member must "
    if "min" in meta:
        if sized and len(value) < meta["min"]:
            problems.append(fail + f"have length greater than or equal to {meta['min']}")
        elif not sized and kind != "structure" and value < meta["min"]:
            problems.append(fail + f"have value greater than or equal to {meta['min']}")
    if "max" in meta:
        if sized and len(value) > meta["max"]:
            problems.append(fail + f"have length less than or equal to {meta['max']}")
        elif not sized and kind != "structure" and value > meta["max"]:
            problems.append(fail + f"have value less than or equal to {meta['max']}")
    if kind != "string":
        return
    if "enum" in meta and value not in meta["enum"]:
        problems.append(fail + f"satisfy enum value set: [{', '.join(meta['enum'])}]")
    if "pattern" in meta and _pattern(meta["pattern"]).fullmatch(value) is None:
        problems.append(fail + f"satisfy regular expression pattern: {meta['pattern']}")


# --- response --------------------------------------------------------------------------------------


def serialize_response(op: OperationModel, result: Mapping[str, Any]) -> bytes:
    """The service's result written in the output shape; members the shape lacks are never sent."""
    shape = op.output_shape
    data = {} if shape is None else _serialize(shape, result)
    return json.dumps(data, separators=(",", ":"), allow_nan=False).encode()


def _serialize(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        members = shape.members  # type: ignore[attr-defined]
        return {
            name: _serialize(members[name], v)
            for name, v in value.items()
            if name in members and v is not None
        }
    if kind == "list":
        return [_serialize(shape.member, v) for v in value]  # type: ignore[attr-defined]
    if kind == "map":
        return {str(k): _serialize(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "blob":
        return base64.b64encode(value).decode("ascii")
    if kind == "timestamp":
        return value.timestamp() if isinstance(value, dt.datetime) else float(value)
    if kind in ("float", "double"):
        return float(value)
    if kind in ("integer", "long"):
        return int(value)
    if kind == "boolean":
        return bool(value)
    return str(value)


def error_response(error: RegardError, request_id: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of an error as Rekognition sends it (``__type``, ``Message``)."""
    body = {"__type": error.code, "Code": error.code, "Message": error.message, "Logref": request_id}
    headers = {"X-Amzn-ErrorType": error.code, "x-amzn-RequestId": request_id, "Content-Type": CONTENT_TYPE}
    return error.status, headers, json.dumps(body, separators=(",", ":")).encode()
