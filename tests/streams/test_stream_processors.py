"""Stream processors through boto3 against a real ``regard serve``, fed by a real RTSP server (GStreamer)
and by FFmpeg over UDP and SRT, writing to a JSON-lines file and to a signed webhook.

One server for the module (loading the models is the slow part); the last test restarts it. The Hamilton
clip shows Lin-Manuel Miranda close up from 2.8 s to 7.1 s; his portrait is the only face indexed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from tests.adapters.aws.server_process import BOOT_KEY_ID, BOOT_SECRET, ServerProcess, aws_cli, start_server

from .feeds import (
    LIN,
    RtspServer,
    SrtFeed,
    UdpFeed,
    WebhookReceiver,
    gone,
    names,
    read_jsonl,
    relay_processes,
    wait_for,
)

pytestmark = pytest.mark.slow

SECRET = "webhook-test-secret-7f3a"
SRT_PASSPHRASE = "srt-passphrase-9c1e"
ACCOUNT, REGION = "123456789012", "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/rekognition"
LIN_NAME = "lin-manuel-miranda"
NAMED_WITHIN = 60.0  # generous for a loaded CI machine; the benchmark measures the real latency


def video_arn(name: str) -> str:
    return f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:stream/{name}/1600000000000"


def data_arn(name: str) -> str:
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"


class Setup:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.events = tmp / "events.jsonl"
        self.camera = RtspServer("cam").start()
        self.flaky = RtspServer("flaky").start()
        self.udp = UdpFeed()
        self.srt = SrtFeed(passphrase=SRT_PASSPHRASE)
        self.srt_events = tmp / "srt-events.jsonl"
        self.hook = WebhookReceiver(SECRET.encode())
        self.server: ServerProcess | None = None

    def start_server(self) -> ServerProcess:
        self.server = start_server(
            self.tmp,
            "--stream", f"cam={self.camera.url}",
            "--stream", f"flaky={self.flaky.url}",
            "--stream", f"udpcam={self.udp.url}",
            "--stream", "nowhere=rtsp://127.0.0.1:9/missing",
            "--stream", f"srtcam={self.srt.url}",
            "--sink", f"srtevents={self.srt_events}",
            "--sink", f"events={self.events}",
            "--sink", f"hook={self.hook.url}",
            env_extra={"REGARD_SINK_SECRET": SECRET},
        )  # fmt: skip
        return self.server

    def client(self) -> Any:
        assert self.server is not None
        return boto3.client(
            "rekognition",
            endpoint_url=self.server.url,
            region_name=REGION,
            aws_access_key_id=BOOT_KEY_ID,
            aws_secret_access_key=BOOT_SECRET,
            config=Config(retries={"mode": "standard", "max_attempts": 1}),
        )

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.camera.kill()
        self.flaky.kill()
        self.udp.stop()
        self.srt.stop()
        self.hook.close()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    s = Setup(tmp_path_factory.mktemp("streams"))
    try:
        s.start_server()
        rek = s.client()
        rek.create_collection(CollectionId="hamilton")
        indexed = rek.index_faces(
            CollectionId="hamilton", Image={"Bytes": LIN.read_bytes()}, ExternalImageId=LIN_NAME
        )
        assert len(indexed["FaceRecords"]) == 1
        yield s
    finally:
        s.close()


@pytest.fixture
def rek(setup: Setup) -> Any:
    return setup.client()


def create(rek: Any, name: str, stream: str, sink: str = "events", **extra: Any) -> str:
    response = rek.create_stream_processor(
        Name=name,
        Input={"KinesisVideoStream": {"Arn": video_arn(stream)}},
        Output={"KinesisDataStream": {"Arn": data_arn(sink)}},
        Settings={"FaceSearch": {"CollectionId": "hamilton", "FaceMatchThreshold": 85.0}},
        RoleArn=ROLE,
        **extra,
    )
    return str(response["StreamProcessorArn"])


def status(rek: Any, name: str) -> dict[str, Any]:
    return dict(rek.describe_stream_processor(Name=name))


def stop_and_delete(rek: Any, name: str) -> None:
    rek.stop_stream_processor(Name=name)
    wait_for(lambda: status(rek, name)["Status"] == "STOPPED", 30, f"{name} to stop")
    rek.delete_stream_processor(Name=name)


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def test_definitions_and_errors(setup: Setup, rek: Any) -> None:
    with pytest.raises(ClientError) as err:
        create(rek, "p-unknown", "not-mapped")
    assert error_code(err) == "InvalidParameterException"
    assert "--stream not-mapped=URL" in str(err.value)
    with pytest.raises(ClientError) as err:
        create(rek, "p-unknown", "cam", sink="not-mapped")
    assert error_code(err) == "InvalidParameterException"
    with pytest.raises(ClientError) as err:
        rek.create_stream_processor(
            Name="p-nocoll",
            Input={"KinesisVideoStream": {"Arn": video_arn("cam")}},
            Output={"KinesisDataStream": {"Arn": data_arn("events")}},
            Settings={"FaceSearch": {"CollectionId": "no-such-collection"}},
            RoleArn=ROLE,
        )
    assert error_code(err) == "ResourceNotFoundException"
    arns = [create(rek, name, "cam") for name in ("p-a", "p-b", "p-c")]
    assert arns[0] == "arn:aws:rekognition:local:000000000000:streamprocessor/p-a"
    with pytest.raises(ClientError) as err:
        create(rek, "p-a", "cam")
    assert error_code(err) == "ResourceInUseException"
    described = status(rek, "p-a")
    assert described["Status"] == "STOPPED" and described["StreamProcessorArn"] == arns[0]
    assert described["Input"]["KinesisVideoStream"]["Arn"] == video_arn("cam")
    assert described["Output"]["KinesisDataStream"]["Arn"] == data_arn("events")
    assert described["Settings"]["FaceSearch"] == {"CollectionId": "hamilton", "FaceMatchThreshold": 85.0}
    assert described["RoleArn"] == ROLE
    assert described["CreationTimestamp"].year >= 2024
    # paginated with signed tokens
    first = rek.list_stream_processors(MaxResults=2)
    assert [p["Name"] for p in first["StreamProcessors"]] == ["p-a", "p-b"]
    second = rek.list_stream_processors(MaxResults=2, NextToken=first["NextToken"])
    assert [p["Name"] for p in second["StreamProcessors"]] == ["p-c"] and "NextToken" not in second
    with pytest.raises(ClientError) as err:
        rek.list_stream_processors(NextToken=first["NextToken"][:-2] + "xx")
    assert error_code(err) == "InvalidPaginationTokenException"
    # control errors
    with pytest.raises(ClientError) as err:
        rek.stop_stream_processor(Name="p-a")
    assert error_code(err) == "ResourceInUseException"
    with pytest.raises(ClientError) as err:
        rek.start_stream_processor(Name="p-missing")
    assert error_code(err) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        rek.start_stream_processor(Name="p-a", StopSelector={"MaxDurationInSeconds": 5})
    assert error_code(err) == "InvalidParameterException"
    assert setup.server is not None  # and the AWS CLI
    code, out, err = aws_cli(setup.server, "describe-stream-processor", "--name", "p-b")
    assert code == 0, err
    assert out["Status"] == "STOPPED" and out["Settings"]["FaceSearch"]["CollectionId"] == "hamilton"
    code, out, err = aws_cli(setup.server, "list-stream-processors")
    assert code == 0 and [p["Name"] for p in out["StreamProcessors"]] == ["p-a", "p-b", "p-c"], err
    rek.update_stream_processor(Name="p-a", DataSharingPreferenceForUpdate={"OptIn": False})
    assert status(rek, "p-a")["DataSharingPreference"] == {"OptIn": False}
    for name in ("p-a", "p-b", "p-c"):
        rek.delete_stream_processor(Name=name)
    with pytest.raises(ClientError) as err:
        rek.describe_stream_processor(Name="p-a")
    assert error_code(err) == "ResourceNotFoundException"


def test_rtsp_camera_names_a_known_person(setup: Setup, rek: Any) -> None:
    create(rek, "door", "cam")
    started = time.time()
    assert rek.start_stream_processor(Name="door")["SessionId"]
    with pytest.raises(ClientError) as err:
        rek.start_stream_processor(Name="door")
    assert error_code(err) == "ResourceInUseException"
    wait_for(lambda: status(rek, "door")["Status"] == "RUNNING", 60, "RUNNING")
    named = wait_for(
        lambda: [r for r in read_jsonl(setup.events) if LIN_NAME in names(r)], NAMED_WITHIN, "Miranda named"
    )
    with pytest.raises(ClientError) as err:
        rek.delete_stream_processor(Name="door")
    assert error_code(err) == "ResourceInUseException"
    stop_and_delete(rek, "door")
    record = named[0]
    video = record["InputInformation"]["KinesisVideo"]
    assert video["StreamArn"] == video_arn("cam")
    assert int(video["FragmentNumber"]) >= 1 and video["FrameOffsetInSeconds"] >= 0
    assert started - 5 < video["ServerTimestamp"] < time.time() + 1
    assert abs(video["ProducerTimestamp"] - video["ServerTimestamp"]) < 30
    assert record["StreamProcessorInformation"] == {"Status": "RUNNING"}
    for face in record["FaceSearchResponse"]:
        assert {"BoundingBox", "Confidence", "Landmarks", "Pose", "Quality"} <= set(face["DetectedFace"])
        for match in face["MatchedFaces"]:
            assert 85.0 <= match["Similarity"] <= 100.0
            assert set(match["Face"]) == {"BoundingBox", "FaceId", "Confidence", "ImageId", "ExternalImageId"}
    everyone = read_jsonl(setup.events)
    # the audience (7.2 s on) is detected but never named
    assert any(len(r["FaceSearchResponse"]) >= 3 and not names(r) for r in everyone)
    assert all(names(r) <= {LIN_NAME} for r in everyone)


def test_udp_feed_to_signed_webhook(setup: Setup, rek: Any) -> None:
    create(rek, "broadcast", "udpcam", sink="hook")
    rek.start_stream_processor(Name="broadcast")
    time.sleep(1)  # the processor binds the port; then the broadcast starts
    setup.udp.start()
    assert setup.server is not None
    wait_for(
        lambda: any(LIN_NAME in names(r) for r in setup.hook.records),
        NAMED_WITHIN,
        "a webhook record",
        log=setup.server.log_text,
    )
    stop_and_delete(rek, "broadcast")
    assert setup.hook.bad_signatures == 0
    assert setup.hook.requests > len(setup.hook.records)  # the refused first delivery was retried
    record = setup.hook.records[0]
    assert record["InputInformation"]["KinesisVideo"]["StreamArn"] == video_arn("udpcam")


def test_srt_feed_through_the_system_ffmpeg(setup: Setup, rek: Any) -> None:
    setup.srt.start()
    create(rek, "srt", "srtcam", sink="srtevents")
    rek.start_stream_processor(Name="srt")
    assert setup.server is not None
    wait_for(lambda: status(rek, "srt")["Status"] == "RUNNING", 60, "RUNNING", log=setup.server.log_text)
    named = wait_for(
        lambda: [r for r in read_jsonl(setup.srt_events) if LIN_NAME in names(r)],
        NAMED_WITHIN,
        "Miranda named",
    )
    assert named[0]["InputInformation"]["KinesisVideo"]["StreamArn"] == video_arn("srtcam")
    relays = relay_processes(setup.srt.port)
    assert len(relays) == 1  # the server's child ffmpeg
    stop_and_delete(rek, "srt")  # STOPPED once the source's child ffmpeg was stopped and reaped
    assert gone(relays)
    setup.srt.stop()
    assert SRT_PASSPHRASE not in setup.server.log_text()


def test_a_source_that_never_opens_fails_with_the_reason(rek: Any) -> None:
    create(rek, "nowhere", "nowhere")
    rek.start_stream_processor(Name="nowhere")
    failed = wait_for(lambda: (d := status(rek, "nowhere"))["Status"] == "FAILED" and d, 90, "FAILED")
    assert "could not be opened" in failed["StatusMessage"]
    assert "refused" in failed["StatusMessage"].lower()
    rek.delete_stream_processor(Name="nowhere")  # a failed processor is not running


def test_a_source_that_drops_is_reopened(setup: Setup, rek: Any) -> None:
    create(rek, "flaky", "flaky")
    rek.start_stream_processor(Name="flaky")
    wait_for(lambda: status(rek, "flaky")["Status"] == "RUNNING", 60, "RUNNING")
    time.sleep(4)  # mid-stream
    setup.flaky.kill()
    dropped = wait_for(
        lambda: "reconnecting" in (status(rek, "flaky").get("StatusMessage") or ""), 40, "the drop to show"
    )
    assert dropped
    time.sleep(2)
    back_at = time.time()
    setup.flaky.start()
    wait_for(
        lambda: [
            r for r in read_jsonl(setup.events)
            if r["InputInformation"]["KinesisVideo"]["StreamArn"] == video_arn("flaky")
            and r["InputInformation"]["KinesisVideo"]["ServerTimestamp"] > back_at
            and LIN_NAME in names(r)
        ],
        NAMED_WITHIN,
        "records after the source came back",
    )  # fmt: skip
    assert status(rek, "flaky")["Status"] == "RUNNING"
    stop_and_delete(rek, "flaky")


def test_a_running_processor_survives_a_server_restart(setup: Setup, rek: Any) -> None:
    create(rek, "survivor", "cam")
    rek.start_stream_processor(Name="survivor")
    create(rek, "idle", "cam")
    wait_for(lambda: status(rek, "survivor")["Status"] == "RUNNING", 60, "RUNNING")
    assert setup.server is not None and setup.server.stop() == 0
    restarted_at = time.time()
    setup.start_server()
    rek = setup.client()
    wait_for(lambda: status(rek, "survivor")["Status"] == "RUNNING", 60, "RUNNING after the restart")
    assert status(rek, "idle")["Status"] == "STOPPED"
    wait_for(
        lambda: [
            r for r in read_jsonl(setup.events)
            if r["InputInformation"]["KinesisVideo"]["ServerTimestamp"] > restarted_at
            and LIN_NAME in names(r)
        ],
        NAMED_WITHIN,
        "records after the restart",
    )  # fmt: skip
    stop_and_delete(rek, "survivor")
    rek.delete_stream_processor(Name="idle")
    # the audit log holds each control operation and batched matches naming the processor and faces
    assert setup.server.stop() == 0
    assert SECRET not in setup.server.log_text()  # the webhook secret is never logged
    from regard.store import open_store

    store = open_store(setup.server.data_dir)
    try:
        records = [r.entry for r in store.iter_audit()]
    finally:
        store.close()
    operations = {e.operation for e in records}
    assert {"CreateStreamProcessor", "StartStreamProcessor", "StopStreamProcessor"} <= operations
    assert {"DeleteStreamProcessor", "StreamProcessorMatches", "StreamProcessorFailed"} <= operations
    face_id = next(e for e in records if e.operation == "IndexFaces").details
    matches = [e for e in records if e.operation == "StreamProcessorMatches"]
    assert {e.details["stream_processor"] for e in matches} >= {"door", "broadcast", "survivor"}
    for entry in matches:
        assert entry.collection_id == "hamilton"
        assert entry.details["matches"] and all(m["similarity"] >= 85 for m in entry.details["matches"])
        assert entry.details["matched_face_ids"] == [m["face_id"] for m in entry.details["matches"]]
        assert len(entry.details["probe_sha256"]) == 64
    assert face_id  # IndexFaces was recorded too
