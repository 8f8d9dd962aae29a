"""Limits a gateway owner may set: requests per minute per client key, and requests in flight per provider.

Both answer 429 with ``Retry-After`` instead of queueing, so a burst never piles up threads.
"""

import math
import threading
import time
from typing import Dict, Iterator, Tuple

from pigw.core import Event
from pigw.errors import GatewayError


class RateLimiter:
    """A token bucket per client key: ``per_minute`` requests a minute, bursts up to the same number."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: Dict[str, Tuple[float, float]] = {}  # key -> (tokens, last refill time)
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        """Take one request from key's bucket, or raise 429 saying when the next one is allowed."""
        now = time.monotonic()
        rate = self.per_minute / 60.0
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / rate)
                raise _too_many("Rate limit of %d requests a minute reached." % self.per_minute, wait)
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > 10000:
                self._forget_full(now, rate)

    def _forget_full(self, now: float, rate: float) -> None:
        for key, (tokens, last) in list(self._buckets.items()):
            if tokens + (now - last) * rate >= self.per_minute:
                del self._buckets[key]


class ProviderSlots:
    """At most a set number of requests in flight per provider (``"*"``: every provider not named)."""

    def __init__(self, limits: Dict[str, int]) -> None:
        self._limits = dict(limits)
        self._in_flight: Dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, provider: str) -> bool:
        """Take a slot, or raise 429; False when the provider has no limit (nothing to release)."""
        limit = self._limits.get(provider, self._limits.get("*"))
        if limit is None:
            return False
        with self._lock:
            busy = self._in_flight.get(provider, 0)
            if busy >= limit:
                raise _too_many("Provider `%s` already has %d requests in flight (its limit)." % (provider, limit), 1)
            self._in_flight[provider] = busy + 1
        return True

    def release(self, provider: str) -> None:
        with self._lock:
            self._in_flight[provider] -= 1

    def release_after(self, provider: str, events: Iterator[Event]) -> Iterator[Event]:
        """The same events; the slot is given back when they end or are closed."""
        try:
            yield from events
        finally:
            self.release(provider)


def _too_many(message: str, retry_after: int) -> GatewayError:
    error = GatewayError(429, message, "rate_limit_error", "rate_limit_exceeded")
    error.headers["Retry-After"] = str(max(1, retry_after))
    return error
