"""After a delete: the steps that take a deleted template's bytes out of PostgreSQL's files.

A DELETE only marks row versions dead; their bytes stay in the collection's table pages, in its HNSW index
and in the WAL. Measured on PostgreSQL 18 + pgvector 0.8 (tests/store/test_postgres_erasure.py):

- ``VACUUM`` + ``CHECKPOINT``: pgvector's vacuum overwrites a deleted element's vector in the index, so the
  index file no longer holds it; the heap page's dead tuple is pruned but its bytes stay in the page's
  free space (PostgreSQL does not zero freed space) until reused.
- ``VACUUM FULL`` of the collection's partition rewrites its heap and index into new files; the old files
  are truncated at commit, so the heap copy is gone too. It locks that one collection while it runs.
- ``pg_switch_wal()`` + ``CHECKPOINT``, twice: the redo point moves past every WAL segment that recorded the
  face, and with ``wal_recycle = off`` those segments are deleted rather than renamed for reuse.

So each pass rewrites a touched collection with ``VACUUM FULL`` when it has at most ``rewrite_limit`` faces
and only ``VACUUM``s larger ones (whose heap copies then wait for ``regard db compact``); see
docs/data-layout.md for what none of this reaches (standbys, WAL archives, backups, freed disk blocks).

The steps run on a background thread, coalesced: a burst of deletes costs one pass. ``flush`` waits for it.
CHECKPOINT and pg_switch_wal need superuser or the pg_checkpoint role and EXECUTE on pg_switch_wal; without
them the VACUUMs still run and a warning names what was skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

REWRITE_LIMIT = 20_000  # faces; a VACUUM FULL of this many 512-d faces takes seconds, not minutes
WAL_STEPS = ("CHECKPOINT", "SELECT pg_switch_wal()", "CHECKPOINT", "SELECT pg_switch_wal()", "CHECKPOINT")


def run_steps(url: str, tables: Iterable[str], *, rewrite_limit: int = REWRITE_LIMIT) -> list[str]:
    """Vacuum (or rewrite) ``tables``, then flush and retire the WAL; returns the steps PostgreSQL refused."""
    refused: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        for table in sorted(set(tables)):
            if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() == (None,):
                continue  # the collection was deleted since: its files are gone with it
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
            full = row is not None and row[0] <= rewrite_limit
            verb = "VACUUM (FULL)" if full else "VACUUM (INDEX_CLEANUP ON)"
            try:
                conn.execute(sql.SQL(verb + " {}").format(sql.Identifier(table)))
            except psycopg.errors.UndefinedTable:
                continue
        conn.execute("VACUUM users")
        conn.execute("VACUUM face_clusters")  # a deleted face's cluster row links its ID to others
        for step in WAL_STEPS:
            try:
                conn.execute(step)
            except psycopg.errors.InsufficientPrivilege:
                refused.append(step)
    if refused:
        log.warning("erasure steps refused for lack of privilege: %s", ", ".join(sorted(set(refused))))
    return refused


class Eraser:
    """One thread that runs ``run_steps`` after deletes, at most one pass at a time."""

    def __init__(self, url: str, *, rewrite_limit: int = REWRITE_LIMIT) -> None:
        self._url = url
        self._rewrite_limit = rewrite_limit
        self._cond = threading.Condition()
        self._tables: set[str] = set()
        self._requested = 0  # deletes asked for
        self._done = 0  # deletes whose pass has finished
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="regard-pg-eraser", daemon=True)
        self._thread.start()

    def request(self, table: str | None) -> None:
        """Erase after a delete from ``table`` (None: a dropped collection, only the WAL steps)."""
        with self._cond:
            if table is not None:
                self._tables.add(table)
            self._requested += 1
            self._cond.notify_all()

    def flush(self, timeout: float = 120.0) -> None:
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
        self._thread.join(timeout=300)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._requested == self._done and not self._stop:
                    self._cond.wait()
                if self._requested == self._done and self._stop:
                    return
                target, tables = self._requested, self._tables
                self._tables = set()
            try:
                run_steps(self._url, tables, rewrite_limit=self._rewrite_limit)
            except Exception:  # the rows are deleted; the next delete's pass tries again
                log.exception("erasure steps failed")
                with self._cond:
                    self._tables |= tables
            with self._cond:
                self._done = target
                self._cond.notify_all()
