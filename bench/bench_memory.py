"""Resident memory of ``regard serve`` under varied and damaged images, from a separate client process.

    .venv/bin/python bench/bench_memory.py [--requests 2000] [--every 50] [--warmup 100] [--short]

Starts a server on a free port with a temporary data folder, indexes one face, then sends DetectFaces and
SearchFacesByImage (3:1) with images drawn from tests/data and ../shared/data, each rescaled to a random
size (so nearly every request has a new input shape), and one request in five damaged (bytes flipped,
truncated, or a header byte changed). The server's RSS is read from /proc every ``--every`` requests. The
curve goes to bench/results/memory.md, memory.json and memory.png; growth is measured from the end of
``--warmup`` requests. ``--short`` is a 300-request smoke run written to memory-short.* instead.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench_server import client, rss_kib, start_server
from machine import describe, load_average
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
MAX_BYTES = 5 * 1024 * 1024


def shared_data() -> Path | None:
    """``../shared/data`` beside the repository (CI), or two levels up (a worktree)."""
    for base in (ROOT.parent, ROOT.parent.parent):
        if (base / "shared" / "data").is_dir():
            return base / "shared" / "data"
    return None


def image_paths() -> list[Path]:
    roots = [ROOT / "tests" / "data"]
    shared = shared_data()
    if shared is not None:
        roots.append(shared)
    found = [
        p
        for root in roots
        for p in sorted(root.rglob("*"))
        if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.stat().st_size <= MAX_BYTES
    ]
    return found


def varied(paths: list[Path], count: int, rng: random.Random) -> list[tuple[str, bytes]]:
    """``count`` request images: random photo, random size (80 px to 2000 px long side), 1 in 5 damaged."""
    out: list[tuple[str, bytes]] = []
    while len(out) < count:
        path = rng.choice(paths)
        try:
            with Image.open(path) as opened:
                image = opened.convert("RGB")
        except Exception:
            continue
        long_side = rng.randint(80, 2000)
        scale = long_side / max(image.size)
        size = (max(80, round(image.width * scale)), max(80, round(image.height * scale)))
        buf = io.BytesIO()
        fmt = "PNG" if rng.random() < 0.2 else "JPEG"
        image.resize(size).save(
            buf, format=fmt, **({"quality": rng.randint(60, 95)} if fmt == "JPEG" else {})
        )
        data = buf.getvalue()
        if len(data) > MAX_BYTES:
            continue
        kind = "ok"
        if rng.random() < 0.2:
            data, kind = damage(data, rng)
        out.append((kind, data))
    return out


def damage(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    how = rng.choice(("flip", "truncate", "header"))
    b = bytearray(data)
    if how == "flip":
        for _ in range(rng.randint(1, 50)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif how == "truncate":
        del b[rng.randint(16, max(17, len(b) - 1)) :]
    else:
        b[rng.randrange(min(64, len(b)))] = rng.randrange(256)
    return bytes(b), how


def _stop(signum: int, frame: Any) -> None:
    sys.exit(f"stopped by signal {signum}")  # unwinds through main's finally: the server is stopped too


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--pool", type=int, default=400, help="distinct request images made up front")
    parser.add_argument("--short", action="store_true", help="300 requests, written to memory-short.*")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    if args.short:
        args.requests, args.every, args.warmup, args.pool = 300, 25, 50, 150
    name = "memory-short" if args.short else "memory"
    rng = random.Random(args.seed)
    paths = image_paths()
    print(f"{len(paths)} source images; making {args.pool} request images", file=sys.stderr)
    pool = varied(paths, args.pool, rng)
    load_before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp), workers=2)
        try:
            rek = client(url, args.clients)
            rek.create_collection(CollectionId="memory")
            rek.index_faces(
                CollectionId="memory", Image={"Bytes": (ROOT / "tests/data/aws/obama2.jpg").read_bytes()}
            )

            def progress(samples: list[tuple[int, float]], outcomes: dict[str, int], seconds: float) -> None:
                write(name, samples, outcomes, seconds, args, len(paths), load_before)

            samples, outcomes, seconds = run(rek, proc.pid, pool, args, progress)
        finally:
            proc.terminate()
            proc.wait(60)
    write(name, samples, outcomes, seconds, args, len(paths), load_before)


def run(
    rek: Any, pid: int, pool: list[tuple[str, bytes]], args: argparse.Namespace, progress: Any
) -> tuple[list[tuple[int, float]], dict[str, int], float]:
    """Send the requests; every 8 samples after warm-up, the results so far are written (kept if cut)."""
    lock = threading.Lock()
    done = [0]
    outcomes: dict[str, int] = {}
    samples: list[tuple[int, float]] = [(0, rss_kib(pid) / 1024)]
    order = random.Random(args.seed + 1)
    plan = [(order.choice(pool), order.random() < 0.25) for _ in range(args.requests)]
    issued = [0]
    started = time.perf_counter()

    def worker() -> None:
        while True:
            with lock:
                if issued[0] >= len(plan):
                    return
                (_kind, data), search = plan[issued[0]]
                issued[0] += 1
            try:
                if search:
                    rek.search_faces_by_image(CollectionId="memory", Image={"Bytes": data})
                else:
                    rek.detect_faces(Image={"Bytes": data})
                outcome = "200"
            except Exception as error:  # botocore ClientError: a typed Rekognition error is expected
                response = getattr(error, "response", None)
                outcome = response["Error"]["Code"] if response else type(error).__name__
            with lock:
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
                done[0] += 1
                if done[0] % args.every == 0:
                    samples.append((done[0], rss_kib(pid) / 1024))
                    print(f"  {done[0]:5d} requests  RSS {samples[-1][1]:7.1f} MiB", file=sys.stderr)
                    if done[0] > args.warmup and len(samples) % 8 == 0:
                        progress(samples, outcomes, time.perf_counter() - started)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return samples, outcomes, time.perf_counter() - started


def write(
    name: str,
    samples: list[tuple[int, float]],
    outcomes: dict[str, int],
    seconds: float,
    args: argparse.Namespace,
    sources: int,
    load_before: str,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    completed = samples[-1][0]
    at_warmup = next(rss for n, rss in samples if n >= args.warmup)
    final = samples[-1][1]
    half = next(rss for n, rss in samples if n >= completed // 2)
    peak = max(rss for n, rss in samples if n >= args.warmup)
    summary = {
        "requests": completed,
        "requests_planned": args.requests,
        "clients": args.clients,
        "seconds": round(seconds, 1),
        "source_images": sources,
        "request_images": args.pool,
        "rss_mib_after_warmup": round(at_warmup, 1),
        "rss_mib_peak_after_warmup": round(peak, 1),
        "rss_mib_final": round(final, 1),
        "growth_mib_after_warmup": round(final - at_warmup, 1),
        "growth_mib_second_half": round(final - half, 1),
        "outcomes": dict(sorted(outcomes.items())),
        "machine": describe(load_before),
        "samples": [[n, round(r, 1)] for n, r in samples],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(summary, indent=1) + "\n")
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot([n for n, _ in samples], [r for _, r in samples], marker=".")
    ax.axvline(args.warmup, color="grey", linestyle=":", label="end of warm-up")
    ax.axhline(at_warmup + 64, color="red", linestyle="--", label="warm-up RSS + 64 MiB")
    ax.set_xlabel("requests")
    ax.set_ylabel("server RSS (MiB)")
    ax.set_title("regard serve: resident memory under varied and damaged images")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(RESULTS / f"{name}.png", dpi=100)
    rows = "\n".join(f"| {n} | {r:.1f} |" for n, r in samples)
    text = f"""# Server memory under varied images

