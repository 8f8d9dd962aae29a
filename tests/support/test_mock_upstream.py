"""Tests of the mock upstream: fixture replay, echo models, scripts, disconnects, keep-alive and stop()."""

import contextlib
import http.client
import io
import json
import os
import socket
import time
import unittest

from tests.support.mock_upstream import FIXTURES_DIR, MockUpstream

CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"


class MockTestCase(unittest.TestCase):
    def setUp(self):
        self.mock = MockUpstream().start()
        self.addCleanup(self.mock.stop)

    def connect(self):
        host, port = self.mock.base_url[len("http://") :].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        self.addCleanup(conn.close)
        return conn

    def post(self, path, body, conn=None, headers=None):
        conn = conn or self.connect()
        all_headers = {"Content-Type": "application/json"}
        all_headers.update(headers or {})
        conn.request("POST", path, json.dumps(body).encode(), all_headers)
        return conn.getresponse()

    def raw_chunks(self, path, body):
        """POST over a bare socket and return the payload of each HTTP chunk to check the chunk framing."""
        payload = json.dumps(body).encode()
        head = f"POST {path} HTTP/1.1\r\nHost: mock\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        with socket.create_connection(("127.0.0.1", int(self.mock.base_url.rsplit(":", 1)[1])), timeout=5) as sock:
            sock.sendall(head.encode() + payload)
            data = b""
            while True:
                piece = sock.recv(65536)
                if not piece:
                    break
                data += piece
        rest = data.split(b"\r\n\r\n", 1)[1]
        chunks = []
        while True:
            size_line, rest = rest.split(b"\r\n", 1)
            size = int(size_line, 16)
            if size == 0:
                self.assertEqual(rest, b"\r\n")
                return chunks
            chunks.append(rest[:size])
            self.assertEqual(rest[size : size + 2], b"\r\n")
            rest = rest[size + 2 :]

    def wait_until(self, condition, timeout=2.0):
        deadline = time.monotonic() + timeout
        while not condition():
            self.assertLess(time.monotonic(), deadline, "condition not met in time")
            time.sleep(0.01)


def fixture_bytes(relative):
    with open(os.path.join(FIXTURES_DIR, relative), "rb") as handle:
        return handle.read()


def sse_data(raw):
    """The `data:` payloads of an LF-framed SSE body, JSON-decoded except [DONE]."""
    events = []
    for block in raw.decode("utf-8").split("\n\n")[:-1]:
        data = [line[len("data: ") :] for line in block.split("\n") if line.startswith("data: ")]
        events.append(data[0] if data[0] == "[DONE]" else json.loads(data[0]))
    return events


