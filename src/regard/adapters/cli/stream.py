"""``regard stream watch``: name known people on a camera or feed, live in the terminal.

The same live loop as the server's stream processors (``vision.live`` and the record builder of
``service.stream_processors``), run in this process over a data folder: try a webcam or camera URL
before writing any code. Text mode prints a line when a face appears and when it is named; ``--json``
prints Rekognition's face-search record of every analysed frame with faces, one per line. Matches are
audited in batches, as the server's are.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from regard.adapters.cli.common import cli_context, reported_errors
from regard.adapters.cli.options import data_option


@click.group("stream")
def stream() -> None:
    """Live video: name known people on a camera, a broadcast or any feed FFmpeg opens."""


@stream.command("watch")
@click.argument("collection_id", metavar="COLLECTION")
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="Print one face-search record (JSON) per line.")
@click.option(
    "--threshold",
    type=click.FloatRange(0, 100),
    default=80.0,
    show_default=True,
    help="Lowest similarity that names someone (as FaceMatchThreshold, at least 80).",
)
@click.option(
    "--fps",
    type=click.FloatRange(min=0.5, max=60),
    default=10.0,
    show_default=True,
    help="Most frames analysed per second; the newest frame is always the one analysed.",
)
@click.option(
    "--duration", type=click.FloatRange(min=0.1), default=None, help="Stop after this many seconds."
)
@data_option
def watch(
    collection_id: str,
    url: str,
    as_json: bool,
    threshold: float,
    fps: float,
    duration: float | None,
    data_dir: Path,
) -> None:
    """Print who appears on URL (rtsp://, udp://, rtp://, srt://, http(s)://, /dev/videoN or a file) live.

    Known people are the faces of COLLECTION. Stop with Ctrl-C or --duration.
    """
    from regard.service.app import Regard
    from regard.service.common import require_same_model
    from regard.service.stream_processors import MIN_THRESHOLD, face_search_record, searcher
    from regard.vision.live import LiveFaceSearch, LiveSource

    with reported_errors():
        regard = Regard.open(data_dir)
        try:
            require_same_model(regard, regard.store.get_collection(collection_id))
            ctx = cli_context()
            threshold = max(threshold, MIN_THRESHOLD)
            stream_arn = f"arn:aws:kinesisvideo:{regard.region}:{regard.account}:stream/watch/0"
            audit = _Audit(regard, collection_id, ctx)

            def state(what: str, message: str | None) -> None:
                if not as_json:
                    click.echo(f"[{what}]" + (f" {message}" if message else ""), err=True)

            source = LiveSource(url, on_state=state)
            printer = _Printer(as_json, stream_arn, face_search_record)

            def emit(result: Any) -> None:
                printer(result)
                audit.add(result)

            loop = LiveFaceSearch(source, regard.engine, searcher(regard, collection_id, threshold), emit,
                                  max_fps=fps)  # fmt: skip
            until = None if duration is None else time.monotonic() + duration
            source.start()
            try:
                loop.run(until=until)
            except KeyboardInterrupt:
                pass
            finally:
                source.stop()
                audit.flush()
            stats = source.stats
            click.echo(
                f"frames decoded {stats.decoded}, analysed {stats.analysed}, dropped {stats.dropped}, "
                f"reconnects {stats.reconnects}",
                err=True,
            )
            if source.failure is not None:
                raise click.ClickException(source.failure)
        finally:
            regard.close()


class _Printer:
    """Text: one line when a face appears and when its name changes; JSON: every record."""

    def __init__(self, as_json: bool, stream_arn: str, build: Any) -> None:
        self.as_json = as_json
        self.stream_arn = stream_arn
        self.build = build
        self.named: dict[int, str] = {}
        self.started = time.monotonic()

    def __call__(self, result: Any) -> None:
        if self.as_json:
            click.echo(json.dumps(self.build(self.stream_arn, result), separators=(",", ":")))
            return
        from regard.adapters.cli.video import _label
        from regard.service.common import face_to_wire

        for live in result.faces:
            best = (live.matches or [None])[0]
            name = "unknown face" if best is None else _label({"Face": face_to_wire(best[0])})
            if self.named.get(live.track_id) == name:
                continue
            self.named[live.track_id] = name
            when = time.strftime("%H:%M:%S", time.localtime(result.frame.received_at))
            similarity = "" if best is None else f"  {best[1]:.1f}%"
            click.echo(f"{when}  face {live.track_id}: {name}{similarity}")


class _Audit:
    """Batched audit records of the matches seen, every AUDIT_INTERVAL seconds and at the end."""

    def __init__(self, regard: Any, collection_id: str, ctx: Any) -> None:
        from regard.service.stream_processors import AUDIT_INTERVAL, MatchBatch

        self.regard = regard
        self.collection_id = collection_id
        self.ctx = ctx
        self.interval = AUDIT_INTERVAL
        self.new_batch = MatchBatch
        self.batch = MatchBatch()

    def add(self, result: Any) -> None:
        self.batch.add(result)
        if self.batch.due(self.interval):
            self.flush()

    def flush(self) -> None:
        batch, self.batch = self.batch, self.new_batch()
        if batch.best:
            details = {k: v for k, v in batch.details().items() if v is not None}
            self.regard.record(
                self.regard.audit_entry(self.ctx, "StreamWatchMatches", self.collection_id, **details)
            )


COMMANDS = [stream]