`.venv/bin/python bench/bench_memory.py{" --short" if args.short else f" --requests {args.requests}"}`

{completed} requests{"" if completed >= args.requests else f" (of {args.requests} planned; cut short)"} from
{args.clients} client threads in a separate process (boto3, loopback):
DetectFaces and SearchFacesByImage (3:1), images from {sources} photos in tests/data and ../shared/data, each
rescaled to a random size (long side 80-2000 px, JPEG or PNG) and one in five damaged (flipped bytes,
truncation, a changed header byte). {seconds:.0f} s in all.

| | MiB |
|---|---|
| RSS after {args.warmup} warm-up requests | {at_warmup:.1f} |
| peak RSS after warm-up | {peak:.1f} |
| RSS at the end | {final:.1f} |
| **growth after warm-up** | **{final - at_warmup:+.1f}** (limit +64) |
| growth over the second half | {final - half:+.1f} |

Answers: {", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))}.

![RSS curve]({name}.png)

{summary["machine"]}

| requests | RSS (MiB) |
|---|---|
{rows}
"""
    (RESULTS / f"{name}.md").write_text(text)
    plt.close(fig)
    if completed >= args.requests:
        print(json.dumps({k: v for k, v in summary.items() if k != "samples"}, indent=1))


if __name__ == "__main__":
    main()