class FixtureReplayTest(MockTestCase):
    def test_openai_stream_is_the_file_byte_for_byte(self):
        resp = self.post(CHAT, {"model": "fx-oai-text", "stream": True, "messages": []})
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.getheader("Content-Type"), "text/event-stream")
        self.assertEqual(resp.getheader("Transfer-Encoding"), "chunked")
        self.assertEqual(resp.read(), fixture_bytes("openai-chat/fx-oai-text.sse"))

    def test_gemini_stream_is_the_file_byte_for_byte_with_crlf(self):
        path = "/v1beta/models/fx-gem-text3:streamGenerateContent?alt=sse"
        resp = self.post(path, {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
        expected = fixture_bytes("gemini/fx-gem-text3.sse")
        self.assertIn(b"\r\n\r\n", expected)
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.read(), expected)

    def test_one_http_chunk_per_sse_event(self):
        for path, body, relative, separator in (
            (CHAT, {"model": "fx-oai-tool", "stream": True}, "openai-chat/fx-oai-tool.sse", b"\n\n"),
            ("/v1beta/models/fx-gem-tool:streamGenerateContent?alt=sse", {}, "gemini/fx-gem-tool.sse", b"\r\n\r\n"),
        ):
            with self.subTest(relative):
                data = fixture_bytes(relative)
                self.assertTrue(data.endswith(separator))
                chunks = self.raw_chunks(path, body)
                self.assertEqual(chunks, [event + separator for event in data.split(separator)[:-1]])

    def test_json_variant_with_the_manifest_status(self):
        resp = self.post(CHAT, {"model": "fx-oai-error-quota", "messages": []})
        self.assertEqual(resp.status, 429)
        self.assertEqual(resp.getheader("Content-Type"), "application/json")
        self.assertEqual(resp.read(), fixture_bytes("openai-chat/fx-oai-error-quota.json"))
        resp = self.post("/v1beta/models/fx-gem-text:generateContent", {"contents": []})
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.read(), fixture_bytes("gemini/fx-gem-text.json"))

    def test_missing_variant_is_a_404_naming_the_fixture(self):
        resp = self.post(MESSAGES, {"model": "fx-ant-docs-text", "messages": []})
        self.assertEqual(resp.status, 404)
        self.assertIn("fx-ant-docs-text", json.loads(resp.read())["error"]["message"])

    def test_delayed_fixture_arrives_event_by_event(self):
        self.mock.script("fx-gem-text-utf8", delay=0.5)
        events = fixture_bytes("gemini/fx-gem-text-utf8.sse").split(b"\n\n")
        started = time.monotonic()
        resp = self.post("/v1beta/models/fx-gem-text-utf8:streamGenerateContent?alt=sse", {})
        first = b""
        while not first.endswith(b"\n\n"):
            first += resp.read1(65536)
        self.assertLess(time.monotonic() - started, 0.4)
        self.assertEqual(first, events[0] + b"\n\n")
        self.assertEqual(resp.read(), events[1] + b"\n\n")
        self.assertGreaterEqual(time.monotonic() - started, 0.45)


