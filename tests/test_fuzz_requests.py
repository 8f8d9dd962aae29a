"""Fuzzing the request parsers through a live in-process server: malformed bodies, fields, headers and paths.

Every answer must be a 2xx or a 4xx in OpenAI's error shape, never a 5xx, a traceback or a hang,
and a normal request must still succeed afterwards. A seeded stdlib fuzzer always runs; hypothesis
adds shrinking cases where it is installed (the .ci/run virtualenv).
"""

import http.client
import json
import random
import shutil
import string
import tempfile
import threading
import unittest

from pigw import config as config_module
from pigw import gateway as gateway_module
from pigw.listener import listen
from pigw.log import Log
from pigw.server import Server

try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:
    given = None

VALID = {"model": "pigw/demo", "messages": [{"role": "user", "content": "hi"}]}
ROLES = ["system", "developer", "user", "assistant", "tool", "function", "", None, 5]
PATHS = ["/v1/chat/completions", "/chat/completions", "/v1/models", "/v1/models/pigw%2Fdemo", "/healthz"]


class LiveServer:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="pigw-fuzz-")
        config = config_module.load({"authDir": self.dir, "demo": True, "logLevel": "error"}, {})
        self.log = _Capture()
        self.server = Server(listen("127.0.0.1", 0), gateway_module.build(config), config, Log("error", self.log))
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.connection = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=5)

    def send(self, method: str, path: str, body: bytes, headers: dict):
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
                if response.will_close:
                    self.connection.close()
                    self.connection = self._connect()
                return response.status, data
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                self.connection = self._connect()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)


class _Capture:
    def __init__(self) -> None:
        self.lines = []

    def write(self, text: str) -> None:
        self.lines.append(text)

    def flush(self) -> None:
        pass


class FuzzRequests(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.live = LiveServer()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.live.close()

    def check(self, method: str, path: str, body: bytes, headers=None) -> None:
        status, data = self.live.send(method, path, body, dict({"Content-Type": "application/json"}, **(headers or {})))
        self.assertLess(status, 500, (method, path, body[:200], data[:300]))
        if status >= 400:
            error = json.loads(data)["error"]
            self.assertEqual(set(error), {"message", "type", "param", "code"}, data)
            self.assertIsInstance(error["message"], str)

    def test_seeded_random_requests(self) -> None:
        rng = random.Random(20261121)
        for _ in range(2500):
            kind = rng.random()
            if kind < 0.45:
                body = json.dumps(_mutated_request(rng)).encode()
            elif kind < 0.7:
                body = json.dumps(_random_json(rng, 4)).encode()
            elif kind < 0.85:
                valid = json.dumps(_mutated_request(rng)).encode()
                body = valid[: rng.randrange(len(valid) + 1)]
            else:
                body = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
            method = rng.choice(["POST", "POST", "POST", "GET", "PUT", "DELETE", "PATCH"])
            self.check(method, rng.choice(PATHS + [_random_path(rng)]), body)
        self.assertEqual(self.live.send("POST", "/v1/chat/completions", json.dumps(VALID).encode(), {})[0], 200)
        self.assertFalse([line for line in self.live.log.lines if "internal_error" in line])

    if given is not None:

        @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
        @given(
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
                max_leaves=20,
            )
        )
        def test_hypothesis_message_values(self, value) -> None:
            body = dict(VALID, messages=[{"role": "user", "content": value}, value])
            self.check("POST", "/v1/chat/completions", json.dumps(body).encode())


def _mutated_request(rng: random.Random) -> dict:
    request = {
        "model": rng.choice(["pigw/demo", "demo", "", "nope/x", 7, None, ["pigw/demo"]]),
        "messages": [_random_message(rng) for _ in range(rng.randrange(4))],
    }
    for field in (
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "seed",
        "user",
        "n",
        "stream",
        "stream_options",
        "tools",
        "tool_choice",
        "reasoning_effort",
        "reasoning",
        "parallel_tool_calls",
        "logprobs",
        "response_format",
        "store",
        "metadata",
    ):
        if rng.random() < 0.15:
            request[field] = _random_json(rng, 2)
    if rng.random() < 0.2:
        request.pop(rng.choice(list(request)))
    return request


def _random_message(rng: random.Random):
    if rng.random() < 0.1:
        return _random_json(rng, 2)
    message = {"role": rng.choice(ROLES)}
    choice = rng.random()
    if choice < 0.4:
        message["content"] = rng.choice(["hi", "", None])
    elif choice < 0.8:
        message["content"] = [
            rng.choice(
                [
                    {"type": "text", "text": "x"},
                    {
                        "type": "image_url",
                        "image_url": {"url": rng.choice(["data:image/png;base64,AA==", "https://x", 5])},
                    },
                    {"type": rng.choice(["audio", "file", None])},
                    _random_json(rng, 1),
                ]
            )
            for _ in range(rng.randrange(3))
        ]
    else:
        message["content"] = _random_json(rng, 2)
    if rng.random() < 0.2:
        message["tool_calls"] = rng.choice(
            [[{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{"}}], [{}], "x", [5]]
        )
    if rng.random() < 0.2:
        message["tool_call_id"] = rng.choice(["c", "", 5, None])
    return message


def _random_json(rng: random.Random, depth: int):
    choice = rng.random()
    if depth <= 0 or choice < 0.5:
        return rng.choice([None, True, False, 0, -1, 2**70, 1.5, -0.0, "", "x", "\u0000", "\ud83d", "é" * 3, "a" * 500])
    if choice < 0.75:
        return [_random_json(rng, depth - 1) for _ in range(rng.randrange(4))]
    return {_random_key(rng): _random_json(rng, depth - 1) for _ in range(rng.randrange(4))}


def _random_key(rng: random.Random) -> str:
    return rng.choice(["model", "messages", "role", "content", "type", "text", "", "x"]) + rng.choice(["", "_", "1"])


def _random_path(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + "/.%-_~?&=#"
    return "/" + "".join(rng.choice(alphabet) for _ in range(rng.randrange(40)))


if __name__ == "__main__":
    unittest.main()
