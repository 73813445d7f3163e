"""Console sign-in sessions, kept in the memory of the server process (a restart signs everyone out).

A session is a random ID (the HttpOnly cookie) bound to one access key and one CSRF token; the secret
itself is checked once at sign-in and never kept by the browser or here. Sessions end after ``idle``
seconds without use, after ``lifetime`` seconds in any case, at sign-out, or when their key is revoked.
Repeated wrong secrets for one key or from one address are slowed down, then refused for a while.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from regard.store.records import AccessKeyRecord

IDLE_SECONDS = 8 * 3600
LIFETIME_SECONDS = 12 * 3600
MAX_SESSIONS = 10_000
FAILURE_WINDOW = 15 * 60  # seconds a failed sign-in is remembered
FAILURES_BEFORE_LOCK = 5  # failures within the window before sign-in is refused outright
_DUMMY_SECRET = secrets.token_urlsafe(30)  # compared against when the key is unknown: same work either way


@dataclass
class Session:
    session_id: str
    csrf_token: str
    access_key: str
    scope: str
    created: float
    last_seen: float


def check_secret(record: AccessKeyRecord | None, secret: str) -> AccessKeyRecord | None:
    """The key if ``secret`` is its secret and it is not revoked; compared in constant time."""
    expected = record.secret_access_key if record is not None else _DUMMY_SECRET
    same = hmac.compare_digest(expected.encode(), secret.encode())
    if record is None or not same or record.revoked_at is not None:
        return None
    return record


@dataclass
class FailedSignIns:
    """Failed sign-ins per access key ID and per client address, forgotten after ``FAILURE_WINDOW``."""

    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, *subjects: str) -> int:
        now = self.clock()
        with self._lock:
            return max((len(self._recent(s, now)) for s in subjects), default=0)

    def add(self, *subjects: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) > MAX_SESSIONS:  # bounded memory under a flood of random IDs
                self._failures.clear()
            for subject in subjects:
                self._failures[subject] = [*self._recent(subject, now), now]

    def clear(self, *subjects: str) -> None:
        with self._lock:
            for subject in subjects:
                self._failures.pop(subject, None)

    def _recent(self, subject: str, now: float) -> list[float]:
        return [t for t in self._failures.get(subject, []) if now - t < FAILURE_WINDOW]


def delay_for(failures: int) -> float:
    """Seconds to wait before answering a sign-in after ``failures`` recent failures: 0, 0.25, 0.5, 1, 2."""
    return 0.0 if failures == 0 else min(0.25 * 2 ** (failures - 1), 2.0)


@dataclass
class Sessions:
    """Live sessions by ID; every lookup also ends the ones that are too old."""

    clock: Callable[[], float] = time.time
    idle: float = IDLE_SECONDS
    lifetime: float = LIFETIME_SECONDS
    _sessions: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, key: AccessKeyRecord) -> Session:
        now = self.clock()
        session = Session(
            session_id=secrets.token_urlsafe(32),
            csrf_token=secrets.token_urlsafe(32),
            access_key=key.access_key_id,
            scope=key.scope,
            created=now,
            last_seen=now,
        )
        with self._lock:
            self._expire(now)
            if len(self._sessions) >= MAX_SESSIONS:
                oldest = min(self._sessions.values(), key=lambda s: s.last_seen)
                del self._sessions[oldest.session_id]
            self._sessions[session.session_id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this ID (its idle clock restarted), or None."""
        if not session_id:
            return None
        now = self.clock()
        with self._lock:
            self._expire(now)
            session = self._sessions.get(session_id)
            if session is not None:
                session.last_seen = now
            return session

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def _expire(self, now: float) -> None:
        dead = [
            sid
            for sid, s in self._sessions.items()
            if now - s.last_seen > self.idle or now - s.created > self.lifetime
        ]
        for sid in dead:
            del self._sessions[sid]