class EchoModelTest(MockTestCase):
    MESSAGES = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "old"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "hi "}, {"type": "text", "text": "there"}]},
    ]  # 9 + 3 + 2 + 8 = 22 characters -> 5 prompt tokens; "echo: hi there" is 14 -> 3 completion tokens

    def openai_chunk(self, choices, **extra):
        chunk = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1700000000, "model": "echo-1"}
        chunk.update(system_fingerprint="fp_mock", choices=choices, **extra)
        return chunk

    def expected_openai_stream(self):
        deltas = [{"role": "assistant", "content": "", "refusal": None}, {"content": "echo:"}]
        deltas += [{"content": " hi t"}, {"content": "here"}]
        chunks = [
            self.openai_chunk([{"index": 0, "delta": d, "logprobs": None, "finish_reason": None}]) for d in deltas
        ]
        chunks.append(self.openai_chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]))
        return chunks

    def test_openai_stream_without_usage(self):
        resp = self.post(CHAT, {"model": "echo-1", "stream": True, "messages": self.MESSAGES})
        self.assertEqual(resp.getheader("Content-Type"), "text/event-stream")
        self.assertEqual(sse_data(resp.read()), self.expected_openai_stream() + ["[DONE]"])

    def test_openai_stream_with_include_usage(self):
        body = {"model": "echo-1", "stream": True, "stream_options": {"include_usage": True}, "messages": self.MESSAGES}
        raw = self.post(CHAT, body).read()
        usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
        expected = self.expected_openai_stream() + [self.openai_chunk([], usage=usage), "[DONE]"]
        self.assertEqual(sse_data(raw), expected)
        first_line = raw.split(b"\n", 1)[0]
        self.assertTrue(first_line.startswith(b'data: {"id":"chatcmpl-mock","object":"chat.completion.chunk",'))

    def test_openai_non_stream(self):
        resp = self.post(CHAT, {"model": "echo-1", "messages": self.MESSAGES})
        self.assertEqual(resp.status, 200)
        self.assertEqual(
            json.loads(resp.read()),
            {
                "id": "chatcmpl-mock",
                "object": "chat.completion",
                "created": 1700000000,
                "model": "echo-1",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "echo: hi there", "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
                "system_fingerprint": "fp_mock",
            },
        )

    def test_anthropic_stream(self):
        body = {"model": "claude-echo", "stream": True, "system": "Be brief.", "messages": self.MESSAGES[1:]}
        raw = self.post(MESSAGES, body, headers={"anthropic-version": "2023-06-01"}).read().decode()
        blocks = raw.split("\n\n")
        self.assertEqual(blocks[-1], "")
        names, payloads = [], []
        for block in blocks[:-1]:
            event, data = block.split("\n")
            names.append(event[len("event: ") :])
            payloads.append(json.loads(data[len("data: ") :]))
        self.assertEqual([p["type"] for p in payloads], names)
        self.assertEqual(
            names,
            ["message_start", "content_block_start", "ping"]
            + ["content_block_delta"] * 3
            + ["content_block_stop", "message_delta", "message_stop"],
        )
        message = payloads[0]["message"]
        self.assertEqual((message["id"], message["model"], message["content"]), ("msg_mock", "claude-echo", []))
        self.assertEqual(message["usage"], {"input_tokens": 5, "output_tokens": 1})
        self.assertEqual("".join(p["delta"]["text"] for p in payloads[3:6]), "echo: hi there")
        self.assertEqual(payloads[3]["delta"], {"type": "text_delta", "text": "echo:"})
        self.assertEqual(
            payloads[7],
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 3},
            },
        )

    def test_anthropic_non_stream(self):
        resp = self.post(MESSAGES, {"model": "claude-echo", "system": "Be brief.", "messages": self.MESSAGES[1:]})
        self.assertEqual(
            json.loads(resp.read()),
            {
                "id": "msg_mock",
                "type": "message",
                "role": "assistant",
                "content": [{"type": "text", "text": "echo: hi there"}],
                "model": "claude-echo",
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 5, "output_tokens": 3},
            },
        )

    def test_models_list_and_unknown_path(self):
        conn = self.connect()
        for path in ("/v1/models", "/models"):
            conn.request("GET", path)
            listing = json.loads(conn.getresponse().read())
            self.assertEqual(listing["object"], "list")
            ids = [m["id"] for m in listing["data"]]
            self.assertIn("fx-oai-text", ids)
            self.assertIn("fx-gem-text", ids)
        conn.request("GET", "/v1/nothing")
        resp = conn.getresponse()
        self.assertEqual(resp.status, 404)
        self.assertIn("/v1/nothing", json.loads(resp.read())["error"]["message"])


class ScriptTest(MockTestCase):
    def test_status_body_and_headers(self):
        self.mock.script(
            "m", status=503, body=b"upstream sad", headers={"Retry-After": "7", "Content-Type": "text/plain"}
        )
        resp = self.post(CHAT, {"model": "m", "messages": []})
        self.assertEqual(resp.status, 503)
        self.assertEqual(resp.getheader("Retry-After"), "7")
        self.assertEqual(resp.getheader("Content-Type"), "text/plain")
        self.assertEqual(resp.read(), b"upstream sad")

    def test_status_alone_sends_an_error_body(self):
        self.mock.script("m", status=500)
        resp = self.post(CHAT, {"model": "m", "messages": []})
        self.assertEqual(resp.status, 500)
        self.assertIn("500", json.loads(resp.read())["error"]["message"])

    def test_scripted_chunks_with_first_byte_delay(self):
        self.mock.script("m", chunks=[b"data: 1\n\n", b"data: 2\n\n"], first_byte_delay=0.2)
        started = time.monotonic()
        resp = self.post(CHAT, {"model": "m", "stream": True})
        self.assertGreaterEqual(time.monotonic() - started, 0.19)
        self.assertEqual(resp.getheader("Content-Type"), "text/event-stream")
        self.assertEqual(resp.read(), b"data: 1\n\ndata: 2\n\n")

    def test_drop_after_cuts_the_chunked_stream(self):
        self.mock.script("m", chunks=[b"data: 1\n\n", b"data: 2\n\n", b"data: 3\n\n"], drop_after=1)
        resp = self.post(CHAT, {"model": "m", "stream": True})
        with self.assertRaises(http.client.IncompleteRead) as caught:
            resp.read()
        self.assertEqual(caught.exception.partial, b"data: 1\n\n")
        self.assertEqual(self.mock.disconnects, [])

    def test_hang_then_client_close_is_a_disconnect(self):
        self.mock.script("stuck", hang=True)
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            conn = self.connect()
            conn.request("POST", CHAT, json.dumps({"model": "stuck"}).encode())
            self.wait_until(lambda: len(self.mock.requests) == 1)
            self.assertFalse(self.mock.wait_for_disconnect(timeout=0.1))
            conn.close()
            self.assertTrue(self.mock.wait_for_disconnect())
            self.wait_until(lambda: not self.mock._sockets)
        self.assertEqual(self.mock.disconnects, ["stuck"])
        self.assertEqual(stderr.getvalue(), "")

    def test_client_leaving_mid_stream_is_a_disconnect(self):
        self.mock.script("slow", chunks=[b"data: 1\n\n", b"data: 2\n\n"], delay=5)
        conn = self.connect()
        resp = self.post(CHAT, {"model": "slow", "stream": True}, conn=conn)
        self.assertEqual(resp.read1(65536), b"data: 1\n\n")
        started = time.monotonic()
        resp.close()
        conn.close()
        self.assertTrue(self.mock.wait_for_disconnect())
        self.assertLess(time.monotonic() - started, 1.0)
        self.assertEqual(self.mock.disconnects, ["slow"])


