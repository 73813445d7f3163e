"""VideoJobs with a scripted engine (no model): lifecycle, idempotency, paging, failures, restarts."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from regard.errors import (
    AccessDeniedException,
    IdempotentParameterMismatchException,
    InvalidPaginationTokenException,
    InvalidParameterException,
    InvalidS3ObjectException,
    LimitExceededException,
    ResourceNotFoundException,
    VideoTooLargeException,
)
from regard.service.context import RequestContext
from regard.service.images import resolve_s3_object
from regard.service.video_jobs import VideoJobs
from regard.store import open_store
from regard.store.records import BoundingBox, CollectionRecord, FaceRecord, JobRecord

from .conftest import CLIP
from .helpers import PERSON_A, PERSON_B, ScriptedEngine

CTX = RequestContext(access_key="AKIAVIDEOTEST0001", client="test")
FACE_A = "aaaaaaaa-0000-4000-8000-000000000001"
FACE_B = "bbbbbbbb-0000-4000-8000-000000000002"


@pytest.fixture
def bucket(tmp_path: Path, truncated: Path, not_video: Path, cut_short: Path) -> Path:
    folder = tmp_path / "bucket"
    folder.mkdir()
    shutil.copy(cut_short, folder / "cut_short.mp4")
    shutil.copy(CLIP, folder / "clip.mp4")
    shutil.copy(truncated, folder / "truncated.mp4")
    shutil.copy(not_video, folder / "notes.mp4")
    return folder


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Any]:
    store = open_store(tmp_path / "data")
    store.create_collection(CollectionRecord("people", "scripted/1.0", 512, time.time()))
    box = BoundingBox(0.1, 0.1, 0.5, 0.5)
    faces = [
        FaceRecord(FACE_A, FACE_A, box, 99.0, "1.0", time.time(), external_image_id="ann"),
        FaceRecord(FACE_B, FACE_B, box, 99.0, "1.0", time.time(), external_image_id="bob"),
    ]
    store.add_faces("people", faces, np.stack([PERSON_A, PERSON_B]))
    yield store
    store.close()


def make_jobs(store: Any, bucket: Path, engine: ScriptedEngine | None = None, **kw: Any) -> VideoJobs:
    engine = engine or ScriptedEngine()
    return VideoJobs(store, lambda: engine, lambda s3: resolve_s3_object(s3, {"videos": bucket}), **kw)


@pytest.fixture
def jobs(store: Any, bucket: Path) -> Iterator[VideoJobs]:
    jobs = make_jobs(store, bucket)
    yield jobs
    jobs.shutdown()


def video(name: str = "clip.mp4") -> dict[str, Any]:
    return {"S3Object": {"Bucket": "videos", "Name": name}}


def search(jobs: VideoJobs, **params: Any) -> str:
    body = {"Video": video(), "CollectionId": "people", **params}
    return jobs.start_face_search(body, CTX, sample_fps=2.0)["JobId"]


def test_face_detection_job(jobs: VideoJobs) -> None:
    job_id = jobs.start_face_detection({"Video": video(), "JobTag": "tag:1"}, CTX, sample_fps=2.0)["JobId"]
    assert jobs.wait(job_id, timeout=60).status == "SUCCEEDED"
    got = jobs.get_face_detection({"JobId": job_id}, CTX)
    assert got["JobStatus"] == "SUCCEEDED" and got["JobId"] == job_id and got["JobTag"] == "tag:1"
    assert got["Video"] == video()
    assert got["VideoMetadata"]["Codec"] == "h264" and got["VideoMetadata"]["FrameWidth"] == 640
    assert len(got["Faces"]) == 2 * 19  # 2 faces in each of 19 frames sampled at 2 fps
    assert got["Faces"][0]["Timestamp"] == 0
    assert set(got["Faces"][0]["Face"]) >= {"BoundingBox", "Confidence", "Pose", "Quality", "Landmarks"}
    assert "NextToken" not in got


def test_face_search_names_each_person_and_sorts(jobs: VideoJobs, store: Any) -> None:
    job_id = search(jobs, FaceMatchThreshold=90)
    assert jobs.wait(job_id, timeout=60).status == "SUCCEEDED"
    by_time = jobs.get_face_search({"JobId": job_id}, CTX)["Persons"]
    assert [p["Timestamp"] for p in by_time] == sorted(p["Timestamp"] for p in by_time)
    names = {p["Person"]["Index"]: p["FaceMatches"][0]["Face"]["ExternalImageId"] for p in by_time}
    assert names == {0: "ann", 1: "bob"}
    assert all(len(p["FaceMatches"]) == 1 and p["FaceMatches"][0]["Similarity"] >= 90 for p in by_time)
    by_index = jobs.get_face_search({"JobId": job_id, "SortBy": "INDEX"}, CTX)["Persons"]
    indexes = [p["Person"]["Index"] for p in by_index]
    assert indexes == sorted(indexes) and len(by_index) == len(by_time)
    # accountability: the start and the read are on the record, with who was matched
    audit = [r.entry for r in store.list_audit(collection_id="people")]
    started = [e for e in audit if e.operation == "StartFaceSearch"]
    assert started and started[-1].details["job_id"] == job_id and started[-1].access_key == CTX.access_key
    reads = [e for e in audit if e.operation == "GetFaceSearch"]
    assert reads and reads[-1].details["matched_face_ids"] == sorted([FACE_A, FACE_B])


def test_pagination(jobs: VideoJobs) -> None:
    job_id = search(jobs)
    jobs.wait(job_id, timeout=60)
    everything = jobs.get_face_search({"JobId": job_id, "SortBy": "INDEX"}, CTX)["Persons"]
    pages: list[dict[str, Any]] = []
    token = None
    first_token = ""
    while True:
        params: dict[str, Any] = {"JobId": job_id, "SortBy": "INDEX", "MaxResults": 7}
        if token:
            params["NextToken"] = token
        page = jobs.get_face_search(params, CTX)
        assert len(page["Persons"]) <= 7 and page["VideoMetadata"]["FrameHeight"] == 360
        pages.extend(page["Persons"])
        token = page.get("NextToken")
        if not token:
            break
        first_token = first_token or token
    assert pages == everything
    with pytest.raises(InvalidPaginationTokenException):
        jobs.get_face_search({"JobId": job_id, "SortBy": "INDEX", "NextToken": first_token[:-2] + "xx"}, CTX)
    with pytest.raises(InvalidPaginationTokenException):  # issued for INDEX order, used for TIMESTAMP
        jobs.get_face_search({"JobId": job_id, "NextToken": first_token}, CTX)
    other = search(jobs, ClientRequestToken="other-job")
    with pytest.raises(InvalidPaginationTokenException):  # issued for another job
        jobs.get_face_search({"JobId": other, "SortBy": "INDEX", "NextToken": first_token}, CTX)
    big = jobs.get_face_search({"JobId": job_id, "MaxResults": 5000}, CTX)  # over 1000 means 1000
    assert len(big["Persons"]) == len(everything)
    with pytest.raises(InvalidParameterException):
        jobs.get_face_search({"JobId": job_id, "MaxResults": 0}, CTX)
    with pytest.raises(InvalidParameterException):
        jobs.get_face_search({"JobId": job_id, "SortBy": "NAME"}, CTX)


def test_client_request_token_is_idempotent(jobs: VideoJobs) -> None:
    first = search(jobs, ClientRequestToken="tok-1", JobTag="a")
    assert search(jobs, ClientRequestToken="tok-1", JobTag="a") == first
    with pytest.raises(IdempotentParameterMismatchException):
        search(jobs, ClientRequestToken="tok-1", JobTag="b")
    with pytest.raises(IdempotentParameterMismatchException):  # the sampling rate is a parameter too
        jobs.start_face_search(
            {"Video": video(), "CollectionId": "people", "ClientRequestToken": "tok-1", "JobTag": "a"}, CTX,
            sample_fps=1.0,
        )
    # the same token on the other kind of job is another job
    detection = jobs.start_face_detection({"Video": video(), "ClientRequestToken": "tok-1"}, CTX)["JobId"]
    assert detection != first
    assert search(jobs, ClientRequestToken="tok-2", JobTag="a") != first


@pytest.mark.parametrize(
    ("name", "reason"),
    [("truncated.mp4", "truncated or corrupt"), ("notes.mp4", "not a video"), ("cut_short.mp4", "ends at")],
)
def test_unreadable_video_fails_the_job_with_a_reason(jobs: VideoJobs, name: str, reason: str) -> None:
    job_id = jobs.start_face_detection({"Video": video(name)}, CTX)["JobId"]
    assert jobs.wait(job_id, timeout=60).status == "FAILED"
    got = jobs.get_face_detection({"JobId": job_id}, CTX)
    assert got["JobStatus"] == "FAILED" and reason in got["StatusMessage"]
    assert "Faces" not in got
    job_id = jobs.start_face_search({"Video": video(name), "CollectionId": "people"}, CTX)["JobId"]
    jobs.wait(job_id, timeout=60)
    got = jobs.get_face_search({"JobId": job_id}, CTX)
    assert got["JobStatus"] == "FAILED" and reason in got["StatusMessage"]


def test_start_refuses_bad_requests(jobs: VideoJobs, bucket: Path) -> None:
    with pytest.raises(ResourceNotFoundException):
        jobs.start_face_search({"Video": video(), "CollectionId": "nobody"}, CTX)
    with pytest.raises(InvalidS3ObjectException):
        jobs.start_face_detection({"Video": video("missing.mp4")}, CTX)
    with pytest.raises(InvalidS3ObjectException):
        jobs.start_face_detection({"Video": {"S3Object": {"Bucket": "elsewhere", "Name": "clip.mp4"}}}, CTX)
    with pytest.raises(InvalidS3ObjectException):
        jobs.start_face_detection({"Video": video("../bucket/clip.mp4")}, CTX)
    with pytest.raises(InvalidParameterException):
        jobs.start_face_detection({}, CTX)
    with pytest.raises(InvalidParameterException):
        jobs.start_face_search({"Video": video(), "CollectionId": "people", "FaceMatchThreshold": 101}, CTX)
    with pytest.raises(InvalidParameterException):
        jobs.start_face_detection({"Video": video(), "JobTag": "spaces are not allowed"}, CTX)
    with pytest.raises(InvalidParameterException):
        jobs.start_face_detection({"Video": video(), "FaceAttributes": "SOME"}, CTX)
    with pytest.raises(InvalidParameterException):
        jobs.start_face_detection({"Video": video()}, CTX, sample_fps=0)
    with open(bucket / "huge.mp4", "wb") as handle:
        handle.truncate(10 * 1024**3 + 1)
    with pytest.raises(VideoTooLargeException):
        jobs.start_face_detection({"Video": video("huge.mp4")}, CTX)
    with pytest.raises(ResourceNotFoundException):
        jobs.get_face_search({"JobId": "0123456789abcdef"}, CTX)


def test_collection_of_another_model_is_refused(store: Any, bucket: Path) -> None:
    jobs = make_jobs(store, bucket, ScriptedEngine(model_version="other/2.0"))
    try:
        with pytest.raises(InvalidParameterException, match="model"):
            jobs.start_face_search({"Video": video(), "CollectionId": "people"}, CTX)
    finally:
        jobs.shutdown()


def test_scopes_and_ownership(jobs: VideoJobs) -> None:
    detect_key = RequestContext(access_key="AKIADETECTONLY0001", scope="detect", client="test")
    with pytest.raises(AccessDeniedException):
        jobs.start_face_search({"Video": video(), "CollectionId": "people"}, detect_key)
    job_id = search(jobs)
    stranger = RequestContext(access_key="AKIASTRANGER000001", scope="search", client="test")
    with pytest.raises(ResourceNotFoundException):
        jobs.get_face_search({"JobId": job_id}, stranger)
    with pytest.raises(ResourceNotFoundException):  # a search job is not a detection job
        jobs.get_face_detection({"JobId": job_id}, CTX)
    jobs.wait(job_id, timeout=60)


def test_in_progress_then_bounded_queue(store: Any, bucket: Path) -> None:
    jobs = make_jobs(store, bucket, ScriptedEngine(delay=0.05), max_queued_jobs=1)
    try:
        job_id = jobs.start_face_detection({"Video": video()}, CTX)["JobId"]
        got = jobs.get_face_detection({"JobId": job_id}, CTX)
        assert got["JobStatus"] == "IN_PROGRESS" and "Faces" not in got
        with pytest.raises(LimitExceededException):
            jobs.start_face_detection({"Video": video()}, CTX)
        assert jobs.wait(job_id, timeout=60).status == "SUCCEEDED"
        jobs.start_face_detection({"Video": video()}, CTX)  # room again
    finally:
        jobs.shutdown()


def test_resume_after_restart(store: Any, bucket: Path) -> None:
    now = time.time()
    params = {"Video": video(), "CollectionId": "people", "RegardSampleFps": 2.0}
    store.create_job(JobRecord("job-left-running", "FaceSearch", "IN_PROGRESS", params, now, now))
    gone = {"Video": video("deleted.mp4")}
    store.create_job(JobRecord("job-video-gone", "FaceDetection", "IN_PROGRESS", gone, now, now))
    jobs = make_jobs(store, bucket)
    try:
        assert jobs.resume() == ["job-left-running"]
        assert jobs.wait("job-left-running", timeout=60).status == "SUCCEEDED"
        persons = jobs.get_face_search({"JobId": "job-left-running"}, CTX)["Persons"]
        assert {p["FaceMatches"][0]["Face"]["FaceId"] for p in persons} == {FACE_A, FACE_B}
        failed = store.get_job("job-video-gone")
        assert failed.status == "FAILED" and "Could not resume" in failed.status_message
    finally:
        jobs.shutdown()


def test_shutdown_leaves_the_job_for_the_next_start(store: Any, bucket: Path) -> None:
    engine = ScriptedEngine(delay=0.1)
    jobs = make_jobs(store, bucket, engine)
    job_id = jobs.start_face_detection({"Video": video()}, CTX)["JobId"]
    deadline = time.monotonic() + 30
    while engine.detect_calls < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    jobs.shutdown()
    assert store.get_job(job_id).status == "IN_PROGRESS"  # not lost, not failed
    again = make_jobs(store, bucket)
    try:
        assert again.resume() == [job_id]
        assert again.wait(job_id, timeout=60).status == "SUCCEEDED"
    finally:
        again.shutdown()


def test_concurrent_starts_with_one_token_make_one_job(jobs: VideoJobs) -> None:
    ids: list[str] = []

    def start() -> None:
        ids.append(search(jobs, ClientRequestToken="same"))

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 1


def _conforms(value: Any, shape: Any, path: str = "") -> list[str]:
    """Differences between a response body and botocore's output shape (unknown keys, wrong types)."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: not an object"]
        problems = [f"{path}.{key}: not in {shape.name}" for key in value if key not in shape.members]
        for key, member in shape.members.items():
            if key in value:
                problems += _conforms(value[key], member, f"{path}.{key}")
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: not a list"]
        return [p for i, item in enumerate(value) for p in _conforms(item, shape.member, f"{path}[{i}]")]
    expected = {"string": str, "long": int, "integer": int, "float": (int, float), "double": (int, float)}
    if kind in expected and (isinstance(value, bool) or not isinstance(value, expected[kind])):
        return [f"{path}: {type(value).__name__} is not {kind}"]
    if kind == "string" and shape.enum and value not in shape.enum:
        return [f"{path}: {value!r} not in {shape.enum}"]
    return []


