"""Load benchmark of ``regard serve`` over loopback, from another process, with real boto3 clients.

    .venv/bin/python bench/bench_server.py [--seconds 15] [--rss-requests 10000]

Starts a server on a free port with a temporary data folder, indexes a few faces, then measures requests
per second and p50/p99 latency for DetectFaces and SearchFacesByImage at 1, 4 and 16 concurrent clients
(every request must succeed), then sends ``--rss-requests`` DetectFaces on a small image while sampling the
server's resident memory. Results go to bench/results/server.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config
from machine import describe

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "tests" / "data" / "aws"
SMALL = (IMAGES / "obama-240p.jpg").read_bytes()  # 426x240
KEY_ID, SECRET = "AKIABENCHMARK0000001", "bench-secret-0123456789abcdefghijklmnopq"
CONCURRENCY = (1, 4, 16)


@dataclass
class Run:
    operation: str
    clients: int
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def start_server(tmp: Path, workers: int, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """``regard serve`` with ``--data tmp/data`` (and ``extra`` options), once /health answers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGARD_", "AWS_"))}
    env.update(REGARD_ACCESS_KEY_ID=KEY_ID, REGARD_SECRET_ACCESS_KEY=SECRET)
    log = (tmp / "server.log").open("wb")
    cmd = [sys.executable, "-c", "from regard.adapters.cli.main import cli; cli()", "serve", "--port", "0"]
    cmd += ["--data", str(tmp / "data"), "--workers", str(workers), "--queue", "64", *extra]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = ""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited:\n{(tmp / 'server.log').read_text()[-3000:]}")
        if not url:
            for line in (tmp / "server.log").read_text().splitlines():
                if '"listening"' in line:
                    url = json.loads(line)["url"]
        else:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    return proc, url
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    proc.kill()
    sys.exit("server not ready")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def client(url: str, pool: int) -> Any:
    cfg = Config(retries={"mode": "standard", "max_attempts": 1}, max_pool_connections=pool, read_timeout=120)
    return boto3.client(
        "rekognition",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        config=cfg,
    )


