"""How the server writes a stream: frames held until the upstream reader would wait, then one write."""

import unittest

from pigw.api import FLUSH, Reply
from pigw.core import Cancel
from pigw.net.http import before_wait
from pigw.server import Handler

HEAD = b"HTTP/1.1 200 OK\r\nServer: pigw/t\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


class Client:
    """Stands in for the handler's connection: records each write, or fails from a given write on."""

    close_connection = False
    command = "POST"
    server_version = "pigw/t"

    def __init__(self, fail_from: int = 99) -> None:
        self.writes = []
        self.fail_from = fail_from
        self.wfile = self

    def write(self, data: bytes) -> None:
        if len(self.writes) >= self.fail_from:
            raise BrokenPipeError("gone")
        self.writes.append(data)


def upstream(log):
    """Frames as a provider would produce them: two from one upstream read, then a wait, then one more."""
    try:
        yield b"a"
        yield b"b"
        before_wait.get()()
        log.append("read")
        yield b"c"
    finally:
        log.append("closed")


def silent_then(log):
    """An upstream that waits before its first frame, and ends right after its last."""
    try:
        before_wait.get()()
        yield b"a"
        yield b"b"
    finally:
        log.append("closed")


class StreamWrites(unittest.TestCase):
    def test_the_head_goes_out_before_a_wait_and_nothing_empty_is_framed(self) -> None:
        client, log = Client(), []
        Handler._write(client, Reply(200, {"Content-Type": "text/event-stream"}, chunks=silent_then(log)), None)
        self.assertEqual(client.writes, [HEAD, b"2\r\nab\r\n0\r\n\r\n"])
        client = Client()
        Handler._write(client, Reply(200, {"Content-Type": "text/event-stream"}, chunks=iter(())), None)
        self.assertEqual(client.writes, [HEAD + b"0\r\n\r\n"])

    def test_frames_of_one_read_go_out_in_one_write_with_the_head(self) -> None:
        """... and as one HTTP chunk (SSE frames need no chunk of their own)."""
        client, log = Client(), []
        Handler._write(client, Reply(200, {"Content-Type": "text/event-stream"}, chunks=upstream(log)), None)
        self.assertEqual(client.writes, [HEAD + b"2\r\nab\r\n", b"1\r\nc\r\n0\r\n\r\n"])
        self.assertEqual(log, ["read", "closed"])
        self.assertIsNone(before_wait.get())

    def test_a_flush_writes_what_is_held_at_once(self) -> None:
        client = Client()
        chunks = iter([b"role", b"first", FLUSH, FLUSH, b"second", b"third"])
        Handler._write(client, Reply(200, {"Content-Type": "text/event-stream"}, chunks=chunks), None)
        self.assertEqual(client.writes, [HEAD + b"9\r\nrolefirst\r\n", b"b\r\nsecondthird\r\n0\r\n\r\n"])

    def test_a_failed_write_stops_the_upstream_at_once(self) -> None:
        client, log = Client(fail_from=0), []
        chunks = upstream(log)
        with self.assertRaises(ConnectionAbortedError):
            Handler._write(client, Reply(200, {"Content-Type": "text/event-stream"}, chunks=chunks), None)
        self.assertEqual(client.writes, [])
        self.assertEqual(log, ["closed"])  # the reader never read on
        self.assertIsNone(before_wait.get())

    def test_says_whether_the_client_left_before_the_end(self) -> None:
        """Only a client gone before the stream's end counts (a 499 in the log), not one closing after it."""
        for cancelled_during, expected in ((False, False), (True, True)):
            client = Client()
            watch = type("Watch", (), {"write": client.write, "keepalive": None})()
            watch.cancel = Cancel()

            def frames(cancel, during):
                yield b"a"
                if during:
                    cancel.cancel()

            reply = Reply(200, {"Content-Type": "text/event-stream"}, chunks=frames(watch.cancel, cancelled_during))
            with self.subTest(cancelled_during=cancelled_during):
                self.assertIs(Handler._write(client, reply, watch), expected)
                watch.cancel.cancel()  # after the end: changes nothing already written
                self.assertEqual(client.writes[-1][-5:], b"0\r\n\r\n")

    def test_non_stream_reply_is_one_write(self) -> None:
        client = Client()
        Handler._write(client, Reply(200, {"Content-Type": "application/json"}, b"{}"), None)
        self.assertEqual(
            client.writes,
            [b"HTTP/1.1 200 OK\r\nServer: pigw/t\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"],
        )


if __name__ == "__main__":
    unittest.main()
