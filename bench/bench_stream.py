"""Live stream latency: from a known person's first frame to the face-search record naming him.

    .venv/bin/python bench/bench_stream.py [--seconds 45] [--streams 1 4] [--sizes 640x360 1920x1080]
                                           [--out bench/results/stream.md]

A real RTSP server (GStreamer's, tests/streams/rtsp_server.py, run with Debian's Python) serves the
committed Hamilton clip (25-30 fps) in real time to every client, from its start at each connection.
Lin-Manuel Miranda's close-up begins with a cut 2.736 s after the clip's first frame (before it he is
only a small figure on a far stage, below the threshold); his portrait is the only face indexed. For each
configuration, N processors run at once in this process on the server's pipeline (``vision.live`` with
the record builder of ``service.stream_processors``, a JSON-lines sink) and each connection that names
him gives one latency sample:

    latency = time the record naming him is written - time the close-up's first frame was decoded here

(the second term is the named frame's decode time minus its distance from the cut in the stream: the
feed is paced in real time). Connections where he was named before the cut (from the far shot) are
counted as `early`; their sample is still the first naming after the cut. The clip ends after 10 s,
the source drops and is reopened, which gives the next sample. Also reported: frames decoded, analysed
and dropped (replaced by a newer frame before the analysis took them), and the process CPU time over
wall time. The peer, in the same run on the same feed, is the same loop embedding every face on every
frame (no tracker): what tracking buys.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench_video import upscale  # noqa: E402
from tests.streams.feeds import CLIP, LIN, RtspServer  # noqa: E402

from regard.service.app import Regard  # noqa: E402
from regard.service.stream_processors import face_search_record, searcher  # noqa: E402
from regard.service.stream_sinks import JsonLinesSink  # noqa: E402
from regard.vision.live import LiveFaceSearch, LiveResult, LiveSource  # noqa: E402
from regard.vision.tracking import Tracker  # noqa: E402

APPEARS_AT = 2.736  # seconds after the clip's first frame: the cut to Miranda's close-up
NAME = "lin-manuel-miranda"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Probe:
    """One processor: writes records, and notes per connection when Miranda was first named."""

    def __init__(self, regard: Regard, url: str, sink: JsonLinesSink, *, embed_all: bool) -> None:
        self.source = LiveSource(url)
        self.sink = sink
        self.latencies: list[float] = []
        self.named_at: list[float] = []  # stream time of the frame that named him
        self.early = 0  # named from the far shot, before the close-up
        self._named_in: set[int] = set()
        self._early_in: set[int] = set()
        tracker = Tracker(embed_all=embed_all, embed_every_ms=2000)
        self.loop = LiveFaceSearch(
            self.source, regard.engine, searcher(regard, "hamilton", 80.0), self.emit, tracker=tracker
        )

    def emit(self, result: LiveResult) -> None:
        record = face_search_record("arn:aws:kinesisvideo:local:000000000000:stream/bench/0", result)
        self.sink.write(record)
        written = time.time()
        connection = self.source.stats.opens
        named = any(
            m["Face"].get("ExternalImageId") == NAME
            for face in record["FaceSearchResponse"]
            for m in face["MatchedFaces"]
        )
        if not named or connection in self._named_in:
            return
        frame = result.frame
        if frame.stream_seconds < APPEARS_AT:
            self._early_in.add(connection)  # the far shot: wait for the close-up's naming
            self.early = len(self._early_in)
            return
        self._named_in.add(connection)
        self.named_at.append(frame.stream_seconds)
        appeared = frame.received_at - (frame.stream_seconds - APPEARS_AT)
        self.latencies.append(written - appeared)


def run(regard: Regard, url: str, streams: int, seconds: float, embed_all: bool, tmp: Path) -> dict[str, Any]:
    sink = JsonLinesSink(tmp / f"records-{streams}-{int(embed_all)}.jsonl")
    probes = [Probe(regard, url, sink, embed_all=embed_all) for _ in range(streams)]
    cpu0, wall0 = cpu_seconds(), time.monotonic()
    until = wall0 + seconds
    threads = [threading.Thread(target=p.loop.run, kwargs={"until": until}) for p in probes]
    for probe in probes:
        probe.source.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for probe in probes:
        probe.source.stop()
    sink.close()
    wall = time.monotonic() - wall0
    latencies = sorted(x for p in probes for x in p.latencies)
    decoded = sum(p.source.stats.decoded for p in probes)
    analysed = sum(p.source.stats.analysed for p in probes)
    dropped = sum(p.source.stats.dropped for p in probes)
    return {
        "samples": len(latencies),
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p95": latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
        if latencies
        else float("nan"),
        "max": latencies[-1] if latencies else float("nan"),
        "named_at": statistics.median(x for p in probes for x in p.named_at) if latencies else float("nan"),
        "decoded": decoded,
        "analysed": analysed,
        "dropped": dropped,
        "analysed_fps": analysed / wall / streams,
        "cpu": (cpu_seconds() - cpu0) / wall,
        "embeddings": sum(p.loop.embeddings for p in probes),
        "early": sum(p.early for p in probes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=45.0, help="run time of each configuration")
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--sizes", nargs="+", default=["640x360", "1920x1080"])
    parser.add_argument("--no-peer", action="store_true", help="skip the embed-every-face baseline")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "stream.md")
    args = parser.parse_args()

    load_before = os.getloadavg()
    rows: list[tuple[str, int, str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        regard = Regard.open(tmp / "data")
        regard.invoke("CreateCollection", {"CollectionId": "hamilton"})
        regard.invoke(
            "IndexFaces",
            {"CollectionId": "hamilton", "Image": {"Bytes": LIN.read_bytes()}, "ExternalImageId": NAME},
        )
        for size in args.sizes:
            clip = CLIP
            if size != "640x360":
                width, height = (int(v) for v in size.split("x"))
                clip = tmp / f"clip-{size}.mp4"
                upscale(CLIP, clip, width, height)
            server = RtspServer("cam", clip).start()
            try:
                for streams in args.streams:
                    modes = [("tracker", False)] + (
                        [] if args.no_peer or streams > 1 else [("every face", True)]
                    )
                    for mode, embed_all in modes:
                        result = run(regard, server.url, streams, args.seconds, embed_all, tmp)
                        rows.append((size, streams, mode, result))
                        print(size, streams, mode, {k: round(v, 3) for k, v in result.items()}, flush=True)
            finally:
                server.kill()
        regard.close()
    load_after = os.getloadavg()
    write(args, rows, load_before, load_after)


def write(args: Any, rows: list[tuple[str, int, str, dict[str, Any]]], before: Any, after: Any) -> None:
    lines = [
        "# Live stream latency (stream processors)",
        "",
        f"Command: `.venv/bin/python bench/bench_stream.py --seconds {args.seconds:g} "
        f"--streams {' '.join(map(str, args.streams))} --sizes {' '.join(args.sizes)}`",
        "",
        f"Machine: {os.cpu_count()} cores, no GPU, {platform.python_implementation()} "
        f"{platform.python_version()}; load average (1, 5, 15 min) before "
        f"{before[0]:.2f}, {before[1]:.2f}, {before[2]:.2f}, "
        f"after {after[0]:.2f}, {after[1]:.2f}, {after[2]:.2f} "
        "(the machine was shared with other work).",
        "",
        "Feed: the Hamilton clip served in real time by GStreamer's RTSP server over loopback (TCP); "
        "each connection is one appearance of Lin-Manuel Miranda (a cut to his close-up 2.736 s after the "
        "clip's first frame). Latency: from the decoding of the close-up's first frame to the written "
        "record naming him (`early`: connections where he was named before the cut, from the far "
        "shot); `named at` is the median stream time of the frame that named "
        "him. Analysis capped at 10 "
        "frames per second per stream; the newest frame is always the one analysed.",
        "",
        "| size | streams | embedding | samples | p50 s | p95 s | max s | named at s | "
        "analysed fps/stream | decoded | dropped | CPU (cores) | embeddings | early |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size, streams, mode, r in rows:
        lines.append(
            f"| {size} | {streams} | {mode} | {r['samples']} | {r['p50']:.2f} | {r['p95']:.2f} | "
            f"{r['max']:.2f} | {r['named_at']:.2f} | {r['analysed_fps']:.1f} | {r['decoded']} | "
            f"{r['dropped']} | {r['cpu']:.2f} | {r['embeddings']} | {r['early']} |"
        )
    lines += [
        "",
        "`dropped` counts decoded frames replaced by a newer one before the analysis took them: the loop "
        "never queues frames, so a slow machine skips frames instead of falling behind.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(args.out.read_text())


if __name__ == "__main__":
    main()
