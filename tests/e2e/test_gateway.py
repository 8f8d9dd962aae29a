"""End to end: the built pigw.pyz as a subprocess, a mock OpenAI-compatible upstream, a temporary auth dir."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from tests.support.gateway_process import GatewayProcess, sse_data
from tests.support.mock_upstream import MockUpstream

CANARY_KEY = "gsk-canary-7f3a9c1e5b"
MOCK_KEY = "mock-canary-2d8e4f6a"


def _fixture_events(name: str):
    with open(os.path.join(os.path.dirname(__file__), "..", "fixtures", "wire", "openai-chat", name), "rb") as handle:
        return [piece for piece in handle.read().split(b"\n\n") if piece.strip()]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GatewayEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.mock = MockUpstream().start()
        cls.agent_dir = tempfile.mkdtemp(prefix="pigw-agent-")
        models = {
            "providers": {
                "mock": {
                    "baseUrl": cls.mock.base_url + "/v1",
                    "api": "openai-completions",
                    "apiKey": "$MOCK_KEY",
                    "compat": {"supportsDeveloperRole": False},
                    "models": [
                        {"id": "echo-1"},
                        {"id": "fx-oai-text"},
                        {"id": "fx-oai-tool-parallel"},
                        {"id": "fx-oai-reasoning"},
                        {"id": "scripted-error"},
                        {"id": "scripted-429"},
                        {"id": "scripted-503"},
                        {"id": "scripted-drop"},
                        {"id": "scripted-hang"},
                        {"id": "slow-stream"},
                        {"id": "hang-for-disconnect"},
                    ],
                },
                "deadend": {
                    "baseUrl": "http://127.0.0.1:%d/v1" % _closed_port(),
                    "api": "openai-completions",
                    "apiKey": "literal-key",
                    "models": [{"id": "nowhere"}],
                },
                "groq": {"baseUrl": cls.mock.base_url + "/openai/v1"},
            }
        }
        with open(os.path.join(cls.agent_dir, "models.json"), "w") as handle:
            json.dump(models, handle)
        with open(os.path.join(cls.agent_dir, "gateway.json"), "w") as handle:
            json.dump({"upstreamTimeoutMs": 1500, "keepaliveSeconds": 0.3, "upstreamRetries": 1}, handle)
        env = {"MOCK_KEY": MOCK_KEY, "GROQ_API_KEY": CANARY_KEY, "HOME": cls.agent_dir}
        cls.gateway = GatewayProcess(["--auth-dir", cls.agent_dir, "--log-level", "debug"], env).start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.gateway.stop()
        cls.mock.stop()
        shutil.rmtree(cls.agent_dir, ignore_errors=True)

    def chat(self, body, headers=None):
        return self.gateway.request("POST", "/v1/chat/completions", body, headers)

    def assert_openai_error(self, response, status, kind, param=None, code=None):
        got_status, _headers, body = response
        self.assertEqual(got_status, status, body)
        error = json.loads(body)["error"]
        self.assertEqual(set(error), {"message", "type", "param", "code"})
        self.assertEqual(error["type"], kind)
        self.assertEqual(error["param"], param)
        self.assertEqual(error["code"], code)
        return error

    def test_banner_names_url_auth_dir_and_model_count(self) -> None:
        banner = "".join(self.gateway.stdout_lines[:3])
        self.assertIn("listening on http://127.0.0.1:%d/v1" % self.gateway.port, banner)
        self.assertIn("auth dir: %s" % self.agent_dir, banner)
        self.assertRegex(banner, r"models: \d+ from 3 providers")

    def test_models_lists_only_credentialed_providers_in_openai_shape(self) -> None:
        status, headers, body = self.gateway.request("GET", "/v1/models")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/json")
        listing = json.loads(body)
        self.assertEqual(listing["object"], "list")
        ids = [entry["id"] for entry in listing["data"]]
        self.assertIn("mock/echo-1", ids)
        self.assertIn("deadend/nowhere", ids)
        self.assertIn("groq/llama-3.3-70b-versatile", ids)
        self.assertEqual({entry.split("/", 1)[0] for entry in ids}, {"mock", "deadend", "groq"})
        self.assertEqual(
            listing["data"][ids.index("mock/echo-1")],
            {"id": "mock/echo-1", "object": "model", "created": 1794312337, "owned_by": "mock"},
        )
        self.assertNotIn(CANARY_KEY.encode(), body)
        self.assertNotIn(MOCK_KEY.encode(), body)

    def test_health(self) -> None:
        status, _headers, body = self.gateway.request("GET", "/healthz")
        self.assertEqual(status, 200)
        health = json.loads(body)
        self.assertEqual(set(health), {"ok", "uptimeMs"})
        self.assertIs(health["ok"], True)
        self.assertIsInstance(health["uptimeMs"], int)

    def test_non_stream_echo_exact_body_and_upstream_request(self) -> None:
        status, _headers, body = self.chat(
            {
                "model": "mock/echo-1",
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "developer", "content": "Answer in English."},
                    {"role": "user", "content": "hello there"},
                ],
                "temperature": 0.2,
                "top_p": 0.9,
                "max_tokens": 50,
                "stop": "END",
                "seed": 7,
                "user": "u-1",
            }
        )
        self.assertEqual(status, 200, body)
        completion = json.loads(body)
        self.assertRegex(completion.pop("id"), r"^chatcmpl-[0-9a-f]{24}$")
        self.assertIsInstance(completion.pop("created"), int)
        self.assertEqual(
            completion,
            {
                "object": "chat.completion",
                "model": "mock/echo-1",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "echo: hello there", "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": 10,
                    "completion_tokens": 4,
                    "total_tokens": 14,
                    "prompt_tokens_details": {"cached_tokens": 0},
                    "completion_tokens_details": {"reasoning_tokens": 0},
                },
            },
        )
        sent = self.mock.requests[-1]
        self.assertEqual(sent.path, "/v1/chat/completions")
        self.assertEqual(sent.headers["authorization"], "Bearer " + MOCK_KEY)
        self.assertEqual(
            sent.json,
            {
                "model": "echo-1",
                "messages": [
                    {"role": "system", "content": "Be brief.\n\nAnswer in English."},
                    {"role": "user", "content": "hello there"},
                ],
                "stream": False,
                "max_completion_tokens": 50,
                "temperature": 0.2,
                "top_p": 0.9,
                "stop": ["END"],
                "seed": 7,
                "user": "u-1",
            },
        )

    def test_stream_with_usage_is_chunked_and_ends_with_done(self) -> None:
        status, headers, body = self.chat(
            {
                "model": "echo-1",
                "messages": [{"role": "user", "content": "abc def ghi"}],
                "stream": True,
                "stream_options": {"include_usage": True},
            }
        )
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/event-stream")
        self.assertEqual(headers["Cache-Control"], "no-cache")
        self.assertEqual(headers["X-Accel-Buffering"], "no")
        self.assertEqual(headers["Transfer-Encoding"], "chunked")
        frames = sse_data(body)
        self.assertEqual(frames[-1], "[DONE]")
        chunks = [json.loads(frame) for frame in frames[:-1]]
        self.assertEqual(len({chunk["id"] for chunk in chunks}), 1)
        self.assertEqual(len({chunk["created"] for chunk in chunks}), 1)
        self.assertEqual({chunk["model"] for chunk in chunks}, {"echo-1"})
        self.assertEqual(chunks[0]["choices"][0]["delta"], {"role": "assistant", "content": ""})
        text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks[1:-2])
        self.assertEqual(text, "echo: abc def ghi")
        self.assertEqual(chunks[-2]["choices"], [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}])
        self.assertEqual(chunks[-1]["choices"], [])
        self.assertEqual(chunks[-1]["usage"]["total_tokens"], chunks[-1]["usage"]["prompt_tokens"] + 4)

    def test_unknown_fields_are_dropped_and_named_native_ones_forwarded(self) -> None:
        status, headers, body = self.chat(
            {
                "model": "mock/echo-1",
                "messages": [{"role": "user", "content": "x"}],
                "store": False,
                "metadata": {"app": "cline"},
                "frequency_penalty": 0.25,
                "response_format": {"type": "json_object"},
            }
        )
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["x-pigw-dropped-params"], "store, metadata")
        sent = self.mock.requests[-1].json
        self.assertEqual((sent["frequency_penalty"], sent["response_format"]), (0.25, {"type": "json_object"}))
        self.assertNotIn("store", sent)
        self.assertNotIn("metadata", sent)
        self.assertTrue(
            self.gateway.wait_for_log('"event": "dropped_param", "param": "store"'), self.gateway.stderr_text
        )
        self.chat({"model": "mock/echo-1", "messages": [{"role": "user", "content": "x"}], "store": False})
        self.assertTrue(self.gateway.wait_for_log('"event": "request"'))
        self.assertEqual(self.gateway.stderr_text.count('"event": "dropped_param", "param": "store"'), 1)

    def test_stream_without_include_usage_has_no_usage_chunk(self) -> None:
        _status, _headers, body = self.chat(
            {"model": "mock/echo-1", "messages": [{"role": "user", "content": "x"}], "stream": True}
        )
        frames = sse_data(body)
        self.assertEqual(frames[-1], "[DONE]")
        self.assertTrue(all("usage" not in json.loads(frame) for frame in frames[:-1]))
        self.assertEqual(json.loads(frames[-2])["choices"][0]["finish_reason"], "stop")

    def test_recorded_parallel_tool_calls_non_stream(self) -> None:
        """A non-stream client gets the upstream's non-stream recording (the upstream is asked for one body)."""
        _status, _headers, body = self.chat(
            {"model": "mock/fx-oai-tool-parallel", "messages": [{"role": "user", "content": "weather?"}]}
        )
        message = json.loads(body)["choices"][0]
        self.assertEqual(message["finish_reason"], "tool_calls")
        self.assertIsNone(message["message"]["content"])
        calls = message["message"]["tool_calls"]
        self.assertEqual(
            calls,
            [
                {
                    "id": "call_fdNz3vOBKYgOIpMdWotB9MjY",
                    "type": "function",
                    "function": {
                        "name": "GetWeatherArgs",
                        "arguments": '{"city": "Edinburgh", "country": "GB", "units": "c"}',
                    },
                },
                {
                    "id": "call_h1DWI1POMJLb0KwIyQHWXD4p",
                    "type": "function",
                    "function": {"name": "get_stock_price", "arguments": '{"ticker": "AAPL", "exchange": "NASDAQ"}'},
                },
            ],
        )

    def test_builtin_provider_routed_by_models_json_base_url_with_env_key(self) -> None:
        status, _headers, body = self.chat(
            {"model": "llama-3.3-70b-versatile", "messages": [{"role": "user", "content": "hi"}]}
        )
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["model"], "llama-3.3-70b-versatile")
        sent = self.mock.requests[-1]
        self.assertEqual(sent.path, "/openai/v1/chat/completions")
        self.assertEqual(sent.headers["authorization"], "Bearer " + CANARY_KEY)
        self.assertEqual(sent.json["model"], "llama-3.3-70b-versatile")

    def test_bad_input_table_then_server_still_answers(self) -> None:
        cases = [
            (
                self.gateway.request("POST", "/v1/chat/completions", b"{not json"),
                400,
                "invalid_request_error",
                None,
                None,
            ),
            (self.gateway.request("POST", "/v1/chat/completions", b"[1, 2]"), 400, "invalid_request_error", None, None),
            (
                self.gateway.request("POST", "/v1/chat/completions", b"\xff\xfe"),
                400,
                "invalid_request_error",
                None,
                None,
            ),
            (self.chat({"messages": [{"role": "user", "content": "x"}]}), 400, "invalid_request_error", "model", None),
            (self.chat({"model": "mock/echo-1"}), 400, "invalid_request_error", "messages", None),
            (self.chat({"model": "mock/echo-1", "messages": "hi"}), 400, "invalid_request_error", "messages", None),
            (self.chat({"model": 5, "messages": []}), 400, "invalid_request_error", "model", None),
            (
                self.chat({"model": "mock/echo-1", "messages": [{"role": "wizard", "content": "x"}]}),
                400,
                "invalid_request_error",
                "messages[0].role",
                None,
            ),
            (
                self.chat(
                    {"model": "mock/echo-1", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}
                ),
                400,
                "invalid_request_error",
                "temperature",
                None,
            ),
            (
                self.chat({"model": "nope/nothing", "messages": [{"role": "user", "content": "x"}]}),
                404,
                "invalid_request_error",
                "model",
                "model_not_found",
            ),
            (
                self.chat({"model": "cerebras/gpt-oss-120b", "messages": [{"role": "user", "content": "x"}]}),
                404,
                "invalid_request_error",
                "model",
                "model_not_found",
            ),
            (self.gateway.request("GET", "/v1/nothing-here"), 404, "invalid_request_error", None, "unknown_url"),
        ]
        for response, status, kind, param, code in cases:
            with self.subTest(status=status, param=param, body=response[2][:80]):
                self.assert_openai_error(response, status, kind, param, code)
        status, headers, body = self.gateway.request("GET", "/v1/chat/completions")
        self.assert_openai_error((status, headers, body), 405, "invalid_request_error", None, "method_not_allowed")
        self.assertEqual(headers["Allow"], "POST")
        unknown = json.loads(self.chat({"model": "nope/nothing", "messages": [{"role": "user", "content": "x"}]})[2])
        self.assertIn("GET /v1/models", unknown["error"]["message"])
        self.assertEqual(self.chat({"model": "mock/echo-1", "messages": [{"role": "user", "content": "ok"}]})[0], 200)

    def test_upstream_errors_before_first_byte_keep_status_and_message(self) -> None:
        self.mock.script(
            "scripted-error",
            status=400,
            body=json.dumps(
                {
                    "error": {
                        "message": "bad thing near " + MOCK_KEY,
                        "type": "invalid_request_error",
                        "param": "messages",
                        "code": "bad",
                    }
                }
            ).encode(),
        )
        error = self.assert_openai_error(
            self.chat({"model": "mock/scripted-error", "messages": [{"role": "user", "content": "x"}]}),
            400,
            "invalid_request_error",
            "messages",
            "bad",
        )
        self.assertEqual(error["message"], "bad thing near ***")
        self.mock.script(
            "scripted-429",
            status=429,
            headers={"Retry-After": "30"},
            body=b'{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}',
        )
        status, headers, body = self.chat(
            {"model": "mock/scripted-429", "messages": [{"role": "user", "content": "x"}], "stream": True}
        )
        self.assertEqual(status, 429)
        self.assertEqual(headers["Retry-After"], "30")
        self.assertEqual(json.loads(body)["error"]["message"], "slow down")
        self.assert_openai_error(
            self.chat({"model": "deadend/nowhere", "messages": [{"role": "user", "content": "x"}]}),
            502,
            "api_error",
            None,
            "upstream_unreachable",
        )
        self.mock.script("scripted-hang", hang=True)
        self.assert_openai_error(
            self.chat({"model": "mock/scripted-hang", "messages": [{"role": "user", "content": "x"}]}),
            504,
            "api_error",
            None,
            "upstream_timeout",
        )
        self.assertEqual(self.chat({"model": "mock/echo-1", "messages": [{"role": "user", "content": "ok"}]})[0], 200)

    def test_failures_before_the_first_byte_are_retried_within_bounds(self) -> None:
        self.mock.script("scripted-503", status=503, headers={"Retry-After": "0"}, body=b'{"error":{"message":"busy"}}')
        before = len([r for r in self.mock.requests if r.model == "scripted-503"])
        status, headers, body = self.chat(
            {"model": "mock/scripted-503", "messages": [{"role": "user", "content": "x"}]}
        )
        self.assertEqual((status, json.loads(body)["error"]["message"]), (502, "busy"))
        self.assertEqual(headers["x-pigw-upstream-status"], "503")
        self.assertEqual(len([r for r in self.mock.requests if r.model == "scripted-503"]) - before, 2)
        self.mock.script(
            "scripted-429", status=429, headers={"Retry-After": "30"}, body=b'{"error":{"message":"later"}}'
        )
        before = len([r for r in self.mock.requests if r.model == "scripted-429"])
        self.assertEqual(
            self.chat({"model": "mock/scripted-429", "messages": [{"role": "user", "content": "x"}]})[0], 429
        )
        self.assertEqual(len([r for r in self.mock.requests if r.model == "scripted-429"]) - before, 1)

    def test_drop_mid_stream_gives_error_frame_and_no_finish_reason(self) -> None:
        with open(
            os.path.join(os.path.dirname(__file__), "..", "fixtures", "wire", "openai-chat", "fx-oai-text.sse"), "rb"
        ) as handle:
            events = [piece + b"\n\n" for piece in handle.read().split(b"\n\n") if piece.strip()]
        self.mock.script("scripted-drop", chunks=events, drop_after=3)
        status, _headers, body = self.chat(
            {"model": "mock/scripted-drop", "messages": [{"role": "user", "content": "x"}], "stream": True}
        )
        self.assertEqual(status, 200)
        frames = sse_data(body)
        self.assertNotIn("[DONE]", frames)
        chunks = [json.loads(frame) for frame in frames]
        self.assertEqual(set(chunks[-1]), {"error"})
        self.assertEqual(chunks[-1]["error"]["code"], "upstream_unreachable")
        self.assertTrue(all(choice["finish_reason"] is None for chunk in chunks[:-1] for choice in chunk["choices"]))
        self.assertEqual(self.chat({"model": "mock/echo-1", "messages": [{"role": "user", "content": "ok"}]})[0], 200)

    def test_n_fans_out_to_parallel_upstream_requests(self) -> None:
        before = len(self.mock.requests)
        status, _headers, body = self.chat(
            {"model": "mock/echo-1", "messages": [{"role": "user", "content": "hello there"}], "n": 3}
        )
        self.assertEqual(status, 200)
        answer = json.loads(body)
        self.assertEqual(
            [(choice["index"], choice["message"]["content"], choice["finish_reason"]) for choice in answer["choices"]],
            [(0, "echo: hello there", "stop"), (1, "echo: hello there", "stop"), (2, "echo: hello there", "stop")],
        )
        self.assertEqual((answer["usage"]["prompt_tokens"], answer["usage"]["completion_tokens"]), (3 * 2, 3 * 4))
        sent = self.mock.requests[before:]
        self.assertEqual(len(sent), 3)
        self.assertTrue(all("n" not in request.json for request in sent))
        status, _headers, body = self.chat(
            {
                "model": "mock/echo-1",
                "messages": [{"role": "user", "content": "a b"}],
                "n": 2,
                "stream": True,
                "stream_options": {"include_usage": True},
            }
        )
        frames = sse_data(body)
        self.assertEqual(frames.count("[DONE]"), 1)
        chunks = [json.loads(frame) for frame in frames[:-1]]
        for index in (0, 1):
            mine = [
                chunk["choices"][0] for chunk in chunks if chunk["choices"] and chunk["choices"][0]["index"] == index
            ]
            self.assertEqual(mine[0]["delta"], {"role": "assistant", "content": ""})
            self.assertEqual("".join(c["delta"].get("content", "") for c in mine), "echo: a b")
            self.assertEqual([c["finish_reason"] for c in mine].count("stop"), 1)
        self.assertEqual(chunks[-1]["choices"], [])
        single = json.loads(self.chat({"model": "mock/echo-1", "messages": [{"role": "user", "content": "a b"}]})[2])
        self.assertEqual(chunks[-1]["usage"]["completion_tokens"], 2 * single["usage"]["completion_tokens"])
        self.assertEqual(len({chunk["id"] for chunk in chunks}), 1)

    def test_n_stream_with_a_failing_choice_ends_in_an_error_frame(self) -> None:
        events = _fixture_events("fx-oai-text.sse")
        self.mock.script("scripted-drop", chunks=[event + b"\n\n" for event in events], drop_after=3)
        status, _headers, body = self.chat(
            {"model": "mock/scripted-drop", "messages": [{"role": "user", "content": "x"}], "stream": True, "n": 2}
        )
        self.assertEqual(status, 200)
        frames = sse_data(body)
        self.assertNotIn("[DONE]", frames)
        self.assertEqual(json.loads(frames[-1])["error"]["code"], "upstream_unreachable")
        self.assertEqual(self.chat({"model": "mock/echo-1", "messages": [{"role": "user", "content": "ok"}]})[0], 200)

    def test_client_leaving_closes_the_upstream_request(self) -> None:
        self.mock.script("hang-for-disconnect", hang=True)
        for stream in (False, True):
            with self.subTest(stream=stream):
                before = len(self.mock.disconnects)
                connection = self.gateway.connection()
                body = {
                    "model": "mock/hang-for-disconnect",
                    "messages": [{"role": "user", "content": "x"}],
                    "stream": stream,
                }
                connection.request(
                    "POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"}
                )
                time.sleep(0.3)
                connection.close()
                self.assertTrue(self.mock.wait_for_disconnect(timeout=1.5, count=before + 1))
        events = [piece + b"\n\n" for piece in _fixture_events("fx-oai-text.sse")]
        self.mock.script("slow-stream", chunks=events, delay=0.2)
        before = len(self.mock.disconnects)
        connection = self.gateway.connection()
        body = {"model": "mock/slow-stream", "messages": [{"role": "user", "content": "x"}], "stream": True}
        connection.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
        response = connection.getresponse()
        self.assertEqual(response.status, 200)
        response.read1(100) if hasattr(response, "read1") else response.read(100)
        connection.close()
        self.assertTrue(self.mock.wait_for_disconnect(timeout=1.5, count=before + 1))
        self.assertTrue(self.gateway.wait_for_log('"status": 499'))

    def test_silent_stream_gets_empty_delta_keepalives(self) -> None:
        events = _fixture_events("fx-oai-text.sse")
        chunks = [events[0] + b"\n\n", b"".join(event + b"\n\n" for event in events[1:])]
        self.mock.script("slow-stream", chunks=chunks, delay=1.2)
        status, _headers, body = self.chat(
            {"model": "mock/slow-stream", "messages": [{"role": "user", "content": "x"}], "stream": True}
        )
        self.assertEqual(status, 200)
        frames = [json.loads(frame) for frame in sse_data(body)[:-1]]
        keepalives = [
            frame
            for frame in frames
            if frame["choices"] and frame["choices"][0]["delta"] == {} and frame["choices"][0]["finish_reason"] is None
        ]
        self.assertGreaterEqual(len(keepalives), 1)
        self.assertEqual(frames[0]["choices"][0]["delta"], {"role": "assistant", "content": ""})
        self.assertEqual(len({frame["id"] for frame in frames}), 1)

    def test_request_id_echoed_and_access_log_line(self) -> None:
        status, headers, _body = self.chat(
            {"model": "mock/echo-1", "messages": [{"role": "user", "content": "log me"}]},
            {"x-client-request-id": "client-id-42", "User-Agent": "tester/1"},
        )
        self.assertEqual((status, headers["x-request-id"]), (200, "client-id-42"))
        self.assertTrue(self.gateway.wait_for_log('"id": "client-id-42"'))
        line = next(line for line in self.gateway.stderr_text.splitlines() if '"id": "client-id-42"' in line)
        record = json.loads(line)
        self.assertEqual(
            {
                key: record[key]
                for key in ("level", "event", "method", "path", "status", "model", "provider", "tokensIn", "tokensOut")
            },
            {
                "level": "info",
                "event": "request",
                "method": "POST",
                "path": "/v1/chat/completions",
                "status": 200,
                "model": "mock/echo-1",
                "provider": "mock",
                "tokensIn": 1,
                "tokensOut": 3,
            },
        )
        self.assertEqual(record["client"], "default")
        self.assertEqual(
            record["headers"],
            {
                "content-type": "application/json",
                "content-length": str(
                    len(json.dumps({"model": "mock/echo-1", "messages": [{"role": "user", "content": "log me"}]}))
                ),
                "user-agent": "tester/1",
                "accept-encoding": "identity",
                "host": "127.0.0.1:%d" % self.gateway.port,
            },
        )
        self.assertNotIn("bodies", self.gateway.stderr_text)  # only with --log-bodies
        self.assertRegex(self.gateway.request("GET", "/healthz")[1]["x-request-id"], r"^req_[0-9a-f]{24}$")

    def test_keep_alive_serves_many_requests_on_one_connection(self) -> None:
        connection = self.gateway.connection()
        try:
            for _ in range(5):
                status, _headers, _body = self.gateway.request("GET", "/healthz", connection=connection)
                self.assertEqual(status, 200)
            status, _headers, body = self.gateway.request(
                "POST", "/v1/chat/completions", {"model": "nope", "messages": []}, connection=connection
            )
            self.assertEqual(status, 400)
            status, _headers, _body = self.gateway.request("GET", "/healthz", connection=connection)
            self.assertEqual(status, 200)
        finally:
            connection.close()

    def test_no_secret_in_responses_or_logs(self) -> None:
        for path in ("/v1/models", "/healthz"):
            body = self.gateway.request("GET", path)[2]
            self.assertNotIn(CANARY_KEY.encode(), body)
        self.assertNotIn(CANARY_KEY, "".join(self.gateway.stdout_lines))


