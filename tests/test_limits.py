"""Rate limit per client key, concurrency per provider, and which upstream failures are retried after how long."""

import unittest
from unittest import mock

from pigw.errors import GatewayError
from pigw.gateway import retry_delay
from pigw.limits import ProviderSlots, RateLimiter


class RateLimits(unittest.TestCase):
    def test_bucket_allows_a_burst_then_says_when(self) -> None:
        clock = [100.0]
        with mock.patch("pigw.limits.time.monotonic", lambda: clock[0]):
            limiter = RateLimiter(per_minute=3)
            for _ in range(3):
                limiter.check("k1")
            with self.assertRaises(GatewayError) as caught:
                limiter.check("k1")
            self.assertEqual((caught.exception.status, caught.exception.headers["Retry-After"]), (429, "20"))
            self.assertEqual(caught.exception.type, "rate_limit_error")
            limiter.check("k2")  # keys are separate
            clock[0] += 20.0
            limiter.check("k1")
            with self.assertRaises(GatewayError):
                limiter.check("k1")


class Slots(unittest.TestCase):
    def test_limit_per_provider_released_when_the_answer_ends(self) -> None:
        slots = ProviderSlots({"anthropic": 1, "*": 2})
        self.assertTrue(slots.acquire("anthropic"))
        with self.assertRaises(GatewayError) as caught:
            slots.acquire("anthropic")
        self.assertEqual((caught.exception.status, caught.exception.headers["Retry-After"]), (429, "1"))
        events = slots.release_after("anthropic", iter([1, 2]))
        self.assertEqual(list(events), [1, 2])
        self.assertTrue(slots.acquire("anthropic"))
        closed = slots.release_after("anthropic", iter([1, 2]))
        next(closed)
        closed.close()
        self.assertTrue(slots.acquire("groq"))
        self.assertTrue(slots.acquire("groq"))
        with self.assertRaises(GatewayError):
            slots.acquire("groq")
        self.assertFalse(ProviderSlots({}).acquire("groq"))


class Retries(unittest.TestCase):
    def error(self, status, code=None, retry_after=None):
        error = GatewayError(status, "x", "api_error", code)
        if retry_after is not None:
            error.headers["Retry-After"] = retry_after
        return error

    def test_what_is_retried(self) -> None:
        with mock.patch("pigw.gateway.random.random", lambda: 0.0):
            self.assertEqual(retry_delay(self.error(503), 0), 0.5)
            self.assertEqual(retry_delay(self.error(429), 2), 2.0)
            self.assertEqual(retry_delay(self.error(502, "upstream_unreachable"), 10), 8.0)
            self.assertEqual(retry_delay(self.error(408), 0), 0.5)
        self.assertEqual(retry_delay(self.error(429, retry_after="3"), 0), 3.0)
        self.assertIsNone(retry_delay(self.error(429, retry_after="11"), 0))
        self.assertIsNone(retry_delay(self.error(400), 0))
        self.assertIsNone(retry_delay(self.error(401), 0))
        self.assertIsNone(retry_delay(self.error(504, "upstream_timeout"), 0))
        self.assertIsNone(retry_delay(self.error(501), 0))
        with mock.patch("pigw.gateway.time.time", lambda: 1700000000.0):
            self.assertEqual(retry_delay(self.error(503, retry_after="Tue, 14 Nov 2023 22:13:25 GMT"), 0), 5.0)


if __name__ == "__main__":
    unittest.main()
