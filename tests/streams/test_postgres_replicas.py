"""Two servers (Regard objects) sharing one PostgreSQL database: a stream processor runs on exactly one.

The replica that runs it holds the lease ``stream:<name>``; the other neither starts nor resumes it, a Stop
on the other stops the thread where it runs, and when the running replica shuts down the other adopts it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from regard.service.app import Regard
from regard.service.context import RequestContext

from .feeds import CLIP, LIN, read_jsonl, wait_for
from .test_service import params

ADMIN = RequestContext(access_key="AKIASTREAMADMIN00001", client="test")
LEASE = 6.0  # seconds: renewed every 2 s, long enough for a loaded CI machine


def _replica(tmp_path: Path, name: str, engine: Any, pg_url: str) -> tuple[Regard, Path]:
    events = tmp_path / f"{name}.jsonl"
    regard = Regard.open(tmp_path / name, engine=engine, database=pg_url)
    regard.attach_stream_processors(
        {"file": str(CLIP)}, {"out": str(events)}, analysis_fps=2.0, lease_seconds=LEASE
    )
    return regard, events


def _holder(regard: Regard, name: str) -> str | None:
    with regard.store._pool.connection() as c:  # type: ignore[attr-defined]
        row = c.execute(
            "SELECT owner FROM leases WHERE name = %s AND lease_until > extract(epoch FROM now())",
            (f"stream:{name}",),
        ).fetchone()
    return None if row is None else str(row[0])


def _status(regard: Regard, name: str) -> str:
    return str(regard.invoke("DescribeStreamProcessor", {"Name": name}, ADMIN)["Status"])


def test_a_stream_processor_runs_on_exactly_one_replica(tmp_path: Path, engine: Any, pg_url: str) -> None:
    a, a_events = _replica(tmp_path, "a", engine, pg_url)
    b, b_events = _replica(tmp_path, "b", engine, pg_url)
    pa, pb = a._stream_processors, b._stream_processors
    try:
        a.invoke("CreateCollection", {"CollectionId": "hamilton"}, ADMIN)
        a.invoke(
            "IndexFaces",
            {"CollectionId": "hamilton", "Image": {"Bytes": LIN.read_bytes()}, "ExternalImageId": "lin"},
            ADMIN,
        )
        b.invoke("CreateStreamProcessor", params("door"), ADMIN)
        a.invoke("StartStreamProcessor", {"Name": "door"}, ADMIN)
        assert _holder(a, "door") == a.store.owner  # type: ignore[attr-defined]
        assert pb.resume() == [] and pb.runner("door") is None  # b sees it should run, but a holds it
        wait_for(lambda: read_jsonl(a_events), 90, "records written by replica a")
        pb.keep_once()  # b's keeper round: nothing to adopt while a renews its lease
        assert pb.runner("door") is None and not b_events.exists()
        assert _holder(a, "door") == a.store.owner  # type: ignore[attr-defined]

        # Stopped through b: a's keeper sees it and stops its thread; the lease is released.
        b.invoke("StopStreamProcessor", {"Name": "door"}, ADMIN)
        wait_for(lambda: pa.runner("door") is None, 30, "a's thread to end after the Stop on b")
        assert _status(a, "door") == "STOPPED" and _holder(a, "door") is None

        # Started again on a, then a shuts down: b's keeper adopts it (desired state RUNNING).
        a.invoke("StartStreamProcessor", {"Name": "door"}, ADMIN)
        wait_for(lambda: _status(a, "door") == "RUNNING", 60, "RUNNING on a")
        a.close()
        wait_for(lambda: pb.runner("door") is not None, 30, "b to adopt the processor")
        assert _holder(b, "door") == b.store.owner  # type: ignore[attr-defined]
        wait_for(lambda: read_jsonl(b_events), 90, "records written by replica b")
        assert _status(b, "door") == "RUNNING"
    finally:
        a.close()
        b.close()
