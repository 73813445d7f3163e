"""Per-key request rates and the back-off for repeated bad signatures from one address.

Both live in the adapter because both are about the wire: a key's rate is counted only after its signature
checks out (so nobody can spend another key's budget), and a client address that keeps sending bad
signatures is refused for a window that doubles with each failure (capped) and is forgotten on a success.
State is in memory, one process, bounded: the least recently seen entries are dropped past ``max_entries``.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from regard.errors import ThrottlingException

MAX_ENTRIES = 10_000


class KeyRateExceededException(ThrottlingException):
    """A key sent more requests per second than its limit; the wire name stays ``ThrottlingException``.

    HTTP 400, not the 500 of an overloaded server: the caller is over its own budget, and SDKs retry it
    with back-off either way (botocore classes ``ThrottlingException`` as throttling whatever the status).
    """

    status: ClassVar[int] = 400

    @property
    def code(self) -> str:
        return "ThrottlingException"


class BadSignatureBackoffException(KeyRateExceededException):
    """This address sent too many requests with bad signatures lately; it must wait before trying again."""


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class KeyRateLimiter:
    """A token bucket per access key: ``rate`` requests per second, bursts up to ``max(1, rate)``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_entries: int = MAX_ENTRIES) -> None:
        self._clock = clock
        self._max = max_entries
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, access_key: str, rate: float | None) -> None:
        """Spend one token of ``access_key``, or raise; ``rate`` None means no limit."""
        if rate is None:
            return
        burst = max(1.0, rate)
        now = self._clock()
        bucket = self._buckets.pop(access_key, None) or _Bucket(burst, now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        self._buckets[access_key] = bucket  # most recently used last
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        if bucket.tokens < 1.0:
            wait = (1.0 - bucket.tokens) / rate
            raise KeyRateExceededException(
                f"Rate exceeded: this access key may send {rate:g} requests per second; "
                f"retry in {wait:.2f} s."
            )
        bucket.tokens -= 1.0


@dataclass
class _Strikes:
    count: int
    until: float  # refused before this time
    last: float


class SignatureBackoff:
    """Refuse an address for ``base * 2**(n - free - 1)`` s (at most ``cap``) after its n-th bad signature.

    The first ``free`` failures cost nothing (a mistyped secret, a clock fix); a success clears the record,
    and so does a quiet spell of ``2 * cap`` seconds.
    """

    def __init__(
        self,
        *,
        free: int = 5,
        base: float = 1.0,
        cap: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.free, self.base, self.cap = free, base, cap
        self._clock = clock
        self._max = max_entries
        self._strikes: OrderedDict[str, _Strikes] = OrderedDict()

    def check(self, address: str) -> None:
        """Raise while ``address`` is inside its refusal window."""
        strikes = self._strikes.get(address)
        if strikes is None:
            return
        now = self._clock()
        if now - strikes.last > 2 * self.cap:
            del self._strikes[address]
            return
        if now < strikes.until:
            raise BadSignatureBackoffException(
                f"Too many requests with an invalid signature from this address; "
                f"retry in {math.ceil(strikes.until - now):d} s."
            )

    def failed(self, address: str) -> None:
        now = self._clock()
        strikes = self._strikes.pop(address, None) or _Strikes(0, now, now)
        strikes.count += 1
        strikes.last = now
        over = strikes.count - self.free
        if over > 0:
            strikes.until = now + min(self.cap, self.base * 2.0 ** min(over - 1, 32))
        self._strikes[address] = strikes
        while len(self._strikes) > self._max:
            self._strikes.popitem(last=False)

    def succeeded(self, address: str) -> None:
        self._strikes.pop(address, None)

    def __len__(self) -> int:
        return len(self._strikes)
