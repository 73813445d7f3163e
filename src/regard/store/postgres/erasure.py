"""After a delete: the steps that take a deleted template's bytes out of PostgreSQL's files.

A DELETE only marks row versions dead; their bytes stay in the table's pages, in the HNSW index and in
the WAL. ``VACUUM`` removes the dead rows from heap pages and pgvector's vacuum marks the index's elements
deleted and overwrites their vectors; ``CHECKPOINT`` writes the cleaned pages to the data files;
``pg_switch_wal()`` + ``CHECKPOINT`` (twice) moves the redo point past every WAL segment that recorded the
face, and with ``wal_recycle = off`` those segments are deleted rather than renamed for reuse. What each step
guarantees, and what it cannot (replicas, archives, backups), is in docs/data-layout.md; the erasure tests
scan the data directory to prove it.

The steps run on a background thread, coalesced: a burst of deletes costs one pass. ``flush`` waits for it.
CHECKPOINT and pg_switch_wal need superuser or the pg_checkpoint role and EXECUTE on pg_switch_wal; without
them the VACUUM still runs and a warning says what was skipped.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg

log = logging.getLogger(__name__)

STEPS = (
    "VACUUM (INDEX_CLEANUP ON) faces",
    "VACUUM (INDEX_CLEANUP ON) users",
    "CHECKPOINT",
    "SELECT pg_switch_wal()",
    "CHECKPOINT",
    "SELECT pg_switch_wal()",
    "CHECKPOINT",
)


def run_steps(url: str) -> list[str]:
    """Run every step now on a fresh autocommit connection; returns the ones PostgreSQL refused."""
    refused: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        for step in STEPS:
            try:
                conn.execute(step)
            except psycopg.errors.InsufficientPrivilege:
                refused.append(step)
    if refused:
        log.warning("erasure steps refused for lack of privilege: %s", ", ".join(sorted(set(refused))))
    return refused


class Eraser:
    """One thread that runs ``run_steps`` after deletes, at most one pass at a time."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._cond = threading.Condition()
        self._requested = 0  # deletes asked for
        self._done = 0  # deletes whose pass has finished
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="regard-pg-eraser", daemon=True)
        self._thread.start()

    def request(self) -> None:
        with self._cond:
            self._requested += 1
            self._cond.notify_all()

    def flush(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._requested
            while self._done < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("erasure steps did not finish in time")
                self._cond.wait(left)

    def close(self) -> None:
        """Finish the pending pass (a delete's erasure is not dropped at shutdown), then stop."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout=120)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._requested == self._done and not self._stop:
                    self._cond.wait()
                if self._requested == self._done and self._stop:
                    return
                target = self._requested
            try:
                run_steps(self._url)
            except Exception:  # the rows are deleted; a failed pass is retried with the next delete
                log.exception("erasure steps failed")
            with self._cond:
                self._done = target
                self._cond.notify_all()
