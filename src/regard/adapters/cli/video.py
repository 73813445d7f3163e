"""``regard video search`` and ``regard video detect``: who (or which faces) appear when in a video file.

The commands run the same job code as the server's StartFaceSearch / StartFaceDetection, in this
process (no server needed): the job is recorded in the data folder with its audit records, a progress
bar follows it, and the result pages are read back with GetFaceSearch / GetFaceDetection. The timeline
names each person by the UserId of the best-matching face, else its ExternalImageId, else its FaceId.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from regard.adapters.cli.common import cli_context, reported_errors
from regard.adapters.cli.options import data_option, purpose_option
from regard.vision.video import DEFAULT_SAMPLE_FPS, MAX_SAMPLE_FPS

console = Console(stderr=True)
LOCAL_BUCKET = "local"  # the CLI's stand-in bucket: the file named on the command line, as it is


@click.group("video")
def video() -> None:
    """Find faces, and known people, in stored video files."""


_fps_option = click.option(
    "--fps",
    type=click.FloatRange(min=0.1, max=MAX_SAMPLE_FPS),
    default=DEFAULT_SAMPLE_FPS,
    show_default=True,
    help="Frames analysed per second of video.",
)
_json_option = click.option(
    "--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the response JSON."
)
_annotate_option = click.option(
    "--annotate", type=click.Path(dir_okay=False, path_type=Path), help="Write a copy of the video, boxed."
)
_sheet_option = click.option(
    "--contact-sheet",
    "contact_sheet",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write one image with a face crop per person.",
)
_video_argument = click.argument(
    "video_path", metavar="VIDEO", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)


@video.command("search")
@click.argument("collection_id")
@_video_argument
@_fps_option
@click.option("--threshold", type=click.FloatRange(0, 100), default=80.0, show_default=True,
              help="FaceMatchThreshold: lowest similarity that counts as a match.")
@_json_option
@_annotate_option
@_sheet_option
@purpose_option
@data_option
def search(
    collection_id: str,
    video_path: Path,
    fps: float,
    threshold: float,
    json_out: Path | None,
    annotate: Path | None,
    contact_sheet: Path | None,
    purpose: str | None,
    data_dir: Path,
) -> None:
    """Search VIDEO for the people of COLLECTION_ID; print a timeline of who appears when."""
    params = {
        "CollectionId": collection_id,
        "FaceMatchThreshold": threshold,
        "Video": _video_param(video_path),
    }
    with reported_errors(), _jobs(data_dir) as jobs:
        ctx = cli_context(purpose)
        job_id = jobs.start_face_search(params, ctx, sample_fps=fps)["JobId"]
        _follow(jobs, job_id, video_path.name)
        response = _all_pages(jobs.get_face_search, job_id, "Persons")
    _fail_if_failed(response)
    persons = response.get("Persons", [])
    rows = search_timeline(persons, step_ms=1000.0 / fps)
    _print_search(rows, persons, response)
    _write_json(json_out, response)
    labels = {index: row.label for row in rows for index in row.indexes}
    boxes = [
        (item["Timestamp"], item["Person"]["BoundingBox"], labels.get(item["Person"]["Index"]),
         item["Person"]["Index"])
        for item in persons
    ]
    _write_visuals(video_path, boxes, fps, annotate, contact_sheet)


@video.command("detect")
@_video_argument
@_fps_option
@_json_option
@_annotate_option
@_sheet_option
@data_option
def detect(
    video_path: Path,
    fps: float,
    json_out: Path | None,
    annotate: Path | None,
    contact_sheet: Path | None,
    data_dir: Path,
) -> None:
    """Detect the faces in VIDEO; print a timeline of the faces followed across frames."""
    with reported_errors(), _jobs(data_dir) as jobs:
        params = {"Video": _video_param(video_path)}
        job_id = jobs.start_face_detection(params, cli_context(), sample_fps=fps)["JobId"]
        _follow(jobs, job_id, video_path.name)
        response = _all_pages(jobs.get_face_detection, job_id, "Faces")
    _fail_if_failed(response)
    faces = response.get("Faces", [])
    tracks = detection_tracks(faces, response.get("VideoMetadata", {}), step_ms=1000.0 / fps)
    table = Table(title=f"Faces in {video_path.name}")
    for column in ("Face track", "First seen", "Last seen", "On screen", "Best confidence"):
        table.add_column(column)
    for number, track in enumerate(tracks):
        table.add_row(
            str(number), _clock(track.first_ms), _clock(track.last_ms), _duration(track.seconds),
            f"{track.best_confidence:.1f}",
        )
    Console().print(table)
    Console().print(
        f"{len(faces)} face detections in {len(_timestamps(faces))} sampled frames; "
        f"{len(tracks)} face tracks."
    )
    _write_json(json_out, response)
    boxes = [(ts, box, None, number) for number, track in enumerate(tracks) for ts, box in track.boxes]
    _write_visuals(video_path, boxes, fps, annotate, contact_sheet)


COMMANDS = [video]


# --- running the job ---------------------------------------------------------------------------------
class _jobs:
    """VideoJobs over the data folder, run in this process; no jobs of a server are resumed here."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def __enter__(self) -> Any:
        from regard.adapters.cli.options import database_url
        from regard.service.app import Regard
        from regard.service.video_jobs import VideoJobs
        from regard.store import open_store

        database = database_url()
        if database is None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        self.regard = Regard(open_store(self.data_dir, database=database), data_dir=self.data_dir)
        self.jobs = VideoJobs(self.regard.store, lambda: self.regard.engine, _resolve_local)
        return self.jobs

    def __exit__(self, *exc: object) -> None:
        self.jobs.shutdown()
        try:
            # A job of this command that is still running was interrupted (Ctrl-C): it cannot be resumed by a
            # server (its "local" bucket exists only here), so it is closed now with the reason.
            for job_id in self.jobs.started:
                job = self.jobs.store.get_job(job_id)
                if job is not None and job.status == "IN_PROGRESS":
                    self.jobs.store.update_job(
                        job_id, status="FAILED", status_message="Interrupted: the command was stopped."
                    )
        finally:
            self.regard.close()


