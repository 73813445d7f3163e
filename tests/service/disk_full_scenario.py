"""A real ``regard serve`` whose data folder is a small tmpfs that fills up; run by test_disk_full.py.

Run inside a private mount namespace (``unshare -m``, or ``unshare -Urm`` without root), so the tmpfs
vanishes with the process. Steps: fill the volume until IndexFaces fails, check every write path answers the
disk-full error over boto3, stop the server, free space, reopen the store and check nothing is half-written.
Prints one JSON line with what it saw; any failed check exits non-zero with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import httpx
import numpy as np
from botocore.config import Config
from botocore.exceptions import ClientError
from tests.adapters.aws.server_process import BOOT_KEY_ID, BOOT_SECRET, start_server

from regard.store.embedded import EmbeddedStore
from regard.store.records import AuditEntry

DATA = Path(__file__).resolve().parents[1] / "data"
VOLUME_BYTES = 24 * 1024 * 1024
LEFT_FREE = 700 * 1024  # room for a few IndexFaces, then the disk is full


def _client(url: str) -> Any:
    return boto3.client(
        "rekognition",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=BOOT_KEY_ID,
        aws_secret_access_key=BOOT_SECRET,
        config=Config(retries={"max_attempts": 1}),
    )


def _full_error(call: Any) -> dict[str, Any]:
    try:
        call()
    except ClientError as error:
        return {
            "code": error.response["Error"]["Code"],
            "status": error.response["ResponseMetadata"]["HTTPStatusCode"],
            "message": error.response["Error"]["Message"],
        }
    raise AssertionError("the call succeeded on a full disk")


def main(work: Path) -> dict[str, Any]:
    data = work / "data"
    data.mkdir(parents=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={VOLUME_BYTES},mode=0700", "tmpfs", str(data)], check=True
    )
    bucket = work / "bucket"
    bucket.mkdir()
    shutil.copy(DATA / "video" / "short_hamilton_clip.mp4", bucket / "clip.mp4")
    server = start_server(work, "--bucket", f"media={bucket}", "--workers", "1")
    seen: dict[str, Any] = {}
    try:
        rek = _client(server.url)
        rek.create_collection(CollectionId="full")
        image = (DATA / "aws" / "obama2.jpg").read_bytes()
        stat = os.statvfs(data)
        filler = data / "filler"
        with filler.open("wb") as f:
            f.write(b"\0" * max(0, stat.f_bavail * stat.f_frsize - LEFT_FREE))
        indexed: list[str] = []
        failure: dict[str, Any] | None = None
        for i in range(400):
            try:
                got = rek.index_faces(CollectionId="full", Image={"Bytes": image}, ExternalImageId=f"p{i}")
            except ClientError as error:
                failure = {
                    "code": error.response["Error"]["Code"],
                    "status": error.response["ResponseMetadata"]["HTTPStatusCode"],
                    "message": error.response["Error"]["Message"],
                }
                break
            indexed += [r["Face"]["FaceId"] for r in got["FaceRecords"]]
        assert failure is not None, "the volume never filled up"
        seen["index_faces"] = failure
        seen["indexed_before_full"] = len(indexed)
        # an audited read, an audited write of another kind, and a video job: all refused the same way
        seen["search"] = _full_error(
            lambda: rek.search_faces_by_image(CollectionId="full", Image={"Bytes": image})
        )
        seen["create_collection"] = _full_error(lambda: rek.create_collection(CollectionId="other"))
        seen["start_face_detection"] = _full_error(
            lambda: rek.start_face_detection(Video={"S3Object": {"Bucket": "media", "Name": "clip.mp4"}})
        )
        seen["health_while_full"] = httpx.get(server.url + "/health", timeout=10).status_code
        seen["exit_code"] = server.stop()
    finally:
        if server.process.poll() is None:
            server.process.kill()
    seen["server_log_says_full"] = "data volume is full" in server.log_text()
    filler.unlink()

    with EmbeddedStore(data) as store:
        verification = store.verify_audit()
        seen["audit_ok"], seen["audit_records"] = verification.ok, verification.records_checked
        seen["face_count"] = store.get_collection("full").face_count
        listed = [f.face_id for f in store.list_faces("full", after=None, limit=4096)]
        seen["faces_listed_match"] = sorted(listed) == sorted(indexed)
        vectors = store.get_embeddings("full", listed)
        seen["every_face_has_its_vector"] = sorted(vectors) == sorted(listed)
        # the same photo each time: every stored vector is found by a search with any of them, none else
        hits = store.search_faces("full", np.asarray(vectors[listed[0]]), max_results=len(listed) + 10)
        seen["every_vector_is_searchable"] = sorted(f.face_id for f, _ in hits) == sorted(listed)
        seen["collections"] = [c.collection_id for c in store.list_collections(after=None, limit=10)]
        seen["jobs"] = len(store.list_jobs())
        store.append_audit(
            AuditEntry(
                operation="Check",
                access_key=None,
                collection_id=None,
                request_id=None,
                client=None,
                details={"after": "space freed"},
            )
        )
        seen["audit_ok_after_new_write"] = store.verify_audit().ok
    return seen


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