class ServerTest(MockTestCase):
    def test_requests_are_recorded(self):
        conn = self.connect()
        self.post("/v1/chat/completions?x=1", {"model": "echo-1", "messages": []}, conn, {"X-Api-Key": "k"}).read()
        conn.request("GET", "/v1beta/models/fx-gem-text:generateContent")
        conn.getresponse().read()
        first, second = self.mock.requests
        self.assertEqual((first.method, first.path, first.model), ("POST", "/v1/chat/completions?x=1", "echo-1"))
        self.assertEqual(first.headers["x-api-key"], "k")
        self.assertEqual(first.headers["content-type"], "application/json")
        self.assertEqual(first.json, {"model": "echo-1", "messages": []})
        self.assertEqual(json.loads(first.body), first.json)
        self.assertEqual((second.method, second.body, second.json, second.model), ("GET", b"", None, "fx-gem-text"))

    def test_keep_alive_reuses_one_connection(self):
        conn = self.connect()
        for _ in range(2):
            resp = self.post(CHAT, {"model": "echo-1", "stream": True, "messages": []}, conn)
            self.assertTrue(resp.read().endswith(b"data: [DONE]\n\n"))
        self.post(CHAT, {"model": "echo-1", "messages": []}, conn).read()
        self.assertEqual(len(self.mock.requests), 3)
        self.assertEqual(self.mock.connections, 1)

    def test_stop_is_prompt_with_hung_and_streaming_handlers(self):
        self.mock.script("stuck", hang=True)
        self.mock.script("slow", chunks=[b"data: 1\n\n", b"data: 2\n\n"], delay=20)
        hung, streaming, idle = self.connect(), self.connect(), self.connect()
        hung.request("POST", CHAT, json.dumps({"model": "stuck"}).encode())
        resp = self.post(CHAT, {"model": "slow", "stream": True}, streaming)
        self.assertEqual(resp.read1(65536), b"data: 1\n\n")
        self.post(CHAT, {"model": "echo-1", "messages": []}, idle).read()
        self.wait_until(lambda: len(self.mock.requests) == 3)
        started = time.monotonic()
        self.mock.stop()
        self.assertLess(time.monotonic() - started, 1.0)
        with self.assertRaises(http.client.IncompleteRead):
            resp.read()
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            hung.getresponse()
        self.assertEqual(self.mock.disconnects, [])
        self.assertEqual(self.mock.connections, 3)


if __name__ == "__main__":
    unittest.main()
