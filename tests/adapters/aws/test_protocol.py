"""The JSON 1.1 codec against botocore's own serializer and parser, for every operation of the model."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from regard.adapters.aws import protocol
from regard.adapters.aws.errors import SerializationException, UnknownOperationException, ValidationException
from regard.adapters.aws.model import service_model
from regard.errors import InvalidParameterException

from .samples import sample

MODEL = service_model()
ALL_OPERATIONS = frozenset(MODEL.operation_names)


def _serialize(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    return create_serializer("json", include_validation=True).serialize_to_request(
        params, MODEL.operation_model(operation)
    )


def _as_epoch(value: Any) -> Any:
    """botocore parses timestamps into datetimes; compare them as epoch seconds."""
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _as_epoch(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_epoch(v) for v in value]
    return value


@pytest.mark.parametrize("operation", sorted(ALL_OPERATIONS))
def test_request_round_trip(operation: str) -> None:
    op = MODEL.operation_model(operation)
    params = sample(op.input_shape) if op.input_shape is not None else {}
    request = _serialize(operation, params)
    target = request["headers"]["X-Amz-Target"]
    assert protocol.resolve_operation(target, ALL_OPERATIONS).name == operation
    assert protocol.parse_request(op, request["body"]) == params


@pytest.mark.parametrize("operation", sorted(ALL_OPERATIONS))
def test_response_round_trip(operation: str) -> None:
    op = MODEL.operation_model(operation)
    if op.output_shape is None:
        return
    result = sample(op.output_shape)
    body = protocol.serialize_response(op, result)
    parsed = create_parser("json").parse({"status_code": 200, "headers": {}, "body": body}, op.output_shape)
    parsed.pop("ResponseMetadata", None)
    assert _as_epoch(parsed) == _as_epoch(result)


def test_blobs_are_base64_both_ways() -> None:
    op = MODEL.operation_model("DetectFaces")
    image = bytes(range(256))
    body = json.dumps({"Image": {"Bytes": base64.b64encode(image).decode()}}).encode()
    assert protocol.parse_request(op, body) == {"Image": {"Bytes": image}}


def test_response_drops_members_outside_the_shape() -> None:
    op = MODEL.operation_model("DescribeCollection")
    body = protocol.serialize_response(op, {"FaceCount": 3, "Secret": "x", "CreationTimestamp": 1.5})
    assert json.loads(body) == {"FaceCount": 3, "CreationTimestamp": 1.5}


@pytest.mark.parametrize(
    "target", [None, "", "DetectFaces", "Other.DetectFaces", "RekognitionService.Nope", "RekognitionService."]
)
def test_unknown_target(target: str | None) -> None:
    with pytest.raises(UnknownOperationException):
        protocol.resolve_operation(target, ALL_OPERATIONS)


def test_operation_not_offered_is_unknown() -> None:
    with pytest.raises(UnknownOperationException):
        protocol.resolve_operation("RekognitionService.RecognizeCelebrities", frozenset({"DetectFaces"}))


def _invalid(operation: str, params: dict[str, Any]) -> str:
    with pytest.raises(ValidationException) as caught:
        protocol.parse_request(MODEL.operation_model(operation), json.dumps(params).encode())
    return caught.value.message


def test_pattern_is_full_match() -> None:
    message = _invalid("CreateCollection", {"CollectionId": "ok then"})
    assert message.startswith("1 validation error detected: Value 'ok then' at 'collectionId'")
    assert "regular expression pattern: [a-zA-Z0-9_.\\-]+" in message


def test_max_length_and_range_and_enum() -> None:
    message = _invalid(
        "SearchFacesByImage",
        {"CollectionId": "c" * 256, "Image": {"Bytes": "AA=="}, "MaxFaces": 5000, "QualityFilter": "BEST"},
    )
    assert message.startswith("3 validation errors detected")
    assert (
        "at 'collectionId' failed to satisfy constraint: Member must have length less than or equal to 255"
        in (message)
    )
    assert (
        "at 'maxFaces' failed to satisfy constraint: Member must have value less than or equal to 4096"
        in message
    )
    assert "Member must satisfy enum value set: [NONE, AUTO, LOW, MEDIUM, HIGH]" in message


def test_required_and_nested_paths() -> None:
    message = _invalid("IndexFaces", {"Image": {"S3Object": {"Bucket": "b", "Name": ""}}})
    assert "Value null at 'collectionId' failed to satisfy constraint: Member must not be null" in message
    assert "at 'image.s3Object.bucket' failed" in message  # shorter than 3
    assert "at 'image.s3Object.name' failed" in message  # shorter than 1


def test_list_members_are_checked() -> None:
    message = _invalid("DeleteFaces", {"CollectionId": "c", "FaceIds": ["not-a-uuid"]})
    assert (
        "at 'faceIds.1.member' failed to satisfy constraint: Member must satisfy regular expression"
        in message
    )


def test_image_bytes_over_five_mib_never_echoed() -> None:
    big = base64.b64encode(b"\xff" * (5 * 1024 * 1024 + 1)).decode()
    message = _invalid("DetectFaces", {"Image": {"Bytes": big}})
    assert "Value '<5242881 bytes>' at 'image.bytes'" in message
    assert "less than or equal to 5242880" in message


def test_tag_keys_use_unicode_classes() -> None:
    op = MODEL.operation_model("CreateCollection")
    ok = {"CollectionId": "c", "Tags": {"Équipe 7": "x"}}
    assert protocol.parse_request(op, json.dumps(ok).encode()) == ok
    message = _invalid("CreateCollection", {"CollectionId": "c", "Tags": {"aws:owner": "x"}})
    assert "at 'tags.key'" in message


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"CollectionId": 7}',
        b'{"CollectionId": "c", "MaxResults": "10"}',
        b'{"CollectionId": "c", "MaxResults": true}',
        b'{"CollectionId": "c", "FaceIds": "x"}',
        b"\xff\xfe",
    ],
)
def test_wrong_types_are_serialization_errors(body: bytes) -> None:
    with pytest.raises(SerializationException):
        protocol.parse_request(MODEL.operation_model("ListFaces"), body)


def test_bad_base64_is_a_serialization_error() -> None:
    with pytest.raises(SerializationException):
        protocol.parse_request(MODEL.operation_model("DetectFaces"), b'{"Image": {"Bytes": "@@@"}}')


def test_nulls_are_absent_and_unknown_members_dropped() -> None:
    op = MODEL.operation_model("ListCollections")
    assert protocol.parse_request(op, b'{"NextToken": null, "Extra": 1}') == {}
    assert protocol.parse_request(op, b"") == {}


def test_error_shape_is_what_botocore_reads() -> None:
    status, headers, body = protocol.error_response(InvalidParameterException("bad"), "rid-1")
    assert status == 400
    assert headers["X-Amzn-ErrorType"] == "InvalidParameterException"
    lower = {k.lower(): v for k, v in headers.items()}  # as botocore's case-insensitive HTTPHeaders
    parsed = create_parser("json").parse(
        {"status_code": status, "headers": lower, "body": body},
        MODEL.operation_model("DetectFaces").output_shape,
    )
    assert parsed["Error"] == {"Code": "InvalidParameterException", "Message": "bad"}
    assert parsed["ResponseMetadata"]["RequestId"] == "rid-1"