def _resolve_local(s3: dict[str, Any]) -> Path:
    from regard.errors import InvalidS3ObjectException

    path = Path(s3.get("Name", ""))
    if s3.get("Bucket") != LOCAL_BUCKET or not path.is_file():
        raise InvalidS3ObjectException(f"Cannot read the video file {path}.")
    return path


def _video_param(path: Path) -> dict[str, Any]:
    return {"S3Object": {"Bucket": LOCAL_BUCKET, "Name": str(path.resolve())}}


def _follow(jobs: Any, job_id: str, name: str) -> None:
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(f"Analysing {name}", total=1.0)
        while True:
            job = jobs.store.get_job(job_id)
            if job is None or job.status != "IN_PROGRESS":
                break
            fraction = jobs.progress(job_id)
            if fraction is not None:
                bar.update(task, completed=fraction)
            time.sleep(0.1)
        bar.update(task, completed=1.0)


def _all_pages(get: Any, job_id: str, key: str) -> dict[str, Any]:
    response: dict[str, Any] = {}
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"JobId": job_id}
        if token:
            params["NextToken"] = token
        page = get(params, cli_context())
        items.extend(page.get(key, []))
        response = page
        token = page.get("NextToken")
        if not token:
            break
    response.pop("NextToken", None)
    if response.get("JobStatus") == "SUCCEEDED":
        response[key] = items
    return response


def _fail_if_failed(response: dict[str, Any]) -> None:
    if response.get("JobStatus") != "SUCCEEDED":
        message = response.get("StatusMessage", "no reason given")
        console.print(f"[red]Job {response.get('JobId')} {response.get('JobStatus')}: {message}[/red]")
        raise SystemExit(1)


def _write_json(path: Path | None, response: dict[str, Any]) -> None:
    if path is not None:
        path.write_text(json.dumps(response, indent=2))
        console.print(f"Wrote {path}")


# --- timelines ---------------------------------------------------------------------------------------
@dataclass
class TimelineRow:
    """One named person (or one unmatched Person Index) and when they are on screen."""

    label: str
    matched: bool
    indexes: set[int] = field(default_factory=set)
    timestamps: list[int] = field(default_factory=list)
    best_similarity: float = 0.0

    @property
    def first_ms(self) -> int:
        return min(self.timestamps)

    @property
    def last_ms(self) -> int:
        return max(self.timestamps)

    def seconds(self, step_ms: float) -> float:
        return on_screen_seconds(self.timestamps, step_ms)


def on_screen_seconds(timestamps: Iterable[int], step_ms: float) -> float:
    """Time on screen: each sampled sighting counts for one sampling interval, overlaps counted once."""
    total = 0.0
    end = -math.inf
    for ts in sorted(set(timestamps)):
        start = max(ts, end)
        end = ts + step_ms
        total += end - start
    return total / 1000.0


def _label(match: dict[str, Any]) -> str:
    face = match["Face"]
    return str(face.get("UserId") or face.get("ExternalImageId") or face["FaceId"])