class GatewayLifecycle(unittest.TestCase):
    def setUp(self) -> None:
        self.agent_dir = tempfile.mkdtemp(prefix="pigw-agent-")
        self.addCleanup(shutil.rmtree, self.agent_dir, True)

    def test_signals_during_shutdown_still_exit_0(self) -> None:
        """SIGTERM repeated every millisecond until the process is gone: none may land as a kill."""
        process = GatewayProcess(["--auth-dir", self.agent_dir, "--demo"], {"HOME": self.agent_dir}).start()
        deadline = time.monotonic() + 10
        while process.process.poll() is None and time.monotonic() < deadline:
            try:
                process.process.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                break
            time.sleep(0.001)
        self.assertEqual(process.stop(), 0)

    def test_no_credentials_starts_and_explains_how_to_add_some(self) -> None:
        process = GatewayProcess(["--auth-dir", self.agent_dir], {"HOME": self.agent_dir}).start()
        try:
            status, _headers, body = process.request("GET", "/v1/models")
            self.assertEqual(json.loads(body), {"object": "list", "data": []})
        finally:
            self.assertEqual(process.stop(), 0)
        out = "".join(process.stdout_lines)
        self.assertIn("models: 0 from 0 providers", out)
        self.assertIn("pi /login", out)
        self.assertIn("OPENAI_API_KEY", out)
        self.assertIn("models.json", out)
        self.assertIn("--demo", out)

    def test_demo_model_streams_deterministically_and_sigint_stops_cleanly(self) -> None:
        process = GatewayProcess(["--auth-dir", self.agent_dir, "--demo"], {"HOME": self.agent_dir}).start()
        try:
            request = {
                "model": "pigw/demo",
                "messages": [{"role": "user", "content": "hi"}],
                "stream": True,
                "stream_options": {"include_usage": True},
            }
            first = process.request("POST", "/v1/chat/completions", request)[2]
            second = process.request("POST", "/v1/chat/completions", request)[2]
            strip = [json.loads(frame) for frame in sse_data(first)[:-1]]
            again = [json.loads(frame) for frame in sse_data(second)[:-1]]
            for chunk in strip + again:
                chunk.pop("id")
                chunk.pop("created")
            self.assertEqual(strip, again)
            self.assertGreaterEqual(
                len([c for c in strip if c["choices"] and c["choices"][0]["delta"].get("content")]), 3
            )
            self.assertEqual(strip[-1]["usage"]["completion_tokens"], 56)
            self.assertEqual(
                json.loads(process.request("POST", "/v1/chat/completions", dict(request, stream=False))[2])["model"],
                "pigw/demo",
            )
        finally:
            self.assertEqual(process.stop(signal.SIGINT), 0)
        self.assertIn("pigw stopped", "".join(process.stdout_lines))

    def test_one_gateway_per_auth_dir_and_stale_pid_files_are_taken_over(self) -> None:
        first = GatewayProcess(["--auth-dir", self.agent_dir, "--demo"], {"HOME": self.agent_dir}).start()
        pid_path = os.path.join(self.agent_dir, "gateway.pid")
        try:
            with open(pid_path) as handle:
                self.assertEqual(
                    json.load(handle), {"pid": first.process.pid, "url": "http://127.0.0.1:%d/v1" % first.port}
                )
            second = subprocess.run(
                [sys.executable, "-I", first.pyz, "--auth-dir", self.agent_dir, "--port", "0"],
                capture_output=True,
                text=True,
                timeout=20,
                env={"HOME": self.agent_dir, "PATH": os.environ.get("PATH", "")},
            )
            self.assertEqual(second.returncode, 1)
            self.assertIn("another pigw (pid %d) already serves" % first.process.pid, second.stderr)
            self.assertIn("http://127.0.0.1:%d/v1" % first.port, second.stderr)
        finally:
            self.assertEqual(first.stop(), 0)
        self.assertFalse(os.path.exists(pid_path))
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        with open(pid_path, "w") as handle:
            json.dump({"pid": int(dead.stdout), "url": "http://127.0.0.1:1/v1"}, handle)
        again = GatewayProcess(["--auth-dir", self.agent_dir], {"HOME": self.agent_dir}).start()
        self.assertEqual(again.stop(), 0)

    def test_sigterm_ends_live_streams_with_an_error_frame_and_exits_0(self) -> None:
        with MockUpstream() as mock:
            with open(os.path.join(self.agent_dir, "models.json"), "w") as handle:
                json.dump(
                    {
                        "providers": {
                            "mock": {
                                "baseUrl": mock.base_url + "/v1",
                                "api": "openai-completions",
                                "apiKey": "k",
                                "models": [{"id": "slow"}],
                            }
                        }
                    },
                    handle,
                )
            events = [piece + b"\n\n" for piece in _fixture_events("fx-oai-text.sse")]
            mock.script("slow", chunks=events, delay=0.5)
            process = GatewayProcess(["--auth-dir", self.agent_dir], {"HOME": self.agent_dir}).start()
            connection = process.connection()
            body = {"model": "mock/slow", "messages": [{"role": "user", "content": "x"}], "stream": True}
            connection.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
            response = connection.getresponse()
            time.sleep(0.7)
            started = time.monotonic()
            process.process.send_signal(signal.SIGTERM)
            rest = response.read()
            connection.close()
            self.assertEqual(process.stop(), 0)
            self.assertLess(time.monotonic() - started, 5.0)
            self.assertTrue(mock.wait_for_disconnect(timeout=2.0))
        last = json.loads(sse_data(rest)[-1])
        self.assertEqual(
            last,
            {
                "error": {
                    "message": "pigw is shutting down; the answer was cut short.",
                    "type": "api_error",
                    "param": None,
                    "code": "gateway_stopping",
                }
            },
        )
        self.assertFalse(os.path.exists(os.path.join(self.agent_dir, "gateway.pid")))

    def test_broken_models_json_is_reported_and_catalog_still_loads(self) -> None:
        with open(os.path.join(self.agent_dir, "models.json"), "w") as handle:
            handle.write('{"providers": {"x": {"baseUrl": 5}}}')
        process = GatewayProcess(["--auth-dir", self.agent_dir], {"HOME": self.agent_dir, "GROQ_API_KEY": "k"}).start()
        try:
            ids = [entry["id"] for entry in json.loads(process.request("GET", "/v1/models")[2])["data"]]
        finally:
            process.stop()
        self.assertIn("groq/llama-3.3-70b-versatile", ids)
        self.assertIn("Invalid models.json schema", process.stderr_text)
        self.assertIn("providers.x.baseUrl", process.stderr_text)


if __name__ == "__main__":
    unittest.main()
