"""Work a long-running server repeats in the background (retention sweeps, audit anchors).

One daemon thread per job: run the task, wait ``interval`` seconds, again, until stopped. A failing run is
logged and retried at the next interval; it never ends the thread or the server.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class PeriodicWorker:
    """Runs ``task`` at once and then every ``interval`` seconds, in a daemon thread, until ``stop()``."""

    def __init__(
        self, name: str, interval: float, task: Callable[[], None], *, join_timeout: float = 10.0
    ) -> None:
        self._name = name
        self._interval = interval
        self._task = task
        self._join_timeout = join_timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"regard-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._join_timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._task()
            except Exception:
                log.exception("%s failed; it will run again", self._name)
            self._stop.wait(self._interval)
