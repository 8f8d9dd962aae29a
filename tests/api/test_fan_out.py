"""n > 1: parallel starts, the first failure failing all, usage sums, interleaved frames and the wait hook."""

import threading
import unittest

from pigw.api import fan_out
from pigw.core import Context, Done, Options, Request, Start, Text, Usage, UserMessage
from pigw.errors import GatewayError
from pigw.net.http import before_wait


class Gateway:
    """Records each request it is asked to stream; fails the ones named in ``fail``."""

    def __init__(self, fail=()) -> None:
        self.seen = []
        self.fail = fail
        self.closed = []
        self.lock = threading.Lock()

    def stream(self, request):
        with self.lock:
            number = len(self.seen)
            self.seen.append(request)
        request.target = "target"
        request.dropped.append("store")
        request.options.extra.pop("drop-me", None)
        if number in self.fail:
            raise GatewayError(429, "slow down", "rate_limit_error")
        return self.events(number)

    def events(self, number):
        try:
            yield Start()
            yield Done("stop", Usage(input=number, output=10))
        finally:
            self.closed.append(number)


def request() -> Request:
    options = Options(max_tokens=5)
    options.extra = {"drop-me": 1, "keep": 2}
    return Request("m", Context(None, [UserMessage([Text("hi")])]), options)


class FanOut(unittest.TestCase):
    def test_copies_started_in_parallel_share_cancel_not_options(self) -> None:
        gateway, original = Gateway(), request()
        streams = fan_out.start(gateway, original, 3)
        self.assertEqual(len(gateway.seen), 3)
        self.assertEqual(len({id(copy.options) for copy in gateway.seen}), 3)
        self.assertTrue(all(copy.cancel is original.cancel for copy in gateway.seen))
        self.assertEqual(original.options.extra, {"drop-me": 1, "keep": 2})  # the client's request is untouched
        self.assertEqual((original.target, original.dropped), ("target", ["store"]))
        answers = fan_out.collect_all(streams)
        self.assertEqual(sorted(answer.usage.input for answer in answers), [0, 1, 2])
        usage = fan_out.total_usage([answer.usage for answer in answers] + [None])
        self.assertEqual((usage.input, usage.output), (3, 30))
        self.assertIsNone(fan_out.total_usage([None]))

    def test_one_failure_fails_all_and_closes_the_started_streams(self) -> None:
        gateway = Gateway(fail=(1,))
        with self.assertRaises(GatewayError) as caught:
            fan_out.start(gateway, request(), 3)
        self.assertEqual(caught.exception.status, 429)

    def test_interleave_flushes_before_it_waits(self) -> None:
        """The second frame comes only after a flush: a held first frame would deadlock (timeout) instead."""
        flushed = threading.Event()

        def upstream():
            yield b"a1"
            self.assertTrue(flushed.wait(5))
            yield b"a2"

        token = before_wait.set(flushed.set)
        try:
            frames = list(fan_out.interleave([upstream()], lambda frame: False))
        finally:
            before_wait.reset(token)
        self.assertEqual(frames, [b"a1", b"a2"])

    def test_interleave_keeps_each_choice_in_order_and_ends_at_an_error_frame(self) -> None:
        both = list(fan_out.interleave([iter([b"x"]), iter([b"y", b"z"])], lambda frame: False))
        self.assertEqual(sorted(both), [b"x", b"y", b"z"])
        self.assertLess(both.index(b"y"), both.index(b"z"))
        error = b'data: {"error":{}}'
        frames = list(fan_out.interleave([iter([error]), iter([])], lambda frame: frame.startswith(b'data: {"error"')))
        self.assertEqual(frames, [error])


if __name__ == "__main__":
    unittest.main()
