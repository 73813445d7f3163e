"""Property-based requests made from botocore's Rekognition model, sent signed to a real ``regard serve``.

Valid requests follow every constraint of the model (with the collection ID often the one that holds faces);
invalid ones break one thing (a required member dropped, a wrong JSON type, a value out of range, a body that
is not JSON). Whatever comes, the server must never answer 5xx, every error must be a Rekognition-typed body,
and the faces stored before must all still be there after. Bounded (derandomised, few examples) to stay fast.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.model import Shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regard.adapters.aws.model import service_model

from .server_process import BOOT_KEY_ID, BOOT_SECRET, ServerProcess, start_server
from .signing import sign

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[2] / "data"
IMAGES = [
    (DATA / "aws" / "obama-240p.jpg").read_bytes(),
    (DATA.parent / "fuzz" / "corpus" / "image" / "rgb.jpg").read_bytes(),
    (DATA.parent / "fuzz" / "corpus" / "image" / "tiny.png").read_bytes(),
]
SENTINEL = "kept-faces"
OPERATIONS = [
    "DetectFaces",
    "CompareFaces",
    "ListCollections",
    "DescribeCollection",
    "CreateCollection",
    "IndexFaces",
    "ListFaces",
    "SearchFaces",
    "SearchFacesByImage",
    "CreateUser",
    "ListUsers",
    "SearchUsers",
    "StartFaceDetection",
    "GetFaceDetection",
]
MODEL = service_model()
WIRE_ERRORS = {
    "ValidationException",
    "SerializationException",
    "UnknownOperationException",
    "RequestEntityTooLargeException",
    "AccessDeniedException",
    "InvalidS3ObjectException",
}
KNOWN_ERRORS = {shape.name for shape in MODEL.error_shapes} | WIRE_ERRORS
PROFILE = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


# --- strategies from the model ------------------------------------------------------------------------


def valid(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """JSON values that meet every constraint the model states for ``shape``."""
    meta = shape.metadata
    if shape.type_name == "structure":
        members = shape.members
        required = {m: valid(members[m], depth + 1) for m in shape.required_members}
        optional = (
            {} if depth > 2 else {m: valid(s, depth + 1) for m, s in members.items() if m not in required}
        )
        if shape.name == "Image":  # a union in all but name: Bytes or S3Object
            return st.one_of(
                st.fixed_dictionaries({"Bytes": valid(members["Bytes"])}),
                st.fixed_dictionaries({"S3Object": valid(members["S3Object"], depth + 1)}),
            )
        return st.fixed_dictionaries(required, optional=optional)
    if shape.type_name == "list":
        low, high = meta.get("min", 0), min(meta.get("max", 3), 3)
        return st.lists(valid(shape.member, depth + 1), min_size=low, max_size=max(low, high))
    if shape.type_name == "map":
        return st.dictionaries(valid(shape.key, depth + 1), valid(shape.value, depth + 1), max_size=2)
    if shape.type_name == "string":
        return _string(shape)
    if shape.type_name in ("integer", "long"):
        return st.integers(meta.get("min", 0), min(meta.get("max", 2**31 - 1), 2**31 - 1))
    if shape.type_name in ("float", "double"):
        return st.floats(meta.get("min", 0.0), meta.get("max", 100.0), allow_nan=False)
    if shape.type_name == "boolean":
        return st.booleans()
    if shape.type_name == "blob":
        return st.one_of(st.sampled_from(IMAGES), st.binary(min_size=1, max_size=64)).map(
            lambda b: base64.b64encode(b).decode()
        )
    if shape.type_name == "timestamp":
        return st.floats(0, 2e9, allow_nan=False)
    raise AssertionError(f"no strategy for {shape.type_name}")


def _string(shape: Shape) -> st.SearchStrategy[str]:
    if shape.enum:
        return st.sampled_from(shape.enum)
    low, high = shape.metadata.get("min", 0), min(shape.metadata.get("max", 64), 64)
    pattern = shape.metadata.get("pattern")
    text: st.SearchStrategy[str]
    if pattern:
        try:
            text = st.from_regex(re.compile(pattern), fullmatch=True)
        except re.error:  # a pattern Python's re does not read (\p{...}); plain text instead
            text = st.text(min_size=low, max_size=high)
    else:
        text = st.text(min_size=low, max_size=high)
    text = text.map(lambda s: s[:high]).filter(lambda s: len(s) >= low)
    if shape.name == "CollectionId":
        return st.one_of(st.just(SENTINEL), text)
    return text


def broken(shape: Shape) -> st.SearchStrategy[Any]:
    """A request body with one thing wrong: a required member gone, a wrong type, a value out of range."""

    def mutate(draw: Any) -> Any:
        body = draw(valid(shape))
        names = list(shape.members)
        how = draw(st.sampled_from(["drop", "type", "range", "unknown"]))
        if how == "drop" and shape.required_members:
            body.pop(draw(st.sampled_from(shape.required_members)), None)
        elif how in ("type", "range") and names:
            name = draw(st.sampled_from(names))
            member = shape.members[name]
            if how == "type":
                body[name] = draw(st.sampled_from([123, "text", [1], {"a": 1}, None, True, 1.5]))
            else:
                body[name] = _out_of_range(member)
        else:
            body[draw(st.text(min_size=1, max_size=8))] = draw(st.integers())
        return body

    return st.composite(lambda draw: mutate(draw))()


def _out_of_range(shape: Shape) -> Any:
    meta = shape.metadata
    if shape.type_name in ("integer", "long", "float", "double"):
        return meta.get("max", 2**31 - 1) + 1 if "max" in meta else meta.get("min", 0) - 1
    if shape.type_name == "string":
        return "\u00e9" * (meta.get("max", 255) + 1) if not shape.enum else "NOT_AN_ENUM_VALUE"
    if shape.type_name == "list":
        return [] if meta.get("min", 0) > 0 else [None] * 5000
    return "x"


# --- the server ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, set[str]]]:
    process = start_server(tmp_path_factory.mktemp("properties"))
    call(process, "CreateCollection", {"CollectionId": SENTINEL})
    faces = set()
    for name in ("obama2.jpg", "biden.jpg"):
        image = base64.b64encode((DATA / "aws" / name).read_bytes()).decode()
        status, body = call(process, "IndexFaces", {"CollectionId": SENTINEL, "Image": {"Bytes": image}})
        assert status == 200, body
        faces |= {r["Face"]["FaceId"] for r in body["FaceRecords"]}
    assert len(faces) == 2
    yield process, faces
    status, body = call(process, "ListFaces", {"CollectionId": SENTINEL, "MaxResults": 4096})
    assert status == 200 and faces <= {f["FaceId"] for f in body["Faces"]}, "a stored face was lost"
    assert process.stop() == 0, process.log_text()[-3000:]


def call(server: ServerProcess, operation: str, body: Any) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers, data = sign(server.url + "/", f"RekognitionService.{operation}", data, BOOT_KEY_ID, BOOT_SECRET)
    response = httpx.post(server.url + "/", content=data, headers=headers, timeout=120)
    return response.status_code, response.json()


def check(status: int, body: Any) -> None:
    assert status < 500, body
    assert isinstance(body, dict)
    if status != 200:
        assert body.get("__type") in KNOWN_ERRORS, body
        assert isinstance(body.get("Message"), str)


def _faces(server: ServerProcess) -> set[str]:
    status, body = call(server, "ListFaces", {"CollectionId": SENTINEL, "MaxResults": 4096})
    assert status == 200, body
    return {f["FaceId"] for f in body["Faces"]}


requests = st.sampled_from(OPERATIONS).flatmap(
    lambda op: st.tuples(st.just(op), valid(MODEL.operation_model(op).input_shape))
)
bad_requests = st.sampled_from(OPERATIONS).flatmap(
    lambda op: st.tuples(
        st.just(op),
        st.one_of(broken(MODEL.operation_model(op).input_shape), st.binary(max_size=64)),
    )
)


def test_valid_requests_never_fail_the_server(server: tuple[ServerProcess, set[str]]) -> None:
    process, kept = server

    @PROFILE
    @given(requests)
    def run(request: tuple[str, Any]) -> None:
        check(*call(process, *request))

    run()
    assert kept <= _faces(process)


def test_invalid_requests_get_typed_client_errors(server: tuple[ServerProcess, set[str]]) -> None:
    process, kept = server

    @PROFILE
    @given(bad_requests)
    def run(request: tuple[str, Any]) -> None:
        status, body = call(process, *request)
        check(status, body)

    run()
    assert kept <= _faces(process)
