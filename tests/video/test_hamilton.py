"""Face search on a real clip with the real engine: the two people indexed are found when they are on screen,
and nobody in the audience is taken for them. Also the CLI, end to end.

The clip (10 s, 640x360): Lin-Manuel Miranda on stage far away (0-0.7 s), Alex Lacamoire at the piano far
away (0-0.7 s) then in profile close up (0.8-2.7 s), Miranda close up (2.8-7.1 s), the audience (7.2-10 s).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from regard.service.context import RequestContext

from .conftest import ALEX, CLIP, DATA, LIN

pytestmark = pytest.mark.slow

CTX = RequestContext(access_key="AKIAVIDEOTEST0001", client="test")
PURPOSE = "archive review: who appears in the 2016 recording"
AUDIT: list[Any] = []  # the data folder's audit records once the search is done
AUDIENCE_FROM_MS = 7200


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory, engine: Any) -> Iterator[dict[str, Any]]:
    """Index both portraits, then run StartFaceSearch / GetFaceSearch through the application object."""
    from regard.service.app import Regard

    data = tmp_path_factory.mktemp("hamilton") / "data"
    regard = Regard.open(data, engine=engine, buckets={"videos": DATA})
    try:
        regard.invoke("CreateCollection", {"CollectionId": "hamilton"}, CTX)
        for path, name in ((LIN, "lin-manuel-miranda"), (ALEX, "alex-lacamoire")):
            indexed = regard.invoke(
                "IndexFaces",
                {"CollectionId": "hamilton", "Image": {"Bytes": path.read_bytes()}, "ExternalImageId": name},
                CTX,
            )
            assert len(indexed["FaceRecords"]) == 1
        video = {"S3Object": {"Bucket": "videos", "Name": CLIP.name}}
        asked = RequestContext(access_key=CTX.access_key, client="test", purpose=PURPOSE)
        params = {"Video": video, "CollectionId": "hamilton"}
        job_id = regard.invoke("StartFaceSearch", params, asked)["JobId"]
        deadline = time.monotonic() + 300
        while True:
            got = regard.invoke("GetFaceSearch", {"JobId": job_id}, CTX)
            if got["JobStatus"] != "IN_PROGRESS" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        AUDIT[:] = list(regard.store.iter_audit())
        yield got
    finally:
        regard.close()


def test_the_search_is_audited_with_the_video_hash_matches_and_purpose(searched: dict[str, Any]) -> None:
    import hashlib

    video_sha256 = hashlib.sha256(CLIP.read_bytes()).hexdigest()
    (start,) = [r.entry.details for r in AUDIT if r.entry.operation == "StartFaceSearch"]
    (done,) = [r.entry.details for r in AUDIT if r.entry.operation == "FaceSearchJobFinished"]
    assert start["probe_sha256"] == done["probe_sha256"] == video_sha256
    assert start["purpose"] == done["purpose"] == PURPOSE
    found = {m["Face"]["FaceId"] for p in searched["Persons"] for m in p["FaceMatches"]}
    assert {m["face_id"] for m in done["matches"]} == found and len(found) == 2
    assert all(80 <= m["similarity"] <= 100 for m in done["matches"])


def appearances(persons: list[dict[str, Any]]) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for item in persons:
        for match in item["FaceMatches"]:
            seen.setdefault(match["Face"]["ExternalImageId"], []).append(item["Timestamp"])
    return seen


def test_job_succeeds_with_metadata(searched: dict[str, Any]) -> None:
    assert searched["JobStatus"] == "SUCCEEDED", searched.get("StatusMessage")
    meta = searched["VideoMetadata"]
    assert (meta["FrameWidth"], meta["FrameHeight"], meta["Codec"]) == (640, 360, "h264")
    assert searched["Persons"], "faces were detected"


def test_both_people_are_found_when_they_are_on_screen(searched: dict[str, Any]) -> None:
    seen = appearances(searched["Persons"])
    assert set(seen) == {"lin-manuel-miranda", "alex-lacamoire"}
    lin, alex = seen["lin-manuel-miranda"], seen["alex-lacamoire"]
    assert all(ts < AUDIENCE_FROM_MS for ts in lin)
    assert any(3000 <= ts <= 7000 for ts in lin), "Miranda close up, 2.8-7.1 s"
    assert sum(1 for ts in lin if 2800 <= ts <= 7100) >= 15  # most of his close-up (22 samples at 5 fps)
    assert all(ts <= 2700 for ts in alex), "Lacamoire is only in the first 2.7 s"


def test_no_audience_face_is_matched(searched: dict[str, Any]) -> None:
    audience = [p for p in searched["Persons"] if p["Timestamp"] >= AUDIENCE_FROM_MS]
    assert len({p["Person"]["Index"] for p in audience}) >= 3, "the audience faces are detected"
    assert all(p["FaceMatches"] == [] for p in audience)
    # and one person index is never matched to both people
    names: dict[int, set[str]] = {}
    for p in searched["Persons"]:
        for match in p["FaceMatches"]:
            names.setdefault(p["Person"]["Index"], set()).add(match["Face"]["ExternalImageId"])
    assert all(len(n) == 1 for n in names.values())


def test_person_entries_are_well_formed(searched: dict[str, Any]) -> None:
    stamps = [p["Timestamp"] for p in searched["Persons"]]
    assert stamps == sorted(stamps)
    for item in searched["Persons"]:
        person = item["Person"]
        assert isinstance(person["Index"], int) and person["Index"] >= 0
        box = person["BoundingBox"]
        assert 0 < box["Width"] <= 1 and 0 < box["Height"] <= 1
        assert {"BoundingBox", "Confidence", "Pose", "Quality", "Landmarks"} <= set(person["Face"])
        for match in item["FaceMatches"]:
            assert 80 <= match["Similarity"] <= 100
            assert {"FaceId", "ImageId", "BoundingBox", "Confidence"} <= set(match["Face"])


def test_cli_is_registered() -> None:
    from regard.adapters.cli import main

    assert "regard.adapters.cli.video" in main.COMMAND_MODULES


def test_cli_search_and_detect(tmp_path: Path) -> None:
    from regard.adapters.cli.collections import collections, index
    from regard.adapters.cli.video import video as cli_video

    runner = CliRunner()
    data = ["--data", str(tmp_path / "data")]
    result = runner.invoke(collections, ["create", "hamilton", *data])
    assert result.exit_code == 0, result.output
    result = runner.invoke(index, ["hamilton", str(LIN), str(ALEX), *data])
    assert result.exit_code == 0, result.output
    out = tmp_path / "search.json"
    sheet = tmp_path / "sheet.png"
    annotated = tmp_path / "annotated.mp4"
    result = runner.invoke(
        cli_video,
        ["search", "hamilton", str(CLIP), "--fps", "5", "--json", str(out),
         "--contact-sheet", str(sheet), "--annotate", str(annotated), *data],
    )
    assert result.exit_code == 0, result.output
    assert "Who appears when" in result.output
    assert "lin-manuel-miranda" in result.output and "alex-lacamoire" in result.output
    body = json.loads(out.read_text())
    assert body["JobStatus"] == "SUCCEEDED" and "NextToken" not in body
    names = {name.removesuffix(".png") for name in appearances(body["Persons"])}  # the CLI keeps the suffix
    assert names == {"lin-manuel-miranda", "alex-lacamoire"}
    assert sheet.stat().st_size > 1000
    import av

    with av.open(str(annotated)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
    assert decoded == 275
    detect_json = tmp_path / "d.json"
    command = ["detect", str(CLIP), "--fps", "2", "--json", str(detect_json), *data]
    result = runner.invoke(cli_video, command)
    assert result.exit_code == 0, result.output
    assert "Face track" in result.output
    faces = json.loads(detect_json.read_text())["Faces"]
    assert len({f["Timestamp"] for f in faces}) >= 15


def test_cli_reports_a_failed_job(tmp_path: Path, not_video: Path) -> None:
    from regard.adapters.cli.video import video as cli_video

    result = CliRunner().invoke(cli_video, ["detect", str(not_video), "--data", str(tmp_path / "data")])
    assert result.exit_code == 1
    assert "FAILED" in result.output and "not a video" in result.output