def search_timeline(persons: list[dict[str, Any]], *, step_ms: float) -> list[TimelineRow]:
    """Rows per name (best match of each Person Index), then one row per unmatched Person Index."""
    rows: dict[str, TimelineRow] = {}
    for item in persons:
        index = item["Person"]["Index"]
        matches = item.get("FaceMatches") or []
        if matches:
            best = max(matches, key=lambda m: m["Similarity"])
            key, label, matched = "m:" + _label(best), _label(best), True
            similarity = float(best["Similarity"])
        else:
            key, label, matched, similarity = f"u:{index}", f"person {index} (no match)", False, 0.0
        row = rows.setdefault(key, TimelineRow(label=label, matched=matched))
        row.indexes.add(index)
        row.timestamps.append(item["Timestamp"])
        row.best_similarity = max(row.best_similarity, similarity)
    return sorted(rows.values(), key=lambda r: (not r.matched, r.first_ms))


@dataclass
class DetectionTrack:
    boxes: list[tuple[int, dict[str, float]]]
    best_confidence: float
    step_ms: float

    @property
    def first_ms(self) -> int:
        return self.boxes[0][0]

    @property
    def last_ms(self) -> int:
        return self.boxes[-1][0]

    @property
    def seconds(self) -> float:
        return on_screen_seconds((ts for ts, _ in self.boxes), self.step_ms)


def detection_tracks(
    faces: list[dict[str, Any]], metadata: dict[str, Any], *, step_ms: float
) -> list[DetectionTrack]:
    """Follow GetFaceDetection's boxes across frames (geometry only) to summarise them as tracks."""
    import numpy as np

    from regard.vision.face import Face, Pose, Quality
    from regard.vision.tracking import Tracker

    width = float(metadata.get("FrameWidth") or 1)
    height = float(metadata.get("FrameHeight") or 1)
    tracker = Tracker(max_gap_ms=int(max(2 * step_ms, 500)))
    boxes: dict[int, dict[str, float]] = {}
    confidences: dict[int, float] = {}
    for ts in _timestamps(faces):
        frame_faces = []
        for item in (f for f in faces if f["Timestamp"] == ts):
            b = item["Face"]["BoundingBox"]
            box = np.array([b["Left"] * width, b["Top"] * height, (b["Left"] + b["Width"]) * width,
                            (b["Top"] + b["Height"]) * height], dtype=np.float32)
            face = Face(box=box, score=float(item["Face"].get("Confidence", 100.0)) / 100.0,
                        keypoints=np.zeros((5, 2), np.float32), pose=Pose(0.0, 0.0, 0.0),
                        quality=Quality(50.0, 50.0))
            boxes[id(face)] = b
            confidences[id(face)] = float(item["Face"].get("Confidence", 0.0))
            frame_faces.append(face)
        tracker.update(ts, frame_faces)  # embedding requests are ignored: geometry only
    result = []
    for track in tracker.finish():
        result.append(
            DetectionTrack(
                boxes=[(pt.timestamp_ms, boxes[id(pt.face)]) for pt in track.points],
                best_confidence=max(confidences[id(pt.face)] for pt in track.points),
                step_ms=step_ms,
            )
        )
    return result


def _timestamps(faces: list[dict[str, Any]]) -> list[int]:
    return sorted({f["Timestamp"] for f in faces})


def _print_search(rows: list[TimelineRow], persons: list[dict[str, Any]], response: dict[str, Any]) -> None:
    step = None
    table = Table(title="Who appears when")
    table.add_column("Who", no_wrap=True, min_width=12)
    for column in ("First seen", "Last seen", "On screen", "Similarity", "Person indexes"):
        table.add_column(column)
    matched = [r for r in rows if r.matched]
    unmatched = [r for r in rows if not r.matched]
    step = _step(persons)
    for row in matched:
        table.add_row(row.label, _clock(row.first_ms), _clock(row.last_ms), _duration(row.seconds(step)),
                      f"{row.best_similarity:.1f}", ", ".join(map(str, sorted(row.indexes))))
    out = Console()
    out.print(table)
    if not matched:
        out.print("Nobody in the collection was found in the video.")
    meta = response.get("VideoMetadata", {})
    out.print(
        f"{len(matched)} known people; {len(unmatched)} other people seen and not matched. "
        f"Video: {meta.get('DurationMillis', 0) / 1000:.1f} s, "
        f"{meta.get('FrameWidth')}x{meta.get('FrameHeight')}."
    )


def _step(persons: list[dict[str, Any]]) -> float:
    stamps = sorted({p["Timestamp"] for p in persons})
    gaps = [b - a for a, b in itertools.pairwise(stamps) if b > a]
    return float(min(gaps)) if gaps else 200.0


def _clock(ms: int) -> str:
    seconds = ms / 1000.0
    return f"{int(seconds // 60)}:{seconds % 60:06.3f}"


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s"


