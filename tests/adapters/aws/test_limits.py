"""The token buckets and the bad-signature back-off on a controlled clock: rates, windows, memory bounds."""

from __future__ import annotations

import pytest

from regard.adapters.aws.limits import (
    BadSignatureBackoffException,
    KeyRateExceededException,
    KeyRateLimiter,
    SignatureBackoff,
)
from regard.adapters.aws.protocol import error_response


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_the_rate_with_a_burst_then_refills() -> None:
    clock = Clock()
    limiter = KeyRateLimiter(clock)
    for _ in range(5):
        limiter.take("k", 5.0)  # burst of 5
    with pytest.raises(KeyRateExceededException):
        limiter.take("k", 5.0)
    clock.now += 0.2  # one token back at 5/s
    limiter.take("k", 5.0)
    with pytest.raises(KeyRateExceededException):
        limiter.take("k", 5.0)
    limiter.take("other", 5.0)  # per key
    for _ in range(100):
        limiter.take("free", None)  # no limit


def test_slow_rates_have_a_burst_of_one() -> None:
    clock = Clock()
    limiter = KeyRateLimiter(clock)
    limiter.take("k", 0.5)
    with pytest.raises(KeyRateExceededException, match=r"retry in 2\.00 s"):
        limiter.take("k", 0.5)
    clock.now += 2.0
    limiter.take("k", 0.5)


def test_throttling_goes_out_as_rekognition_throttling_with_400() -> None:
    status, headers, body = error_response(KeyRateExceededException("slow down"), "rid")
    assert status == 400 and headers["X-Amzn-ErrorType"] == "ThrottlingException"
    assert b'"__type":"ThrottlingException"' in body


def test_backoff_doubles_up_to_the_cap_and_resets_on_success() -> None:
    clock = Clock()
    backoff = SignatureBackoff(free=2, base=1.0, cap=8.0, clock=clock)
    backoff.failed("a")
    backoff.failed("a")
    backoff.check("a")  # two free failures
    windows = []
    for _ in range(6):
        backoff.failed("a")
        start = clock.now
        with pytest.raises(BadSignatureBackoffException):
            backoff.check("a")
        while True:
            clock.now += 0.25
            try:
                backoff.check("a")
                break
            except BadSignatureBackoffException:
                pass
        windows.append(clock.now - start)
    assert windows == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    backoff.check("b")  # other addresses are not affected
    backoff.succeeded("a")
    backoff.failed("a")
    backoff.check("a")


def test_backoff_forgets_quiet_addresses_and_bounds_its_memory() -> None:
    clock = Clock()
    backoff = SignatureBackoff(free=0, base=1.0, cap=4.0, clock=clock, max_entries=100)
    for i in range(1000):
        backoff.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(backoff) == 100
    clock.now += 9.0  # over 2 * cap since the last failure
    backoff.check("10.0.3.231")
    assert len(backoff) == 99
    limiter = KeyRateLimiter(clock, max_entries=10)
    for i in range(50):
        limiter.take(f"k{i}", 1.0)
    assert len(limiter._buckets) == 10
