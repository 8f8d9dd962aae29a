"""The log: --log-bodies scrubbing, and the access log's header allowlist and bodies through a live server."""

import http.client
import io
import json
import shutil
import tempfile
import threading
import time
import unittest

from pigw import config as config_module
from pigw import gateway as gateway_module
from pigw.listener import listen
from pigw.log import BODY_CAP, Log, scrub_body
from pigw.server import Server

CANARY = "sk-canary-3f9a1c77e0"


class ScrubBody(unittest.TestCase):
    def test_secret_named_fields_and_known_secrets_are_hidden(self) -> None:
        raw = json.dumps(
            {
                "model": "m",
                "api_key": "anything",
                "extra": {"Authorization": "Bearer x", "refresh_token": "r", "tokens": 5, "note": "my key " + CANARY},
                "messages": [{"role": "user", "content": CANARY + " twice " + CANARY}],
            }
        ).encode()
        self.assertEqual(
            scrub_body(raw, [CANARY, None, ""]),
            {
                "model": "m",
                "api_key": "***",
                "extra": {"Authorization": "***", "refresh_token": "***", "tokens": 5, "note": "my key ***"},
                "messages": [{"role": "user", "content": "*** twice ***"}],
            },
        )

    def test_text_bodies_and_the_cap(self) -> None:
        self.assertEqual(scrub_body(b"data: " + CANARY.encode() + b"\n\n", [CANARY]), "data: ***\n\n")
        self.assertEqual(scrub_body(b"\xff\xfe", []), "\ufffd\ufffd")
        big = scrub_body(json.dumps({"text": "x" * (BODY_CAP + 10), "password": CANARY}).encode(), [])
        self.assertEqual(set(big), {"truncated", "start"})
        self.assertEqual(len(big["start"]), BODY_CAP)
        self.assertNotIn(CANARY, json.dumps(big))


class HeldLines(unittest.TestCase):
    """With hold_s, info lines go out together a little later; warnings and errors at once, in order."""

    def lines(self, stream: io.StringIO):
        return [(line["level"], line["event"]) for line in map(json.loads, stream.getvalue().splitlines())]

    def test_info_lines_are_held_then_written_together(self) -> None:
        stream = io.StringIO()
        writes = []
        original = stream.write
        stream.write = lambda text: writes.append(text) or original(text)  # type: ignore[method-assign]
        log = Log("info", stream, hold_s=0.1)
        log.info("request", n=1)
        log.info("request", n=2)
        log.debug("hidden")
        self.assertEqual(stream.getvalue(), "")
        deadline = time.monotonic() + 2.0
        while not stream.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(self.lines(stream), [("info", "request"), ("info", "request")])
        self.assertEqual(len(writes), 1)  # both lines in one write
        log.info("request", n=3)  # the writer thread serves every later window too
        deadline = time.monotonic() + 2.0
        while len(writes) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual([json.loads(line)["n"] for line in stream.getvalue().splitlines()], [1, 2, 3])

    def test_warnings_and_errors_go_out_at_once_after_what_was_held(self) -> None:
        stream = io.StringIO()
        log = Log("info", stream, hold_s=30)
        log.info("request")
        log.warn("slow")
        self.assertEqual(self.lines(stream), [("info", "request"), ("warn", "slow")])
        log.info("request")
        log.error("internal_error")
        log.info("request")
        self.assertEqual(len(self.lines(stream)), 4)
        log.flush()
        self.assertEqual(
            self.lines(stream),
            [
                ("info", "request"),
                ("warn", "slow"),
                ("info", "request"),
                ("error", "internal_error"),
                ("info", "request"),
            ],
        )
        log.flush()  # nothing held: nothing written
        self.assertEqual(len(self.lines(stream)), 5)

    def test_holding_a_line_does_not_wait_for_a_write_in_progress(self) -> None:
        stream = io.StringIO()
        writing, release = threading.Event(), threading.Event()
        original = stream.write

        def slow_write(text: str) -> int:
            writing.set()
            release.wait(5)
            return original(text)

        stream.write = slow_write  # type: ignore[method-assign]
        log = Log("info", stream, hold_s=0.01)
        log.info("request", n=1)
        self.assertTrue(writing.wait(2))  # the writer thread is inside a write now
        held = threading.Thread(target=log.info, args=("request",), kwargs={"n": 2})
        held.start()
        held.join(1)
        self.assertFalse(held.is_alive())
        release.set()
        deadline = time.monotonic() + 2.0
        while len(stream.getvalue().splitlines()) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual([json.loads(line)["n"] for line in stream.getvalue().splitlines()], [1, 2])

    def test_without_hold_every_line_is_written_at_once(self) -> None:
        stream = io.StringIO()
        log = Log("info", stream)
        log.info("request")
        self.assertEqual(self.lines(stream), [("info", "request")])


class LoggedRequests(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="pigw-log-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        config = config_module.load(
            {"authDir": self.dir, "demo": True, "logLevel": "info", "logBodies": True, "apiKey": CANARY}, {}
        )
        self.stream = io.StringIO()
        self.server = Server(listen("127.0.0.1", 0), gateway_module.build(config), config, Log("info", self.stream))
        thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)

    def post(self, body: dict, headers: dict) -> bytes:
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=5)
        self.addCleanup(connection.close)
        connection.request("POST", "/v1/chat/completions", json.dumps(body), headers)
        return connection.getresponse().read()

    def records(self, event: str):
        """The log lines of this event, waiting a little: the server logs a request after it answered it."""
        deadline = time.monotonic() + 3
        while True:
            lines = [line for line in self.stream.getvalue().splitlines() if '"event": "%s"' % event in line]
            if lines or time.monotonic() > deadline:
                return [json.loads(line) for line in lines]
            time.sleep(0.01)

    def test_bodies_logged_scrubbed_and_headers_only_from_the_allowlist(self) -> None:
        body = {"model": "pigw/demo", "messages": [{"role": "user", "content": "hi " + CANARY}], "stream": True}
        answer = self.post(
            body,
            {
                "Authorization": "Bearer " + CANARY,
                "Content-Type": "application/json",
                "User-Agent": "OpenAI/Python 1.0",
                "Cookie": "session=" + CANARY,
                "X-Custom": "not logged",
            },
        )
        self.assertIn(b"data: [DONE]", answer)
        (request,) = self.records("request")
        self.assertEqual(
            sorted(request["headers"]), ["accept-encoding", "content-length", "content-type", "host", "user-agent"]
        )
        self.assertEqual(request["client"], "openai-python")
        (bodies,) = self.records("bodies")
        self.assertEqual(bodies["id"], request["id"])
        self.assertEqual(bodies["request"]["messages"][0]["content"], "hi ***")
        self.assertIn("data: [DONE]", bodies["response"])
        self.assertNotIn(CANARY, self.stream.getvalue())
        self.assertNotIn("not logged", self.stream.getvalue())


if __name__ == "__main__":
    unittest.main()