# --- annotated video and contact sheet ---------------------------------------------------------------
Box = tuple[int, dict[str, float], str | None, int]  # (timestamp ms, BoundingBox, label, person/track number)


def _colour(number: int) -> tuple[int, int, int]:
    hue = (number * 47) % 180
    import cv2
    import numpy as np

    bgr = cv2.cvtColor(np.uint8([[[hue, 200, 255]]]), cv2.COLOR_HSV2BGR)[0, 0]  # type: ignore[call-overload]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])


def _write_visuals(
    video_path: Path, boxes: list[Box], fps: float, annotate: Path | None, contact_sheet: Path | None
) -> None:
    if annotate is not None:
        write_annotated_video(video_path, boxes, annotate, hold_ms=1000.0 / fps)
        console.print(f"Wrote {annotate}")
    if contact_sheet is not None:
        write_contact_sheet(video_path, boxes, contact_sheet)
        console.print(f"Wrote {contact_sheet}")


def write_annotated_video(video_path: Path, boxes: list[Box], out: Path, *, hold_ms: float) -> None:
    """Re-encode the video (H.264) with each sampled box drawn until the next sample."""
    import av
    import cv2

    by_time: dict[int, list[Box]] = {}
    for box in boxes:
        by_time.setdefault(box[0], []).append(box)
    stamps = sorted(by_time)
    with av.open(str(video_path)) as source, av.open(str(out), mode="w") as target:
        stream = source.streams.video[0]
        rate = stream.average_rate or 25
        encoder = target.add_stream("libx264", rate=rate)
        encoder.width = stream.codec_context.width // 2 * 2
        encoder.height = stream.codec_context.height // 2 * 2
        encoder.pix_fmt = "yuv420p"
        encoder.options = {"preset": "veryfast", "crf": "23"}
        start = stream.start_time or 0
        position = 0
        current: list[Box] = []
        current_ts = -math.inf
        for frame in source.decode(stream):
            ms = float((frame.pts - start) * stream.time_base) * 1000.0 if frame.pts is not None else 0.0
            while position < len(stamps) and stamps[position] <= ms + 0.5:
                current_ts = stamps[position]
                current = by_time[current_ts]
                position += 1
            pixels = frame.to_ndarray(format="bgr24")
            if ms - current_ts <= hold_ms * 1.5:
                h, w = pixels.shape[:2]
                for _, b, label, number in current:
                    x1, y1 = int(b["Left"] * w), int(b["Top"] * h)
                    x2, y2 = int((b["Left"] + b["Width"]) * w), int((b["Top"] + b["Height"]) * h)
                    colour = _colour(number) if label else (160, 160, 160)
                    cv2.rectangle(pixels, (x1, y1), (x2, y2), colour, 2)
                    text = label or f"#{number}"
                    cv2.putText(pixels, text, (x1, max(y1 - 6, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1,
                                cv2.LINE_AA)
            out_frame = av.VideoFrame.from_ndarray(
                pixels[: encoder.height, : encoder.width], format="bgr24"
            )
            for packet in encoder.encode(out_frame):
                target.mux(packet)
        for packet in encoder.encode():
            target.mux(packet)


def write_contact_sheet(
    video_path: Path, boxes: list[Box], out: Path, *, tile: int = 160, columns: int = 6
) -> None:
    """One tile per person (or face track): the largest view of the face, with its label."""
    import numpy as np

    from regard.vision.video import VideoReader

    best: dict[tuple[str | None, int], Box] = {}
    for box in boxes:
        key = (box[2], box[3] if box[2] is None else -1)  # named people once; others per index
        b = box[1]
        if key not in best or b["Width"] * b["Height"] > best[key][1]["Width"] * best[key][1]["Height"]:
            best[key] = box
    wanted = sorted(best.values(), key=lambda box: (box[2] is None, box[0]))
    crops: dict[int, np.ndarray] = {}
    needed = {box[0] for box in wanted}
    with VideoReader(video_path) as reader:
        # Timestamps come from the same sampling grid when fps matches; take the nearest frame otherwise.
        frames = sorted(needed)
        pending = list(frames)
        for frame in reader.frames(60.0):
            while pending and frame.timestamp_ms >= pending[0] - 10:
                crops[pending.pop(0)] = frame.pixels
            if not pending:
                break
    from regard.adapters.cli.sheets import face_tile, write_sheet

    tiles = []
    for ts, b, label, number in wanted:
        pixels = crops.get(ts)
        if pixels is not None:
            tiles.append(face_tile(pixels, b, f"{(label or f'#{number}')[:19]} {ts / 1000:.1f}s", tile=tile))
    write_sheet([tiles[i : i + columns] for i in range(0, len(tiles), columns)], out)