def load(
    call: Callable[[], Any], clients: int, *, seconds: float | None = None, total: int | None = None
) -> Run:
    """``clients`` threads calling ``call`` until ``seconds`` pass or ``total`` requests are done."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    started = time.perf_counter()
    issued = [0]

    def worker() -> None:
        while True:
            with lock:
                if total is not None and issued[0] >= total:
                    return
                issued[0] += 1
            if seconds is not None and time.perf_counter() - started > seconds:
                return
            t0 = time.perf_counter()
            try:
                call()
            except Exception as error:  # counted, and shown once
                with lock:
                    errors[0] += 1
                    if errors[0] == 1:
                        print(f"  error: {error!r}", file=sys.stderr)
            with lock:
                latencies.append((time.perf_counter() - t0) * 1000)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Run("", clients, len(latencies), errors[0], time.perf_counter() - started, latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="per operation and concurrency")
    parser.add_argument("--rss-requests", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "server.md")
    args = parser.parse_args()
    began = time.time()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        proc, url = start_server(tmp, args.workers)
        try:
            setup = client(url, 4)
            setup.create_collection(CollectionId="bench")
            gallery = [IMAGES / n for n in ("obama2.jpg", "biden.jpg")]
            gallery += sorted((ROOT / "tests" / "data" / "galleries").rglob("*.jpg"))[:30]
            for path in gallery:
                setup.index_faces(CollectionId="bench", Image={"Bytes": path.read_bytes()}, MaxFaces=1)
            faces = setup.describe_collection(CollectionId="bench")["FaceCount"]
            print(f"server at {url}; collection 'bench' holds {faces} faces", file=sys.stderr)

            runs: list[Run] = []
            shared = client(url, 32)  # botocore clients are thread-safe; one connection per thread
            operations: dict[str, Callable[[], Any]] = {
                "DetectFaces": lambda: shared.detect_faces(Image={"Bytes": SMALL}),
                "SearchFacesByImage": lambda: shared.search_faces_by_image(
                    CollectionId="bench", Image={"Bytes": SMALL}, MaxFaces=5
                ),
            }
            for name, call in operations.items():
                load(call, 2, total=10)  # warm connections and caches
                for clients in CONCURRENCY:
                    run = load(call, clients, seconds=args.seconds)
                    run.operation = name
                    runs.append(run)
                    print(
                        f"{name:20s} c={clients:2d} {run.rps:7.1f} req/s p50 {run.pct(0.5):7.1f} ms "
                        f"p99 {run.pct(0.99):7.1f} ms errors {run.errors}",
                        file=sys.stderr,
                    )

            samples: list[tuple[int, int]] = [(0, rss_kib(proc.pid))]
            done = [0]
            stop = threading.Event()

            def sampler() -> None:
                while not stop.wait(1.0):
                    samples.append((done[0], rss_kib(proc.pid)))

            def detect() -> None:
                shared.detect_faces(Image={"Bytes": SMALL})
                done[0] += 1

            watcher = threading.Thread(target=sampler)
            watcher.start()
            rss_run = load(detect, 4, total=args.rss_requests)
            stop.set()
            watcher.join()
            samples.append((rss_run.requests, rss_kib(proc.pid)))
            print(f"RSS run: {rss_run.requests} requests in {rss_run.seconds:.0f} s", file=sys.stderr)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)

    write_report(args, runs, rss_run, samples, faces, time.time() - began)


def write_report(
    args: argparse.Namespace,
    runs: list[Run],
    rss_run: Run,
    samples: list[tuple[int, int]],
    faces: int,
    elapsed: float,
) -> None:
    after_warm = [kib for n, kib in samples if n >= 1000] or [samples[-1][1]]
    lines = [
        "# `regard serve` under load (loopback, boto3 clients in another process)",
        "",
        f"Command: `.venv/bin/python bench/bench_server.py --seconds {args.seconds:g} "
        f"--rss-requests {args.rss_requests}` ({elapsed / 60:.1f} min in all).",
        describe(),
        f"Server: `--workers {args.workers}` (model threads), queue 64; image for both operations: "
        f"`tests/data/aws/obama-240p.jpg` (426x240, one face); SearchFacesByImage against {faces} faces.",
        "Load generator: one thread per client, each request signed (SigV4) by botocore, no retries; "
        f"{args.seconds:g} s per row.",
        "",
        "| operation | clients | requests | errors | req/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r.operation} | {r.clients} | {r.requests} | {r.errors} | {r.rps:.1f} | "
            f"{r.pct(0.5):.1f} | {r.pct(0.99):.1f} |"
        )
    first, last = after_warm[0], after_warm[-1]
    lines += [
        "",
        f"## Memory over {rss_run.requests} DetectFaces (4 clients)",
        "",
        f"{rss_run.requests} requests, {rss_run.errors} errors, {rss_run.seconds:.0f} s "
        f"({rss_run.rps:.1f} req/s, p50 {rss_run.pct(0.5):.1f} ms, p99 {rss_run.pct(0.99):.1f} ms).",
        f"Server RSS: {samples[0][1] / 1024:.0f} MiB before, {first / 1024:.0f} MiB after the first 1,000 "
        f"requests, {last / 1024:.0f} MiB at the end (max {max(k for _, k in samples) / 1024:.0f} MiB; "
        f"change after warm-up {(last - first) / 1024:+.1f} MiB).",
        "",
        "| requests done | RSS MiB |",
        "|---:|---:|",
    ]
    step = max(1, len(samples) // 12)
    for n, kib in [*samples[::step], samples[-1]]:
        lines.append(f"| {n} | {kib / 1024:.0f} |")
    total_errors = sum(r.errors for r in runs) + rss_run.errors
    lines += ["", f"Errors in all runs: {total_errors}.", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}", file=sys.stderr)
    if total_errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
