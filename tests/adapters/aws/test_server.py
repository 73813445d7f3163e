"""boto3 and raw signed requests against a real ``regard serve`` process with the real service and models.

One server per module (model loading is the slow part); every test uses its own collection names.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from .server_process import BOOT_KEY_ID, BOOT_SECRET, ServerProcess, aws_cli, run_cli, start_server
from .signing import now_utc, sign

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[2] / "data" / "aws"
OBAMA_SMALL = (DATA / "obama-240p.jpg").read_bytes()
OBAMA = (DATA / "obama2.jpg").read_bytes()
BIDEN = (DATA / "biden.jpg").read_bytes()
DOGS = (DATA / "dogs.jpg").read_bytes()
VIDEO = DATA.parent / "video" / "short_hamilton_clip.mp4"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("server")
    photos = tmp / "photos"
    (photos / "people").mkdir(parents=True)
    shutil.copy(DATA / "obama2.jpg", photos / "people" / "obama.jpg")
    shutil.copy(VIDEO, photos / "clip.mp4")
    secret_place = tmp / "outside.jpg"
    shutil.copy(DATA / "biden.jpg", secret_place)
    (photos / "link.jpg").symlink_to(secret_place)
    (photos / "linked-dir").symlink_to(tmp, target_is_directory=True)
    keys = {scope: _new_key(tmp / "data", scope) for scope in ("detect", "search", "revoked")}
    done = run_cli("keys", "revoke", keys["revoked"][0], "--data", str(tmp / "data"))
    assert done.returncode == 0, done.stderr
    signing_key = tmp / "keys" / "anchor.pem"  # outside the data folder, as it must be
    signing_key.parent.mkdir()
    assert run_cli("audit", "keygen", "--out", str(signing_key)).returncode == 0
    anchors = ("--audit-anchor-to", str(tmp / "witness.jsonl"), "--audit-anchor-interval", "1")
    anchors += ("--audit-signing-key", str(signing_key))
    # this module sends many bad signatures on purpose; the back-off is tested in test_tls_and_limits.py
    process = start_server(
        tmp, "--bucket", f"photos={photos}", "--workers", "2", "--bad-signature-limit", "1000", *anchors
    )
    process.keys = keys
    yield process
    assert process.stop() == 0, process.log_text()[-3000:]
    assert '"stopped"' in process.log_text()


CALLED: set[str] = set()  # operations sent through boto3 in this module, successful or not


def _client(
    server: ServerProcess,
    key_id: str = BOOT_KEY_ID,
    secret: str = BOOT_SECRET,
    purpose: str | None = None,
    *,
    extras: bool = False,
) -> Any:
    """A boto3 client of its own session (so AWS_DATA_PATH, when set, adds Regard's operations); with
    ``purpose``, every request carries X-Regard-Purpose, added before signing as users are told to; with
    ``extras``, the client knows Regard's operations from the sdk-extras file whatever AWS_DATA_PATH says."""
    session = boto3.session.Session()
    if extras:
        import botocore.session

        from regard.adapters.aws.model import EXTRAS_PATH

        core = botocore.session.Session()
        core.get_component("data_loader").search_paths.insert(0, str(EXTRAS_PATH))
        session = boto3.session.Session(botocore_session=core)
    client = session.client(
        "rekognition",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )
    client.meta.events.register("before-call.rekognition", lambda model, **_: CALLED.add(model.name))
    if purpose is not None:

        def add_purpose(request: Any, **_: Any) -> None:
            request.headers["X-Regard-Purpose"] = purpose

        client.meta.events.register("before-sign.rekognition.*", add_purpose)
    return client


@pytest.fixture(scope="module")
def rek(server: ServerProcess) -> Any:
    return _client(server)


def _new_key(data_dir: Path, scope: str) -> tuple[str, str]:
    cli_scope = "search" if scope == "revoked" else scope
    done = run_cli("keys", "create", "--scope", cli_scope, "--name", f"test-{scope}", "--data", str(data_dir))
    assert done.returncode == 0, done.stderr
    fields = dict(line.split(":", 1) for line in done.stdout.splitlines() if ":" in line)
    return fields["AccessKeyId"].strip(), fields["SecretAccessKey"].strip()


def _code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def _collection(rek: Any, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    rek.create_collection(CollectionId=name)
    return name


# --- stateless operations -----------------------------------------------------------------------------


def test_detect_faces(rek: Any) -> None:
    response = rek.detect_faces(Image={"Bytes": OBAMA}, Attributes=["ALL"])
    (face,) = response["FaceDetails"]
    box = face["BoundingBox"]
    assert 0 <= box["Left"] < 1 and 0 <= box["Top"] < 1 and 0 < box["Width"] <= 1 and 0 < box["Height"] <= 1
    assert face["Confidence"] > 50
    assert {"Landmarks", "Pose", "Quality"} <= set(face)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_detect_faces_without_faces(rek: Any) -> None:
    assert rek.detect_faces(Image={"Bytes": DOGS})["FaceDetails"] == []


def test_compare_faces(rek: Any) -> None:
    same = rek.compare_faces(SourceImage={"Bytes": OBAMA_SMALL}, TargetImage={"Bytes": OBAMA})
    assert len(same["FaceMatches"]) == 1 and same["FaceMatches"][0]["Similarity"] >= 80
    other = rek.compare_faces(SourceImage={"Bytes": OBAMA_SMALL}, TargetImage={"Bytes": BIDEN})
    assert other["FaceMatches"] == [] and len(other["UnmatchedFaces"]) == 1


def test_image_errors(rek: Any) -> None:
    with pytest.raises(rek.exceptions.InvalidImageFormatException):
        rek.detect_faces(Image={"Bytes": b"GIF89a not what we take" * 10})
    with pytest.raises(rek.exceptions.InvalidParameterException):
        rek.compare_faces(SourceImage={"Bytes": DOGS}, TargetImage={"Bytes": OBAMA})
    from PIL import Image

    huge = io.BytesIO()
    Image.new("L", (7000, 7000)).save(huge, format="PNG")  # 49 Mpx in a few kB
    with pytest.raises(rek.exceptions.ImageTooLargeException):
        rek.detect_faces(Image={"Bytes": huge.getvalue()})


def test_bytes_over_five_mib_refused_by_the_model_limit(rek: Any) -> None:
    with pytest.raises(ClientError) as caught:
        rek.detect_faces(Image={"Bytes": b"\xff" * (5 * 1024 * 1024 + 1)})
    assert _code(caught) == "ValidationException"
    assert "'image.bytes'" in caught.value.response["Error"]["Message"]


# --- S3Object via --bucket ------------------------------------------------------------------------------


def test_s3_object_from_bucket_folder(rek: Any) -> None:
    response = rek.detect_faces(Image={"S3Object": {"Bucket": "photos", "Name": "people/obama.jpg"}})
    assert len(response["FaceDetails"]) == 1


@pytest.mark.parametrize(
    ("bucket", "name"),
    [
        ("photos", "../outside.jpg"),
        ("photos", "people/../../outside.jpg"),
        ("photos", "/etc/passwd"),
        ("photos", "link.jpg"),
        ("photos", "linked-dir/outside.jpg"),
        ("photos", "people/missing.jpg"),
        ("nobucket", "people/obama.jpg"),
    ],
)
def test_s3_object_cannot_leave_its_folder(rek: Any, bucket: str, name: str) -> None:
    with pytest.raises(rek.exceptions.InvalidS3ObjectException):
        rek.detect_faces(Image={"S3Object": {"Bucket": bucket, "Name": name}})


# --- collections, faces, users, search ------------------------------------------------------------------


def test_collection_lifecycle_and_errors(rek: Any) -> None:
    name = f"life-{uuid.uuid4().hex[:8]}"
    created = rek.create_collection(CollectionId=name, Tags={"team": "qa"})
    assert created["StatusCode"] == 200 and created["CollectionArn"] and created["FaceModelVersion"]
    with pytest.raises(rek.exceptions.ResourceAlreadyExistsException):
        rek.create_collection(CollectionId=name)
    described = rek.describe_collection(CollectionId=name)
    assert described["FaceCount"] == 0
    assert isinstance(described["CreationTimestamp"], dt.datetime)
    assert rek.delete_collection(CollectionId=name)["StatusCode"] == 200
    with pytest.raises(rek.exceptions.ResourceNotFoundException):
        rek.describe_collection(CollectionId=name)


def test_list_collections_paginator(rek: Any) -> None:
    names = sorted(_collection(rek, "page") for _ in range(3))
    pages = list(rek.get_paginator("list_collections").paginate(PaginationConfig={"PageSize": 1}))
    seen = [c for page in pages for c in page["CollectionIds"]]
    assert len(pages) >= 3 and set(names) <= set(seen) and len(seen) == len(set(seen))
    assert all(len(p["CollectionIds"]) == len(p["FaceModelVersions"]) for p in pages)
    with pytest.raises(rek.exceptions.InvalidPaginationTokenException):
        rek.list_collections(NextToken="forged-token")


def test_index_search_and_list_faces(rek: Any) -> None:
    name = _collection(rek, "faces")
    indexed = rek.index_faces(CollectionId=name, Image={"Bytes": OBAMA_SMALL}, ExternalImageId="obama-1")
    (record,) = indexed["FaceRecords"]
    obama_face = record["Face"]["FaceId"]
    rek.index_faces(CollectionId=name, Image={"Bytes": BIDEN}, ExternalImageId="biden-1")
    rek.index_faces(CollectionId=name, Image={"S3Object": {"Bucket": "photos", "Name": "people/obama.jpg"}})

    found = rek.search_faces_by_image(CollectionId=name, Image={"Bytes": OBAMA})
    assert found["FaceMatches"][0]["Face"].get("ExternalImageId") in ("obama-1", None)
    assert "biden-1" not in [m["Face"].get("ExternalImageId") for m in found["FaceMatches"]]
    assert all(m["Similarity"] >= 80 for m in found["FaceMatches"])
    assert found["SearchedFaceBoundingBox"]["Width"] > 0

    by_id = rek.search_faces(CollectionId=name, FaceId=obama_face)
    assert by_id["SearchedFaceId"] == obama_face
    assert all(m["Face"]["FaceId"] != obama_face for m in by_id["FaceMatches"])

    pages = list(
        rek.get_paginator("list_faces").paginate(CollectionId=name, PaginationConfig={"PageSize": 1})
    )
    faces = [f["FaceId"] for page in pages for f in page["Faces"]]
    assert len(pages) == 3 and len(set(faces)) == 3

    with pytest.raises(rek.exceptions.InvalidParameterException):
        rek.search_faces_by_image(CollectionId=name, Image={"Bytes": DOGS})
    with pytest.raises(rek.exceptions.ResourceNotFoundException):
        rek.index_faces(CollectionId="no-such-collection", Image={"Bytes": OBAMA})

    deleted = rek.delete_faces(CollectionId=name, FaceIds=[obama_face])
    assert deleted["DeletedFaces"] == [obama_face]
    assert rek.describe_collection(CollectionId=name)["FaceCount"] == 2


def test_users(rek: Any) -> None:
    name = _collection(rek, "users")
    face_a = rek.index_faces(CollectionId=name, Image={"Bytes": OBAMA_SMALL})["FaceRecords"][0]["Face"][
        "FaceId"
    ]
    face_b = rek.index_faces(CollectionId=name, Image={"Bytes": OBAMA})["FaceRecords"][0]["Face"]["FaceId"]
    rek.index_faces(CollectionId=name, Image={"Bytes": BIDEN})

    token = str(uuid.uuid4())
    rek.create_user(CollectionId=name, UserId="barack", ClientRequestToken=token)
    rek.create_user(CollectionId=name, UserId="barack", ClientRequestToken=token)  # same request again: fine
    with pytest.raises(rek.exceptions.IdempotentParameterMismatchException):
        rek.create_user(CollectionId=name, UserId="someone-else", ClientRequestToken=token)
    with pytest.raises(rek.exceptions.ConflictException):
        rek.create_user(CollectionId=name, UserId="barack")
    rek.create_user(CollectionId=name, UserId="joe")

    associated = rek.associate_faces(CollectionId=name, UserId="barack", FaceIds=[face_a, face_b])
    assert {f["FaceId"] for f in associated["AssociatedFaces"]} == {face_a, face_b}

    pages = list(
        rek.get_paginator("list_users").paginate(CollectionId=name, PaginationConfig={"PageSize": 1})
    )
    assert [u["UserId"] for page in pages for u in page["Users"]] == ["barack", "joe"]

    by_image = rek.search_users_by_image(CollectionId=name, Image={"Bytes": OBAMA})
    assert by_image["UserMatches"][0]["User"]["UserId"] == "barack"
    by_face = rek.search_users(CollectionId=name, FaceId=face_a)
    assert by_face["UserMatches"][0]["User"]["UserId"] == "barack"

    gone = rek.disassociate_faces(CollectionId=name, UserId="barack", FaceIds=[face_b])
    assert [f["FaceId"] for f in gone["DisassociatedFaces"]] == [face_b]
    rek.delete_user(CollectionId=name, UserId="joe")
    with pytest.raises(rek.exceptions.ResourceNotFoundException):
        rek.delete_user(CollectionId=name, UserId="joe")


def _wait_for_job(get: Any, job_id: str, timeout: float = 400) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result: dict[str, Any] = get(JobId=job_id, MaxResults=10)
        if result["JobStatus"] != "IN_PROGRESS":
            return result
        time.sleep(2)
    raise AssertionError(f"job {job_id} still running after {timeout} s")


def test_video_jobs(rek: Any) -> None:
    video = {"S3Object": {"Bucket": "photos", "Name": "clip.mp4"}}
    name = _collection(rek, "video")
    rek.index_faces(
        CollectionId=name, Image={"Bytes": (DATA.parent / "video" / "lin-manuel-miranda.png").read_bytes()}
    )
    detection = rek.start_face_detection(Video=video, JobTag="t1")["JobId"]
    detailed = rek.start_face_detection(Video=video, FaceAttributes="ALL")["JobId"]
    search = rek.start_face_search(Video=video, CollectionId=name)["JobId"]
    detected = _wait_for_job(rek.get_face_detection, detection)
    assert detected["JobStatus"] == "SUCCEEDED", detected.get("StatusMessage")
    assert detected["Faces"] and detected["VideoMetadata"]["DurationMillis"] > 9000
    # FaceAttributes ALL: DetectFaces ALL's 30 landmark types on the same faces; DEFAULT the 5 keypoints
    full = _wait_for_job(rek.get_face_detection, detailed)
    assert full["JobStatus"] == "SUCCEEDED", full.get("StatusMessage")
    assert all(len(item["Face"]["Landmarks"]) == 5 for item in detected["Faces"])
    assert all(len({p["Type"] for p in item["Face"]["Landmarks"]}) == 30 for item in full["Faces"])
    assert [(i["Timestamp"], i["Face"]["BoundingBox"]) for i in full["Faces"]] == [
        (i["Timestamp"], i["Face"]["BoundingBox"]) for i in detected["Faces"]
    ]
    searched = _wait_for_job(rek.get_face_search, search)
    assert searched["JobStatus"] == "SUCCEEDED", searched.get("StatusMessage")
    assert any(p.get("FaceMatches") for p in searched["Persons"])
    with pytest.raises(rek.exceptions.ResourceNotFoundException):
        rek.get_face_detection(JobId="no-such-job")
    with pytest.raises(rek.exceptions.InvalidS3ObjectException):
        rek.start_face_detection(Video={"S3Object": {"Bucket": "photos", "Name": "../outside.jpg"}})


# --- validation beyond what boto3 checks ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "body", "member"),
    [
        ("CreateCollection", {"CollectionId": "has spaces"}, "collectionId"),
        ("CreateCollection", {"CollectionId": "x" * 256}, "collectionId"),
        (
            "SearchFacesByImage",
            {"CollectionId": "c", "Image": {"Bytes": "AA=="}, "MaxFaces": 4097},
            "maxFaces",
        ),
        ("DetectFaces", {"Image": {"Bytes": "AA=="}, "Attributes": ["EVERYTHING"]}, "attributes.1.member"),
        (
            "IndexFaces",
            {"CollectionId": "c", "Image": {"Bytes": "AA=="}, "QualityFilter": "BEST"},
            "qualityFilter",
        ),
        ("DeleteFaces", {"CollectionId": "c", "FaceIds": ["NOT-A-UUID"]}, "faceIds.1.member"),
        ("CreateCollection", {"CollectionId": "c", "Tags": {"aws:reserved": "x"}}, "tags.key"),
    ],
)
def test_model_constraints_boto3_does_not_check(
    server: ServerProcess, target: str, body: Any, member: str
) -> None:
    headers, data = sign(server.url + "/", f"RekognitionService.{target}", body, BOOT_KEY_ID, BOOT_SECRET)
    response = httpx.post(server.url + "/", content=data, headers=headers)
    assert response.status_code == 400
    assert response.json()["__type"] == "ValidationException"
    assert f"at '{member}' failed to satisfy constraint" in response.json()["Message"]


def test_unknown_and_unoffered_operations(server: ServerProcess) -> None:
    targets = ["NoSuchThing", "DetectLabels"]
    for target in [*(f"RekognitionService.{t}" for t in targets), "Other.DetectFaces"]:
        headers, data = sign(server.url + "/", target, {}, BOOT_KEY_ID, BOOT_SECRET)
        response = httpx.post(server.url + "/", content=data, headers=headers)
        assert (response.status_code, response.json()["__type"]) == (400, "UnknownOperationException")


def test_audit_log_over_the_wire_for_admin_keys_only(
    server: ServerProcess, rek: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ListAuditRecords is Regard's: a boto3 client learns it from the sdk-extras file via AWS_DATA_PATH."""
    from regard.adapters.aws.model import EXTRAS_PATH

    monkeypatch.setenv("AWS_DATA_PATH", str(EXTRAS_PATH))

    def client(key_id: str, secret: str) -> Any:  # a new session reads AWS_DATA_PATH
        return _client(server, key_id, secret)

    admin = client(BOOT_KEY_ID, BOOT_SECRET)
    name = _collection(rek, "audited")
    rek.describe_collection(CollectionId=name)
    records = admin.list_audit_records(CollectionId=name)["Records"]
    assert [r["Operation"] for r in records] == ["CreateCollection", "DescribeCollection"]
    assert all(r["AccessKeyId"] == BOOT_KEY_ID for r in records)
    assert records[0]["Sequence"] < records[1]["Sequence"] and len(records[1]["Hash"]) == 64
    since = admin.list_audit_records(Since="2000-01-01T00:00:00", MaxResults=1)
    assert len(since["Records"]) == 1 and since["NextSequence"] == since["Records"][0]["Sequence"]
    search = client(*server.keys["search"])
    with pytest.raises(search.exceptions.AccessDeniedException):
        search.list_audit_records()


# --- RecognizeFaces (a Regard operation, learnt by boto3 from the sdk-extras file) -----------------------

KNN = DATA.parent / "galleries" / "knn"


def _extras_client(server: ServerProcess, key_id: str = BOOT_KEY_ID, secret: str = BOOT_SECRET) -> Any:
    return _client(server, key_id, secret, extras=True)


@pytest.fixture(scope="module")
def knn_collection(rek: Any) -> tuple[str, dict[str, list[str]]]:
    """The knn training gallery indexed (one face per image); Biden's faces belong to the user ``joe``."""
    name = _collection(rek, "knn")
    ids: dict[str, list[str]] = {}
    for person in sorted(p for p in (KNN / "train").iterdir() if p.is_dir()):
        for path in sorted(person.iterdir()):
            indexed = rek.index_faces(
                CollectionId=name, Image={"Bytes": path.read_bytes()}, ExternalImageId=person.name, MaxFaces=1
            )
            ids.setdefault(person.name, []).append(indexed["FaceRecords"][0]["Face"]["FaceId"])
    rek.create_user(CollectionId=name, UserId="joe")
    rek.associate_faces(CollectionId=name, UserId="joe", FaceIds=ids["biden"])
    return name, ids


def test_recognize_faces_names_a_group_photo(server: ServerProcess, knn_collection: Any) -> None:
    name, ids = knn_collection
    key_id, secret = server.keys["search"]
    search = _extras_client(server, key_id, secret)
    group = (KNN / "test" / "obama_and_biden.jpg").read_bytes()
    response = search.recognize_faces(CollectionId=name, Image={"Bytes": group}, MaxMatchesPerFace=2)
    recognized = sorted(response["RecognizedFaces"], key=lambda r: r["Face"]["BoundingBox"]["Left"])
    assert [r["FaceMatches"][0]["Face"]["ExternalImageId"] for r in recognized] == ["biden", "obama"]
    biden, obama = recognized
    assert {m["Face"]["FaceId"] for m in biden["FaceMatches"]} == set(ids["biden"])
    assert all(m["Face"]["UserId"] == "joe" for m in biden["FaceMatches"])
    assert {m["Face"]["FaceId"] for m in obama["FaceMatches"]} == set(ids["obama"])
    assert all("UserId" not in m["Face"] for m in obama["FaceMatches"])
    assert all(m["Similarity"] >= 80 and "EstimatedFalseMatchRate" not in m for m in obama["FaceMatches"])
    assert set(obama["Face"]) == {"BoundingBox", "Confidence", "Landmarks", "Pose", "Quality"}
    # Each face's matches are what SearchFacesByImage answers for it (here the largest face, with 2 matches).
    alone = search.search_faces_by_image(CollectionId=name, Image={"Bytes": group}, MaxFaces=2)
    (same,) = [r for r in recognized if r["Face"]["BoundingBox"] == alone["SearchedFaceBoundingBox"]]
    assert [m["Face"] for m in same["FaceMatches"]] == [m["Face"] for m in alone["FaceMatches"]]
    for ours, theirs in zip(same["FaceMatches"], alone["FaceMatches"], strict=True):
        assert ours["Similarity"] == pytest.approx(theirs["Similarity"], abs=1e-3)
    (stranger,) = response["UnrecognizedFaces"]  # the third, smaller face is nobody in the gallery
    assert stranger["Reasons"] == ["NO_MATCH"] and stranger["Face"]["Confidence"] > 50
    assert response["FaceModelVersion"] == search.describe_collection(CollectionId=name)["FaceModelVersion"]

    # The audit record: who asked, which faces were returned, a digest of the photo, never the photo.
    admin = _extras_client(server)
    audited = admin.list_audit_records(CollectionId=name)["Records"]
    record = [r for r in audited if r["Operation"] == "RecognizeFaces"][-1]
    assert record["AccessKeyId"] == key_id
    details = json.loads(record["Details"])
    assert details["probe_sha256"] == hashlib.sha256(group).hexdigest()
    assert (details["faces"], details["recognized"], details["unrecognized"]) == (3, 2, 1)
    returned = [m for r in response["RecognizedFaces"] for m in r["FaceMatches"]]
    assert details["matched_face_ids"] == [m["Face"]["FaceId"] for m in returned]
    assert [m.get("user_id") for m in details["matches"]] == [m["Face"].get("UserId") for m in returned]
    assert [m["similarity"] for m in details["matches"]] == [m["Similarity"] for m in returned]

    s3 = search.recognize_faces(
        CollectionId=name, Image={"S3Object": {"Bucket": "photos", "Name": "people/obama.jpg"}}
    )
    assert [r["FaceMatches"][0]["Face"]["ExternalImageId"] for r in s3["RecognizedFaces"]] == ["obama"]
    nobody = search.recognize_faces(CollectionId=name, Image={"Bytes": DOGS})
    assert nobody["RecognizedFaces"] == [] and nobody["UnrecognizedFaces"] == []


def test_recognize_faces_errors(server: ServerProcess, knn_collection: Any) -> None:
    name, _ = knn_collection
    admin = _extras_client(server)
    photo = {"Bytes": OBAMA}
    with pytest.raises(admin.exceptions.ResourceNotFoundException):
        admin.recognize_faces(CollectionId="no-such-" + name, Image=photo)
    with pytest.raises(admin.exceptions.InvalidImageFormatException):
        admin.recognize_faces(CollectionId=name, Image={"Bytes": b"GIF89a not what we take" * 10})
    with pytest.raises(admin.exceptions.InvalidS3ObjectException):
        admin.recognize_faces(CollectionId=name, Image={"S3Object": {"Bucket": "photos", "Name": "../x.jpg"}})
    for bad in ({"FaceMatchThreshold": 100.5}, {"MaxFaces": 101}, {"MaxMatchesPerFace": 101}):
        with pytest.raises(ClientError) as caught:
            admin.recognize_faces(CollectionId=name, Image=photo, **bad)
        assert _code(caught) == "ValidationException", bad
    with pytest.raises(ParamValidationError):  # boto3 itself refuses what is below a minimum
        admin.recognize_faces(CollectionId=name, Image=photo, MaxFaces=0)
    detect = _extras_client(server, *server.keys["detect"])
    with pytest.raises(detect.exceptions.AccessDeniedException):
        detect.recognize_faces(CollectionId=name, Image=photo)
    for body, member in (
        ({"CollectionId": name, "Image": {"Bytes": "AA=="}, "MaxFaces": 0}, "maxFaces"),
        ({"CollectionId": name, "Image": {"Bytes": "AA=="}, "QualityFilter": "BEST"}, "qualityFilter"),
        ({"CollectionId": name, "Image": {"Bytes": "AA=="}, "FaceMatchThreshold": -1}, "faceMatchThreshold"),
    ):
        target = "RekognitionService.RecognizeFaces"
        headers, data = sign(server.url + "/", target, body, BOOT_KEY_ID, BOOT_SECRET)
        response = httpx.post(server.url + "/", content=data, headers=headers)
        assert (response.status_code, response.json()["__type"]) == (400, "ValidationException")
        assert f"at '{member}' failed to satisfy constraint" in response.json()["Message"]
    audited = admin.list_audit_records(CollectionId=name)["Records"]
    errors = {json.loads(r["Details"]).get("error") for r in audited if r["Operation"] == "RecognizeFaces"}
    assert {"InvalidImageFormatException", "InvalidS3ObjectException", "AccessDeniedException"} <= errors
    (missing,) = admin.list_audit_records(CollectionId="no-such-" + name)["Records"]
    assert json.loads(missing["Details"])["error"] == "ResourceNotFoundException"


def test_purpose_header_probe_hash_and_subject_report(
    server: ServerProcess, rek: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """X-Regard-Purpose sent by boto3's before-sign hook (so it is signed), kept with the probe's hash;
    a purpose-bound collection refuses searches without it; the person's report over the wire."""
    import hashlib

    from regard.adapters.aws.model import EXTRAS_PATH

    monkeypatch.setenv("AWS_DATA_PATH", str(EXTRAS_PATH))

    def client(key_id: str = BOOT_KEY_ID, secret: str = BOOT_SECRET, purpose: str | None = None) -> Any:
        return _client(server, key_id, secret, purpose)

    admin = client()
    name = f"bound-{uuid.uuid4().hex[:8]}"
    admin.create_collection(CollectionId=name, Tags={"regard:require-purpose": "true"})
    assert admin.describe_collection(CollectionId=name)["RegardRequirePurpose"] is True
    obama = admin.index_faces(CollectionId=name, Image={"Bytes": OBAMA}, ExternalImageId="obama")
    face_id = obama["FaceRecords"][0]["Face"]["FaceId"]
    with pytest.raises(ClientError) as refused:
        admin.search_faces_by_image(CollectionId=name, Image={"Bytes": OBAMA_SMALL})
    assert _code(refused) == "AccessDeniedException"
    assert "requires a stated purpose" in refused.value.response["Error"]["Message"]

    asked = client(*server.keys["search"], purpose="case 42: caf%C3%A9 camera")  # percent-encoded UTF-8
    found = asked.search_faces_by_image(CollectionId=name, Image={"Bytes": OBAMA_SMALL})
    assert found["FaceMatches"][0]["Face"]["FaceId"] == face_id
    records = admin.list_audit_records(CollectionId=name)["Records"]
    details = json.loads(records[-1]["Details"])
    assert records[-1]["Operation"] == "SearchFacesByImage"
    assert details["probe_sha256"] == hashlib.sha256(OBAMA_SMALL).hexdigest()
    assert details["purpose"] == "case 42: café camera"
    assert details["matches"][0]["face_id"] == face_id and details["matches"][0]["similarity"] > 80

    with pytest.raises(ClientError) as bad:
        client(purpose="tab%09inside").search_faces_by_image(CollectionId=name, Image={"Bytes": OBAMA_SMALL})
    assert _code(bad) == "InvalidParameterException"
    # Added after signing (as a proxy could): refused, never attributed to the key's owner.
    target, body = "RekognitionService.DescribeCollection", {"CollectionId": name}
    headers, data = sign(server.url + "/", target, body, BOOT_KEY_ID, BOOT_SECRET)
    response = httpx.post(server.url + "/", content=data, headers={**headers, "X-Regard-Purpose": "forged"})
    assert (response.status_code, response.json()["__type"]) == (403, "InvalidSignatureException")
    assert "X-Regard-Purpose" in response.text, response.text

    admin.delete_faces(CollectionId=name, FaceIds=[face_id])
    report = admin.list_subject_audit_records(CollectionId=name, ExternalImageId="obama")
    assert report["FaceIds"] == [face_id]  # erased, still found through the audit history
    (hit,) = [r for r in report["Records"] if r["Role"] == "RETURNED"]
    assert hit["AccessKeyId"] == server.keys["search"][0] and hit["Purpose"] == "case 42: café camera"
    assert hit["ProbeSha256"] == details["probe_sha256"] and hit["Similarity"] > 80
    changes = [r["Operation"] for r in report["Records"] if r["Role"] == "CHANGED"]
    assert changes == ["IndexFaces", "DeleteFaces"]
    with pytest.raises(ClientError) as denied:
        client(*server.keys["search"]).list_subject_audit_records(CollectionId=name, FaceId=face_id)
    assert _code(denied) == "AccessDeniedException"


def test_server_publishes_signed_anchors_of_the_audit_head(server: ServerProcess, rek: Any) -> None:
    from regard.service.audit_anchor import load_public_key, trusted_anchor

    public = load_public_key(server.data_dir.parent / "keys" / "anchor.pem.pub")
    rek.list_collections()
    witness = server.data_dir.parent / "witness.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(witness.read_text().splitlines()) < 2:
        time.sleep(0.5)
    lines = witness.read_text().splitlines()
    assert len(lines) >= 2 and stat_mode(witness) == 0o600
    anchors = [trusted_anchor(line, n, public) for n, line in enumerate(lines, 1)]
    assert all(isinstance(a, dict) for a in anchors), anchors
    seqs = [a["seq"] for a in anchors]
    assert seqs == sorted(set(seqs))  # one anchor per head that moved, never repeated
    with pytest.MonkeyPatch.context() as patch:
        from regard.adapters.aws.model import EXTRAS_PATH

        patch.setenv("AWS_DATA_PATH", str(EXTRAS_PATH))
        admin = _client(server)
        for anchor in anchors:
            (record,) = admin.list_audit_records(AfterSequence=anchor["seq"] - 1, MaxResults=1)["Records"]
            assert (record["Sequence"], record["Hash"]) == (anchor["seq"], anchor["hash"])


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


# --- authentication and scopes --------------------------------------------------------------------------


def test_wrong_secret(server: ServerProcess) -> None:
    bad = _client(server, secret="x" * 40)
    with pytest.raises(ClientError) as caught:
        bad.list_collections()
    assert _code(caught) == "InvalidSignatureException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_key(server: ServerProcess) -> None:
    with pytest.raises(ClientError) as caught:
        _client(server, key_id="AKIAUNKNOWNKEY000000").list_collections()
    assert _code(caught) == "UnrecognizedClientException"
    assert (
        caught.value.response["Error"]["Message"] == "The security token included in the request is invalid."
    )


def test_revoked_key(server: ServerProcess) -> None:
    with pytest.raises(ClientError) as caught:
        _client(server, *server.keys["revoked"]).list_collections()
    assert _code(caught) == "UnrecognizedClientException"


def test_keys_made_and_revoked_under_a_running_server_take_effect_at_once(server: ServerProcess) -> None:
    key_id, secret = _new_key(server.data_dir, "detect")
    fresh = _client(server, key_id, secret)
    assert len(fresh.detect_faces(Image={"Bytes": OBAMA_SMALL})["FaceDetails"]) == 1
    listed = run_cli("keys", "list", "--data", str(server.data_dir))
    assert listed.returncode == 0 and secret not in listed.stdout
    assert run_cli("keys", "revoke", key_id, "--data", str(server.data_dir)).returncode == 0
    with pytest.raises(ClientError) as caught:
        fresh.detect_faces(Image={"Bytes": OBAMA_SMALL})
    assert _code(caught) == "UnrecognizedClientException"


def test_clock_skew_over_fifteen_minutes(server: ServerProcess) -> None:
    for minutes in (16, -16):
        when = now_utc() - dt.timedelta(minutes=minutes)
        headers, data = sign(
            server.url + "/", "RekognitionService.ListCollections", {}, BOOT_KEY_ID, BOOT_SECRET, when=when
        )
        response = httpx.post(server.url + "/", content=data, headers=headers)
        assert (response.status_code, response.json()["__type"]) == (403, "InvalidSignatureException")
        assert response.json()["Message"].startswith(("Signature expired", "Signature not yet current"))


def test_body_altered_after_signing(server: ServerProcess) -> None:
    name = f"victim-{uuid.uuid4().hex[:8]}"
    headers, _ = sign(
        server.url + "/",
        "RekognitionService.DescribeCollection",
        {"CollectionId": name},
        BOOT_KEY_ID,
        BOOT_SECRET,
    )
    forged = f'{{"CollectionId": "{name}x"}}'.encode()
    headers["Content-Length"] = str(len(forged))
    response = httpx.post(server.url + "/", content=forged, headers=headers)
    assert (response.status_code, response.json()["__type"]) == (403, "InvalidSignatureException")


def test_unsigned_request(server: ServerProcess) -> None:
    response = httpx.post(
        server.url + "/", content=b"{}", headers={"X-Amz-Target": "RekognitionService.ListCollections"}
    )
    assert (response.status_code, response.json()["__type"]) == (403, "MissingAuthenticationTokenException")


def test_scopes(server: ServerProcess, rek: Any) -> None:
    name = _collection(rek, "scoped")
    detect = _client(server, *server.keys["detect"])
    assert len(detect.detect_faces(Image={"Bytes": OBAMA_SMALL})["FaceDetails"]) == 1
    with pytest.raises(detect.exceptions.AccessDeniedException):
        detect.index_faces(CollectionId=name, Image={"Bytes": OBAMA_SMALL})
    search = _client(server, *server.keys["search"])
    search.search_faces_by_image(CollectionId=name, Image={"Bytes": OBAMA_SMALL})
    with pytest.raises(search.exceptions.AccessDeniedException):
        search.delete_collection(CollectionId=name)


def test_keys_create_rejects_unknown_scope(tmp_path: Path) -> None:
    done = run_cli("keys", "create", "--scope", "superuser", "--data", str(tmp_path / "data"))
    assert done.returncode != 0 and "superuser" in done.stderr + done.stdout


def test_keys_list_shows_no_secrets(tmp_path: Path) -> None:
    key_id, secret = _new_key(tmp_path / "data", "index")
    listed = run_cli("keys", "list", "--data", str(tmp_path / "data"))
    assert listed.returncode == 0, listed.stderr
    assert key_id in listed.stdout and secret not in listed.stdout


# --- the AWS CLI ---------------------------------------------------------------------------------------


def _aws(server: ServerProcess, *args: str, **extra_env: str) -> Any:
    return aws_cli(server, *args, **extra_env)


def test_aws_cli(server: ServerProcess, rek: Any) -> None:
    name = _collection(rek, "awscli")
    code, out, err = _aws(server, "detect-faces", "--image-bytes", f"fileb://{DATA / 'obama2.jpg'}")
    assert code == 0, err
    assert len(out["FaceDetails"]) == 1
    code, out, err = _aws(
        server,
        "index-faces",
        "--collection-id",
        name,
        "--external-image-id",
        "obama",
        "--image",
        '{"S3Object": {"Bucket": "photos", "Name": "people/obama.jpg"}}',
    )
    assert code == 0, err
    assert out["FaceRecords"][0]["Face"]["ExternalImageId"] == "obama"
    code, out, err = _aws(
        server,
        "search-faces-by-image",
        "--collection-id",
        name,
        "--image-bytes",
        f"fileb://{DATA / 'obama-240p.jpg'}",
    )
    assert code == 0, err
    assert out["FaceMatches"][0]["Face"]["ExternalImageId"] == "obama"
    code, out, err = _aws(server, "describe-collection", "--collection-id", "nope-" + name)
    assert code != 0 and "ResourceNotFoundException" in err


def test_aws_cli_sends_a_signed_purpose_through_the_plugin(server: ServerProcess, tmp_path: Path) -> None:
    config = tmp_path / "aws-config"
    config.write_text("[plugins]\nregard_purpose = regard.adapters.aws.cli_plugin\n")
    name = f"cli-bound-{uuid.uuid4().hex[:8]}"
    tags = ("--tags", "regard:require-purpose=true")
    code, _, err = _aws(server, "create-collection", "--collection-id", name, *tags)
    assert code == 0, err
    probe = tmp_path / "probe.jpg"
    probe.write_bytes(OBAMA_SMALL)
    search = ("search-faces-by-image", "--collection-id", name, "--image-bytes", f"fileb://{probe}")
    code, _, err = _aws(server, *search, AWS_CONFIG_FILE=str(config))
    assert code != 0 and "AccessDeniedException" in err and "requires a stated purpose" in err
    purpose = "réf. 2026/17 – 100% checked"
    code, out, err = _aws(server, *search, AWS_CONFIG_FILE=str(config), REGARD_PURPOSE=purpose)
    assert code == 0, err
    assert out["FaceMatches"] == []  # an empty collection: the search ran, with its purpose
    from regard.adapters.aws.model import EXTRAS_PATH

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DATA_PATH", str(EXTRAS_PATH))
        records = _client(server).list_audit_records(CollectionId=name)["Records"]
    assert json.loads(records[-1]["Details"])["purpose"] == purpose


def test_cluster_faces_over_the_wire(server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """ClusterFaces is Regard's (sdk-extras): real faces of four people and one loner, through boto3."""
    from regard.adapters.aws.model import EXTRAS_PATH

    monkeypatch.setenv("AWS_DATA_PATH", str(EXTRAS_PATH))

    rek = _client(server)
    name = _collection(rek, "clustered")
    galleries = DATA.parent / "galleries"
    owner: dict[str, str] = {}
    photos = [
        (p, path)
        for p in ("amy", "howard", "raj", "stuart")
        for path in sorted((galleries / "bbt" / p).iterdir())
    ]
    photos.append(("alex", galleries / "knn" / "train" / "alex_lacamoire" / "img1.jpg"))
    for person, path in photos:
        done = rek.index_faces(
            CollectionId=name, Image={"Bytes": path.read_bytes()}, ExternalImageId=person, MaxFaces=1
        )
        owner[done["FaceRecords"][0]["Face"]["FaceId"]] = person
    first = rek.cluster_faces(CollectionId=name, MaxResults=3)
    assert len(first["Clusters"]) == 3 and "NextToken" in first
    rest = rek.cluster_faces(CollectionId=name, MaxResults=3, NextToken=first["NextToken"])
    assert "NextToken" not in rest and rest["UnclusteredFaceIds"] == []
    clusters = first["Clusters"] + rest["Clusters"]
    assert sorted(owner[c["FaceIds"][0]] for c in clusters) == ["amy", "howard", "raj", "stuart"]
    for cluster in clusters:
        assert {owner[f] for f in cluster["FaceIds"]} == {owner[cluster["FaceIds"][0]]}
        assert cluster["RepresentativeFaceId"] in cluster["FaceIds"] and 80 <= cluster["Cohesion"] <= 100
    assert [owner[f] for f in first["UnclusteredFaceIds"]] == ["alex"]
    again = rek.cluster_faces(CollectionId=name)
    assert {c["ClusterId"] for c in again["Clusters"]} == {c["ClusterId"] for c in clusters}
    with pytest.raises(ClientError) as caught:
        rek.cluster_faces(CollectionId=name, NextToken=first["NextToken"][:-2])
    assert _code(caught) == "InvalidPaginationTokenException"
    with pytest.raises(ClientError) as caught:
        rek.cluster_faces(CollectionId="nope-" + name)
    assert _code(caught) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as caught:
        rek.cluster_faces(CollectionId=name, ClusterThreshold=100.5)
    assert _code(caught) == "ValidationException"  # the model's range, checked as Rekognition checks it
    with pytest.raises(ClientError) as caught:
        _client(server, *server.keys["search"]).cluster_faces(CollectionId=name)
    assert _code(caught) == "AccessDeniedException"
    audit = rek.list_audit_records(CollectionId=name)["Records"]
    runs = [r for r in audit if r["Operation"] == "ClusterFaces" and '"outcome"' not in r["Details"]]
    assert runs[0]["AccessKeyId"] == BOOT_KEY_ID
    details = json.loads(runs[0]["Details"])
    assert details["faces"] == len(owner) and details["clusters"] == 4 and details["unclustered"] == 1


def test_every_offered_operation_is_exercised() -> None:
    """Every Rekognition operation the service offers went through boto3 above (Regard's own too)."""
    from regard.adapters.aws.model import service_model
    from regard.service.app import HANDLERS

    offered = set(HANDLERS)
    try:
        import regard.service.video_jobs  # noqa: F401

        offered |= {"StartFaceDetection", "GetFaceDetection", "StartFaceSearch", "GetFaceSearch"}
    except ImportError:
        pass
    rekognition = offered & set(service_model().operation_names)
    assert len(rekognition) >= 23
    assert rekognition <= CALLED, sorted(rekognition - CALLED)


# --- last: what the server wrote -----------------------------------------------------------------------


def test_logs_hold_no_secrets_or_images(server: ServerProcess) -> None:
    text = server.log_text()
    assert '"message": "request"' in text and '"operation": "DetectFaces"' in text
    assert BOOT_SECRET not in text
    assert base64.b64encode(OBAMA_SMALL[:300]).decode()[:40] not in text
    assert "Signature=" not in text
    mode = os.stat(server.data_dir).st_mode & 0o777
    assert mode == 0o700