def test_responses_match_the_rekognition_model(jobs: VideoJobs) -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("rekognition")
    detection = jobs.start_face_detection({"Video": video(), "JobTag": "t"}, CTX, sample_fps=1.0)
    assert not _conforms(detection, model.operation_model("StartFaceDetection").output_shape)
    search_id = search(jobs, JobTag="t")
    jobs.wait(detection["JobId"], timeout=60)
    jobs.wait(search_id, timeout=60)
    got = jobs.get_face_detection({"JobId": detection["JobId"], "MaxResults": 3}, CTX)
    assert got["NextToken"]
    assert not _conforms(got, model.operation_model("GetFaceDetection").output_shape)
    got = jobs.get_face_search({"JobId": search_id, "MaxResults": 3}, CTX)
    assert not _conforms(got, model.operation_model("GetFaceSearch").output_shape)


def test_face_attributes_all_runs_the_landmark_model_and_default_does_not(store: Any, bucket: Path) -> None:
    engine = ScriptedEngine()
    jobs = make_jobs(store, bucket, engine)
    try:
        for attributes, landmark_calls in (("DEFAULT", 0), ("ALL", 19)):
            before = engine.landmark_calls
            params = {"Video": video(), "FaceAttributes": attributes}
            job_id = jobs.start_face_detection(params, CTX, sample_fps=2.0)["JobId"]
            assert jobs.wait(job_id, timeout=60).status == "SUCCEEDED"
            assert engine.landmark_calls - before == landmark_calls  # one call per sampled frame, ALL only
    finally:
        jobs.shutdown()
