"""Stream processors through the application object (no HTTP): limits, scopes, a file as camera, restarts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from regard.errors import AccessDeniedException, LimitExceededException, ResourceInUseException
from regard.service.app import Regard
from regard.service.context import RequestContext

from .feeds import CLIP, LIN, names, wait_for

ACCOUNT = "123456789012"
ADMIN = RequestContext(access_key="AKIASTREAMADMIN00001", client="test")
SEARCH = RequestContext(access_key="AKIASTREAMSEARCH0001", client="test", scope="search")


def params(name: str, stream: str = "file") -> dict[str, Any]:
    return {
        "Name": name,
        "Input": {
            "KinesisVideoStream": {"Arn": f"arn:aws:kinesisvideo:us-east-1:{ACCOUNT}:stream/{stream}/1"}
        },
        "Output": {"KinesisDataStream": {"Arn": f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/out"}},
        "Settings": {"FaceSearch": {"CollectionId": "hamilton", "FaceMatchThreshold": 50}},
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r",
    }


def open_regard(data: Path, engine: Any, events: Path) -> Regard:
    regard = Regard.open(data, engine=engine)
    regard.attach_stream_processors(
        {"file": str(CLIP)}, {"out": str(events)}, max_processors=2, max_running=1
    )
    return regard


def test_limits_scopes_and_a_file_played_as_a_camera(tmp_path: Path, engine: Any) -> None:
    events = tmp_path / "events.jsonl"
    regard = open_regard(tmp_path / "data", engine, events)
    try:
        regard.invoke("CreateCollection", {"CollectionId": "hamilton"}, ADMIN)
        regard.invoke(
            "IndexFaces",
            {"CollectionId": "hamilton", "Image": {"Bytes": LIN.read_bytes()}, "ExternalImageId": "lin"},
            ADMIN,
        )
        with pytest.raises(AccessDeniedException):
            regard.invoke("CreateStreamProcessor", params("one"), SEARCH)
        regard.invoke("CreateStreamProcessor", params("one"), ADMIN)
        regard.invoke("CreateStreamProcessor", params("two"), ADMIN)
        with pytest.raises(LimitExceededException):
            regard.invoke("CreateStreamProcessor", params("three"), ADMIN)
        described = regard.invoke("DescribeStreamProcessor", {"Name": "one"}, SEARCH)
        assert (
            described["Settings"]["FaceSearch"]["FaceMatchThreshold"] == 80.0
        )  # raised to Rekognition's floor
        with pytest.raises(AccessDeniedException):
            regard.invoke("StartStreamProcessor", {"Name": "one"}, SEARCH)
        regard.invoke("StartStreamProcessor", {"Name": "one"}, ADMIN)
        with pytest.raises(LimitExceededException):
            regard.invoke("StartStreamProcessor", {"Name": "two"}, ADMIN)
        with pytest.raises(ResourceInUseException):
            regard.invoke("DeleteStreamProcessor", {"Name": "one"}, ADMIN)
        wait_for(
            lambda: any("lin" in names(json.loads(line)) for line in _lines(events)), 60, "Miranda named"
        )
        assert oct(events.stat().st_mode & 0o777) == "0o600"
    finally:
        regard.close()  # a shutdown: "one" stays RUNNING for the next start
    regard = open_regard(tmp_path / "data", engine, events)
    try:
        assert regard.invoke("DescribeStreamProcessor", {"Name": "one"}, ADMIN)["Status"] == "RUNNING"
        regard.start_background_work()
        before = len(_lines(events))
        wait_for(lambda: len(_lines(events)) > before, 60, "records after the restart")
        regard.invoke("StopStreamProcessor", {"Name": "one"}, ADMIN)
        wait_for(
            lambda: regard.invoke("DescribeStreamProcessor", {"Name": "one"}, ADMIN)["Status"] == "STOPPED",
            30,
            "STOPPED",
        )
        regard.invoke("DeleteStreamProcessor", {"Name": "one"}, ADMIN)
        listed = regard.invoke("ListStreamProcessors", {}, SEARCH)["StreamProcessors"]
        assert listed == [{"Name": "two", "Status": "STOPPED"}]
    finally:
        regard.close()


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []
