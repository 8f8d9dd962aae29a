"""anthropic-messages: exact requests (URL, headers, body) and recorded streams to exact canonical events."""

import json
import os
import unittest
from unittest import mock

from pigw import __version__, providers
from pigw.core import (
    AssistantMessage,
    Context,
    Image,
    Options,
    Text,
    Thinking,
    Tool,
    ToolCall,
    ToolResultMessage,
    UserMessage,
    collect,
)
from pigw.credentials import Credential
from pigw.errors import GatewayError
from pigw.net.http import Pool
from pigw.providers import anthropic_messages as provider
from pigw.registry import Model
from tests.support.events import FakeResponse, describe
from tests.support.mock_upstream import MockUpstream

WIRE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "wire", "anthropic")
EPHEMERAL = {"type": "ephemeral"}
BASE_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "text/event-stream",
    "anthropic-version": "2023-06-01",
    "User-Agent": "pigw/" + __version__,
}
SIGNATURE = (
    "EvQBCkYICxgCKkAxhD4NUKFzudtZ6NzbZdEiBACIScTzqjPViM596iWLZIk4EFKYYBj3B6Ptl3b0dcQv/VeJBNbejNWIWRBn+KPNEgz6H"
    "WtKx7p+QRgKsEoaDGjsiqfht7gTRFYHiyIwD1VSmNqHxv3wy8KEMP+LYb/TC4UH3H97tuoaADARFFcA0phdfxnzKQxFnc9lwY+dKlzUsa"
    "KSUAFeu1bDL5ikZJ1vL0Fkz6JjoFke0L/wOJRIUDUlDUOFJ1tZ3ea7g6LGE/5hwuvWgLwewdcm64d+43l7F57XrOmqNd6flI2K/oPr/4yz"
    "Ngvi/EhT6Ca17BgB"
)


class FakePool:
    """Records the one request it is given and answers with a recorded stream."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.sent = None

    def request(self, method, url, headers, body, on_waiting=None):
        self.sent = (method, url, dict(headers), body)
        return FakeResponse(self.data)


def model(model_id="claude-x", base_url="https://api.anthropic.com", **fields) -> Model:
    fields.setdefault("max_tokens", 64000)
    return Model("anthropic", model_id, api="anthropic-messages", base_url=base_url, **fields)


def fixture(name: str) -> bytes:
    with open(os.path.join(WIRE, name), "rb") as handle:
        return handle.read()


def user(*parts) -> UserMessage:
    return UserMessage([Text(part) if isinstance(part, str) else part for part in parts])


def send(context, options=None, credential=None, target=None):
    """The (url, headers, body) that stream() puts on the wire."""
    pool = FakePool(fixture("fx-ant-text.sse"))
    credential = credential or Credential(api_key="sk-ant-test")
    provider.stream(target or model(), context, options or Options(), credential, pool)
    method, url, headers, body = pool.sent
    assert method == "POST"
    return url, headers, json.loads(body.decode("utf-8"))


def parse(data: bytes, model_id="claude-sonnet-4-5"):
    """The event generator for a recorded stream, and the fake response it reads."""
    response = FakeResponse(data)
    return provider._parse_stream(response, "https://api.anthropic.com/v1/messages?beta=true", model_id), response


def replay(name: str, model_id="claude-sonnet-4-5"):
    """Every event of a recorded stream, and the fake response it read."""
    events, response = parse(fixture(name), model_id)
    return list(events), response


def sse(*events) -> bytes:
    return b"".join(b"event: %s\ndata: %s\n\n" % (e["type"].encode(), json.dumps(e).encode()) for e in events)


class StopSequence(unittest.TestCase):
    def test_stop_sequence_from_message_delta(self) -> None:
        data = sse(
            {
                "type": "message_start",
                "message": {"id": "msg_1", "model": "claude-sonnet-4-5", "usage": {"input_tokens": 3}},
            },
            {
                "type": "message_delta",
                "delta": {"stop_reason": "stop_sequence", "stop_sequence": "END"},
                "usage": {"output_tokens": 1},
            },
            {"type": "message_stop"},
        )
        events, _response = parse(data)
        done = list(events)[-1]
        self.assertEqual((done.reason, done.raw_reason, done.stop_sequence), ("stop", "stop_sequence", "END"))


class CleanEnvironment(unittest.TestCase):
    def setUp(self) -> None:
        patcher = mock.patch.dict(os.environ)
        patcher.start()
        self.addCleanup(patcher.stop)
        os.environ.pop("PI_CACHE_RETENTION", None)


class Requests(CleanEnvironment):
    def test_plain_text(self) -> None:
        url, headers, body = send(Context(None, [user("hi")]), target=model(base_url="https://api.anthropic.com/"))
        self.assertEqual(url, "https://api.anthropic.com/v1/messages?beta=true")
        self.assertEqual(headers, dict(BASE_HEADERS, **{"x-api-key": "sk-ant-test"}))
        self.assertEqual(
            body,
            {
                "model": "claude-x",
                "max_tokens": 64000,
                "stream": True,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": EPHEMERAL}]}],
            },
        )

    def test_system_prefix_oauth_headers_and_sampling(self) -> None:
        credential = Credential(
            headers={
                "Authorization": "Bearer sk-ant-oat-1",
                "anthropic-beta": "claude-code-20250219,oauth-2025-04-20",
                "user-agent": "claude-cli/2.1.322",
                "x-app": "cli",
            },
            base_url="https://proxy.example/anthropic/",
            system_prefix="You are Claude Code, Anthropic's official CLI for Claude.",
        )
        # top_p is left out next to temperature: Claude Opus 4.1, Sonnet 4.5 and later refuse the pair.
        options = Options(max_tokens=500, temperature=0.2, top_p=0.9, top_k=40, stop=["END"], user="u-1")
        url, headers, body = send(
            Context("Be brief.", [user("hi")]), options, credential, model(headers={"X-Catalog": "1"})
        )
        self.assertEqual(url, "https://proxy.example/anthropic/v1/messages?beta=true")
        self.assertEqual(
            headers,
            {
                "Content-Type": "application/json",
                "Accept": "text/event-stream",
                "anthropic-version": "2023-06-01",
                "X-Catalog": "1",
                "Authorization": "Bearer sk-ant-oat-1",
                "user-agent": "claude-cli/2.1.322",
                "x-app": "cli",
                "anthropic-beta": "claude-code-20250219,oauth-2025-04-20",
            },
        )
        self.assertEqual(
            body,
            {
                "model": "claude-x",
                "max_tokens": 500,
                "stream": True,
                "system": [
                    {
                        "type": "text",
                        "text": "You are Claude Code, Anthropic's official CLI for Claude.",
                        "cache_control": EPHEMERAL,
                    },
                    {"type": "text", "text": "Be brief.", "cache_control": EPHEMERAL},
                ],
                "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": EPHEMERAL}]}],
                "temperature": 0.2,
                "top_k": 40,
                "stop_sequences": ["END"],
                "metadata": {"user_id": "u-1"},
            },
        )

    def test_images_blank_texts_and_merged_user_turns(self) -> None:
        context = Context(
            "",
            [
                user("look", Image("QUJD", "image/png"), "  "),
                user(""),
                user("and this"),
            ],
        )
        _url, _headers, body = send(context)
        self.assertNotIn("system", body)
        self.assertEqual(
            body["messages"],
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "look"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QUJD"}},
                        {"type": "text", "text": "and this", "cache_control": EPHEMERAL},
                    ],
                }
            ],
        )

    def test_tool_round_trip_with_sanitised_ids_and_merged_results(self) -> None:
        long_id = "toolu_" + "a" * 70
        context = Context(
            None,
            [
                user("weather in Paris and Rome?"),
                AssistantMessage(
                    [
                        Thinking("unsigned, dropped"),
                        Thinking("let me look", "sig-1"),
                        Thinking("", "opaque-1", redacted=True),
                        Text("Checking."),
                        Text(" "),
                        ToolCall("call|1/x", "get_weather", {"city": "Paris"}, '{"city": "Paris"}'),
                        ToolCall(long_id, "get_weather", None),
                    ]
                ),
                ToolResultMessage("call|1/x", "get_weather", [Text("18C"), Text("sunny")]),
                ToolResultMessage(long_id, "get_weather", [], is_error=True),
                user("thanks"),
            ],
            [Tool("get_weather", "Weather for a city", {"type": "object", "properties": {"city": {"type": "string"}}})],
        )
        _url, headers, body = send(context)
        self.assertNotIn("anthropic-beta", headers)
        self.assertEqual(
            body["tools"],
            [
                {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "eager_input_streaming": True,
                    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
                    "cache_control": EPHEMERAL,
                }
            ],
        )
        self.assertNotIn("tool_choice", body)
        self.assertEqual(
            body["messages"],
            [
                {"role": "user", "content": [{"type": "text", "text": "weather in Paris and Rome?"}]},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "let me look", "signature": "sig-1"},
                        {"type": "redacted_thinking", "data": "opaque-1"},
                        {"type": "text", "text": "Checking."},
                        {"type": "tool_use", "id": "call_1_x", "name": "get_weather", "input": {"city": "Paris"}},
                        {"type": "tool_use", "id": long_id[:64], "name": "get_weather", "input": {}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "call_1_x", "content": "18C\nsunny", "is_error": False},
                        {"type": "tool_result", "tool_use_id": long_id[:64], "content": "", "is_error": True},
                        {"type": "text", "text": "thanks", "cache_control": EPHEMERAL},
                    ],
                },
            ],
        )

    def test_thinking_of_another_model_is_dropped(self) -> None:
        thinking = [Thinking("mine", "sig-a"), Text("answer")]
        context = Context(
            None,
            [
                user("q"),
                AssistantMessage(thinking, "anthropic", "anthropic-messages", "claude-x"),
                user("q2"),
                AssistantMessage([Thinking("theirs", "reasoning_content"), Text("other")], "openai", None, "gpt-x"),
            ],
        )
        _url, _headers, body = send(context)
        self.assertEqual(
            body["messages"][1:],
            [
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "mine", "signature": "sig-a"},
                        {"type": "text", "text": "answer"},
                    ],
                },
                {"role": "user", "content": [{"type": "text", "text": "q2"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "other"}]},
            ],
        )

    def test_tool_results_with_images(self) -> None:
        picture = Image("UE5H", "image/png")
        context = Context(
            None,
            [
                user("go"),
                AssistantMessage([ToolCall("a", "shot", {}), ToolCall("b", "read", {})]),
                ToolResultMessage("a", "shot", [picture]),
                ToolResultMessage("b", "read", [Text("failed"), picture], is_error=True),
            ],
        )
        _url, _headers, body = send(context)
        image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "UE5H"}}
        self.assertEqual(
            body["messages"][2],
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "a",
                        "content": [{"type": "text", "text": "(see attached image)"}, image],
                        "is_error": False,
                    },
                    {
                        "type": "tool_result",
                        "tool_use_id": "b",
                        "content": "failed\n(image attached after the tool results)",
                        "is_error": True,
                    },
                    {"type": "text", "text": "Images from the error result of tool call b (read):"},
                    dict(image, cache_control=EPHEMERAL),
                ],
            },
        )

    def test_tool_choice_variants(self) -> None:
        tools = [Tool("t", "", {"type": "object", "properties": {}})]
        cases = [
            (Options(tool_choice="auto"), {"type": "auto"}),
            (Options(tool_choice="required"), {"type": "any"}),
            (Options(tool_choice="none"), {"type": "none"}),
            (Options(tool_choice={"name": "t"}), {"type": "tool", "name": "t"}),
            (Options(parallel_tool_calls=False), {"type": "auto", "disable_parallel_tool_use": True}),
            (
                Options(tool_choice="required", parallel_tool_calls=False),
                {"type": "any", "disable_parallel_tool_use": True},
            ),
            (
                Options(tool_choice={"name": "t"}, parallel_tool_calls=False),
                {"type": "tool", "name": "t", "disable_parallel_tool_use": True},
            ),
            (Options(tool_choice="none", parallel_tool_calls=False), {"type": "none"}),
            (Options(parallel_tool_calls=True), None),
        ]
        for options, expected in cases:
            with self.subTest(choice=options.tool_choice, parallel=options.parallel_tool_calls):
                _url, _headers, body = send(Context(None, [user("x")], tools), options)
                self.assertEqual(body.get("tool_choice"), expected)
        _url, _headers, body = send(Context(None, [user("x")]), Options(tool_choice="required"))
        self.assertNotIn("tool_choice", body)  # Anthropic refuses a tool_choice without tools

    def test_tool_schemas_and_tool_compat(self) -> None:
        rich = {
            "type": "object",
            "properties": {"path": {"$ref": "#/$defs/p"}},
            "required": ["path"],
            "additionalProperties": False,
            "$defs": {"p": {"type": "string"}},
        }
        tools = [
            Tool("rich", "r", rich, strict=True),
            Tool("bare", "b", {}),
            Tool("odd", "o", {"type": "string"}),
            Tool("props_only", "p", {"properties": {"a": {"type": "integer"}}}),
        ]
        target = model(compat={"supportsEagerToolInputStreaming": False, "supportsCacheControlOnTools": False})
        _url, headers, body = send(Context(None, [user("x")], tools), target=target)
        self.assertEqual(headers["anthropic-beta"], "fine-grained-tool-streaming-2025-05-14")
        self.assertEqual(
            body["tools"],
            [
                {"name": "rich", "description": "r", "input_schema": rich},
                {"name": "bare", "description": "b", "input_schema": {"type": "object", "properties": {}}},
                {"name": "odd", "description": "o", "input_schema": {"type": "object", "properties": {}}},
                {
                    "name": "props_only",
                    "description": "p",
                    "input_schema": {"type": "object", "properties": {"a": {"type": "integer"}}},
                },
            ],
        )
        _url, _headers, body = send(
            Context(None, [user("x")], tools[:1]), target=model(compat={"supportsStrictTools": True})
        )
        self.assertEqual(
            body["tools"],
            [
                {
                    "name": "rich",
                    "description": "r",
                    "eager_input_streaming": True,
                    "strict": True,
                    "input_schema": rich,
                    "cache_control": EPHEMERAL,
                }
            ],
        )

    def test_budget_thinking_levels(self) -> None:
        reasoning = model(reasoning=True)
        enabled = "interleaved-thinking-2025-05-14"
        cases = [
            (Options(reasoning="low"), 64000, {"type": "enabled", "budget_tokens": 2048, "display": "summarized"}),
            (
                Options(reasoning="high", max_tokens=4000),
                20384,
                {"type": "enabled", "budget_tokens": 16384, "display": "summarized"},
            ),
            (
                Options(reasoning="xhigh", max_tokens=63000),
                64000,
                {"type": "enabled", "budget_tokens": 16384, "display": "summarized"},
            ),
            (
                Options(reasoning="medium", thinking_budget=5000, max_tokens=2000),
                7000,
                {"type": "enabled", "budget_tokens": 5000, "display": "summarized"},
            ),
            (
                Options(thinking_budget=60000, max_tokens=10000),
                64000,
                {"type": "enabled", "budget_tokens": 60000, "display": "summarized"},
            ),
            (
                Options(reasoning="minimal", max_tokens=100),
                1124,
                {"type": "enabled", "budget_tokens": 100, "display": "summarized"},
            ),
        ]
        for options, max_tokens, thinking in cases:
            with self.subTest(level=options.reasoning, budget=options.thinking_budget, max_tokens=options.max_tokens):
                options.temperature = 0.5
                _url, headers, body = send(Context(None, [user("x")]), options, target=reasoning)
                self.assertEqual((body["max_tokens"], body["thinking"]), (max_tokens, thinking))
                self.assertEqual(headers["anthropic-beta"], enabled)
                self.assertNotIn("temperature", body)
                self.assertNotIn("output_config", body)

    def test_thinking_off_and_unset(self) -> None:
        reasoning = model(reasoning=True)
        _url, headers, body = send(
            Context(None, [user("x")]), Options(reasoning="off", temperature=0.5), target=reasoning
        )
        self.assertEqual(
            (body["thinking"], body["temperature"], body["max_tokens"]), ({"type": "disabled"}, 0.5, 64000)
        )
        self.assertNotIn("anthropic-beta", headers)
        always_thinks = model(reasoning=True, thinking_level_map={"off": None})
        _url, _headers, body = send(Context(None, [user("x")]), Options(reasoning="off"), target=always_thinks)
        self.assertNotIn("thinking", body)
        _url, _headers, body = send(Context(None, [user("x")]), Options(), target=reasoning)
        self.assertNotIn("thinking", body)
        _url, _headers, body = send(Context(None, [user("x")]), Options(reasoning="high"), target=model())
        self.assertNotIn("thinking", body)

    def test_adaptive_thinking_efforts(self) -> None:
        compat = {"forceAdaptiveThinking": True, "supportsTemperature": False}
        opus = model(reasoning=True, compat=compat, thinking_level_map={"max": "max", "xhigh": "xhigh"})
        older = model(reasoning=True, compat=compat, thinking_level_map={"max": "max"})
        cases = [
            (opus, "minimal", "low"),
            (opus, "medium", "medium"),
            (opus, "xhigh", "xhigh"),
            (opus, "max", "max"),
            (older, "xhigh", "max"),
        ]
        for target, level, effort in cases:
            with self.subTest(level=level, levels=target.thinking_level_map):
                _url, headers, body = send(Context(None, [user("x")]), Options(reasoning=level), target=target)
                self.assertEqual(body["thinking"], {"type": "adaptive", "display": "summarized"})
                self.assertEqual(body["output_config"], {"effort": effort})
                self.assertEqual(body["max_tokens"], 64000)
                self.assertNotIn("anthropic-beta", headers)
        _url, _headers, body = send(Context(None, [user("x")]), Options(thinking_budget=3000), target=opus)
        self.assertEqual(body["thinking"], {"type": "adaptive", "display": "summarized"})
        self.assertNotIn("output_config", body)
        _url, _headers, body = send(Context(None, [user("x")]), Options(reasoning="off", temperature=1.0), target=opus)
        self.assertEqual(body["thinking"], {"type": "disabled"})
        self.assertNotIn("temperature", body)

    def test_long_cache_retention_and_no_marker_after_assistant(self) -> None:
        context = Context("sys", [user("q"), AssistantMessage([Text("prefill")])], [Tool("t", "", {})])
        credential = Credential(api_key="k", env={"PI_CACHE_RETENTION": "long"})
        _url, _headers, body = send(context, credential=credential)
        hour = {"type": "ephemeral", "ttl": "1h"}
        self.assertEqual(body["system"], [{"type": "text", "text": "sys", "cache_control": hour}])
        self.assertEqual(body["tools"][0]["cache_control"], hour)
        self.assertEqual(
            body["messages"],
            [
                {"role": "user", "content": [{"type": "text", "text": "q"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "prefill"}]},
            ],
        )
        os.environ["PI_CACHE_RETENTION"] = "long"
        _url, _headers, body = send(context, target=model(compat={"supportsLongCacheRetention": False}))
        self.assertEqual(body["system"][0]["cache_control"], EPHEMERAL)

    def test_beta_merge_with_catalog_and_credential_betas(self) -> None:
        target = model(
            reasoning=True,
            headers={"anthropic-beta": "context-1m-2025-08-07, interleaved-thinking-2025-05-14"},
            compat={"supportsEagerToolInputStreaming": False, "allowedFallbackModels": [{"model": "claude-y"}]},
        )
        credential = Credential(api_key="k", headers={"Anthropic-Beta": "oauth-2025-04-20,context-1m-2025-08-07"})
        context = Context(None, [user("x")], [Tool("t", "", {})])
        _url, headers, body = send(context, Options(reasoning="low"), credential, target)
        self.assertEqual(
            headers["anthropic-beta"],
            "fine-grained-tool-streaming-2025-05-14,interleaved-thinking-2025-05-14,server-side-fallback-2026-07-01,"
            "context-1m-2025-08-07,oauth-2025-04-20",
        )
        self.assertNotIn("Anthropic-Beta", headers)
        self.assertEqual(body["fallbacks"], [{"model": "claude-y"}])

    def test_api_key_only_when_no_auth_header(self) -> None:
        cases = [
            ({}, {"x-api-key": "sk-ant-test"}),
            ({"authorization": "Bearer t"}, {"authorization": "Bearer t"}),
            ({"X-Api-Key": "from-headers"}, {"X-Api-Key": "from-headers"}),
            ({"cf-aig-authorization": "Bearer g"}, {"cf-aig-authorization": "Bearer g"}),
        ]
        for extra, auth in cases:
            with self.subTest(headers=extra):
                credential = Credential(api_key="sk-ant-test", headers=extra)
                _url, headers, _body = send(Context(None, [user("x")]), credential=credential)
                self.assertEqual(headers, dict(BASE_HEADERS, **auth))

    def test_lone_surrogates_are_removed(self) -> None:
        pool = FakePool(fixture("fx-ant-text.sse"))
        provider.stream(model(), Context(None, [user("a\ud800b")]), Options(), Credential(api_key="k"), pool)
        self.assertIn(b'"text": "ab"', pool.sent[3])


class StreamParsing(unittest.TestCase):
    def test_recorded_text(self) -> None:
        events, response = replay("fx-ant-text.sse")
        self.assertEqual(
            describe(events),
            [
                ("Start", "msg_01QC4g3HwBThD4BaNtBckFDJ", "claude-sonnet-4-5-20250929"),
                ("TextStart", 0),
                ("TextDelta", 0, "Hello"),
                ("TextDelta", 0, "! I"),
                ("TextDelta", 0, "'m doing well, thank you for asking"),
                ("TextDelta", 0, ". How are you doing today?"),
                ("TextDelta", 0, " Is"),
                ("TextDelta", 0, " there anything I can help you with?"),
                ("TextEnd", 0, None),
                ("Done", "stop", "end_turn", (12, 30, 0, 0, 0)),
            ],
        )
        self.assertEqual(response.finished, "released")

    def test_text_deltas_after_the_first_are_read_without_a_parse(self) -> None:
        with mock.patch.object(provider.fast_json, "loads", wraps=provider.fast_json.loads) as loads:
            events, _response = replay("fx-ant-text.sse")
        # 12 events, 5 of them text deltas like the first: 7 parses and the template's probe
        self.assertEqual(loads.call_count, 8)
        with mock.patch.object(provider.fast_json.Template, "learn", return_value=None):
            parsed, _response = replay("fx-ant-text.sse")  # every event parsed
        self.assertEqual(describe(events), describe(parsed))

    def test_text_deltas_like_the_first_follow_their_block(self) -> None:
        def delta(index, text):
            return {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}}

        data = sse(
            {"type": "message_start", "message": {"id": "m", "model": "claude-x", "usage": {}}},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            delta(0, "a"),
            delta(0, "b"),
            delta(0, ""),
            {"type": "content_block_stop", "index": 0},
            delta(0, "after its block stopped"),
            {"type": "content_block_start", "index": 1, "content_block": {"type": "thinking", "thinking": ""}},
            delta(1, "not text in a thinking block"),
            {"type": "content_block_stop", "index": 1},
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}},
            {"type": "message_stop"},
        )
        events, _response = parse(data, "claude-x")
        self.assertEqual(
            describe(list(events)),
            [
                ("Start", "m", None),
                ("TextStart", 0),
                ("TextDelta", 0, "a"),
                ("TextDelta", 0, "b"),
                ("TextEnd", 0, None),
                ("ThinkingStart", 1),
                ("ThinkingEnd", 1, None, False),
                ("Done", "stop", "end_turn", (0, 0, 0, 0, 0)),
            ],
        )

    def test_recorded_thinking_with_signature(self) -> None:
        events, _response = replay("fx-ant-thinking.sse")
        described = describe(events)
        self.assertEqual(
            described[:2],
            [("Start", "msg_01Y6V41gqPaKWEw7iPouH7iW", "claude-sonnet-4-5-20250929"), ("ThinkingStart", 0)],
        )
        self.assertEqual(
            described[-7:],
            [
                ("ThinkingEnd", 0, SIGNATURE, False),
                ("TextStart", 1),
                ("TextDelta", 1, "925"),
                ("TextDelta", 1, " ÷ 5 "),
                ("TextDelta", 1, "= 185"),
                ("TextEnd", 1, None),
                ("Done", "stop", "end_turn", (69, 53, 0, 0, 0)),
            ],
        )
        answer = collect(iter(events))
        self.assertEqual(
            [(type(p).__name__, getattr(p, "thinking", None) or p.text, p.signature) for p in answer.content],
            [
                (
                    "Thinking",
                    "The previous result was 925. Now I need to divide that by 5.\n\n925 ÷ 5 = 185",
                    SIGNATURE,
                ),
                ("Text", "925 ÷ 5 = 185", None),
            ],
        )
        self.assertEqual(len(described), 9 + 9)  # the empty thinking delta is not passed on

    def test_recorded_tool_use(self) -> None:
        events, _response = replay("fx-ant-tool.sse", "claude-sonnet-4-20250514")
        self.assertEqual(
            describe(events),
            [
                ("Start", "msg_019Q1hrJbZG26Fb9BQhrkHEr", None),
                ("TextStart", 0),
                ("TextDelta", 0, "I"),
                ("TextDelta", 0, "'ll check the current weather in Paris for you."),
                ("TextEnd", 0, None),
                ("ToolCallStart", 1, "toolu_01NRLabsLyVHZPKxbKvkfSMn", "get_weather"),
                ("ToolCallDelta", 1, '{"locati'),
                ("ToolCallDelta", 1, 'on": "P'),
                ("ToolCallDelta", 1, "ar"),
                ("ToolCallDelta", 1, 'is"}'),
                ("ToolCallEnd", 1),
                ("Done", "toolUse", "tool_use", (377, 65, 0, 0, 0)),
            ],
        )
        self.assertEqual(collect(iter(events)).content[1].arguments, {"location": "Paris"})

    def test_recorded_tool_only_and_documented_tool(self) -> None:
        expected = {
            "fx-ant-tool-haiku.sse": (
                "toolu_01TJoxvFknVdnV9XpWFPaRmY",
                {"location": "San Francisco, CA", "units": "f"},
            ),
            "fx-ant-docs-tool.sse": (
                "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                {"location": "San Francisco, CA", "unit": "fahrenheit"},
            ),
        }
        for name, (call_id, arguments) in expected.items():
            with self.subTest(name=name):
                events, _response = parse(fixture(name))
                answer = collect(events)
                call = answer.content[-1]
                self.assertEqual(
                    (call.id, call.name, call.arguments, answer.reason), (call_id, "get_weather", arguments, "toolUse")
                )

    def test_recorded_tool_without_arguments(self) -> None:
        events, _response = replay("fx-ant-tool-noargs.sse")
        self.assertEqual(
            describe(events)[-3:],
            [
                ("ToolCallStart", 1, "toolu_01QE1WLsSVp5hy5Q3GmGTmjP", "updateIssueList"),
                ("ToolCallEnd", 1),
                ("Done", "toolUse", "tool_use", (565, 48, 0, 0, 0)),
            ],
        )
        call = collect(iter(events)).content[1]
        self.assertEqual((call.arguments, call.raw_arguments), ({}, ""))

    def test_recorded_max_tokens_closes_the_open_tool_call(self) -> None:
        events, response = replay("fx-ant-max-tokens.sse", "claude-3-7-sonnet-20250219")
        self.assertEqual(
            describe(events)[-4:],
            [
                (
                    "ToolCallDelta",
                    1,
                    '", "lines_of_text": [\n"# COMPREHENSIVE TAX GUIDE FOR INDIVIDUALS WITH MULTIPLE W-2s",\n'
                    '"",\n"## INTRODUCTION",\n"",',
                ),
                ("ToolCallDelta", 1, '\n"Filing taxes'),
                ("ToolCallEnd", 1),
                ("Done", "length", "max_tokens", (450, 124, 0, 0, 0)),
            ],
        )
        self.assertEqual(collect(iter(events)).content[1].arguments, {})
        self.assertEqual(response.finished, "released")

    def test_recorded_refusal(self) -> None:
        events, _response = replay("fx-ant-refusal.sse", "claude-opus-4-7")
        self.assertEqual(
            describe(events),
            [
                ("Start", "msg_01RefusalTestMessage123456789", None),
                ("TextStart", 0),
                ("TextEnd", 0, None),
                ("Done", "contentFilter", "refusal", (20, 0, 0, 0, 0)),
            ],
        )

    def test_usage_from_message_delta_wins(self) -> None:
        events, _response = replay("fx-ant-usage-delta.sse", "claude-opus-4-5-20251101")
        self.assertEqual(describe(events)[-1], ("Done", "stop", "end_turn", (61, 2, 0, 0, 0)))
        events, _response = replay("fx-ant-docs-text.sse", "claude-opus-4-1-20250805")
        answer = collect(events)
        self.assertEqual((answer.content[0].text, answer.usage.input, answer.usage.output), ("Hello!", 25, 15))
        data = sse(
            {
                "type": "message_start",
                "message": {
                    "id": "m",
                    "model": "claude-x",
                    "usage": {
                        "input_tokens": 5,
                        "cache_read_input_tokens": 100,
                        "cache_creation_input_tokens": 7,
                        "output_tokens": 1,
                    },
                },
            },
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {
                    "input_tokens": None,
                    "cache_read_input_tokens": 90,
                    "output_tokens": 40,
                    "output_tokens_details": {"thinking_tokens": 12},
                },
            },
            {"type": "message_stop"},
        )
        events, _response = parse(data, "claude-x")
        self.assertEqual(describe(events), [("Start", "m", None), ("Done", "stop", "end_turn", (5, 40, 90, 7, 12))])

    def test_overloaded_error_mid_stream(self) -> None:
        events, response = parse(fixture("fx-ant-error-overloaded.sse"))
        seen = []
        with self.assertRaises(GatewayError) as caught:
            for event in events:
                seen.append(event)
        error = caught.exception
        self.assertEqual((error.status, error.type, error.message), (502, "overloaded_error", "Overloaded"))
        self.assertEqual(
            describe(seen),
            [
                ("Start", "msg_01QC4g3HwBThD4BaNtBckFDJ", "claude-sonnet-4-5-20250929"),
                ("TextStart", 0),
                ("TextDelta", 0, "Hello"),
                ("TextDelta", 0, "! I"),
            ],
        )
        self.assertEqual(response.finished, "closed")

    def test_error_events_by_type(self) -> None:
        cases = [
            (
                b'event: error\ndata: {"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}\n\n',
                (429, "rate_limit_error", "slow down"),
            ),
            (
                b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"boom"}}\n\n',
                (502, "api_error", "boom"),
            ),
            (
                b'data: {"type":"error","error":{"type":"brand_new_error","message":"new"}}\n\n',
                (502, "brand_new_error", "new"),
            ),
            (b"event: error\ndata: upstream fell over\n\n", (502, "api_error", "upstream fell over")),
        ]
        for data, expected in cases:
            with self.subTest(data=data):
                events, _response = parse(data)
                with self.assertRaises(GatewayError) as caught:
                    list(events)
                self.assertEqual((caught.exception.status, caught.exception.type, caught.exception.message), expected)

    def test_redacted_thinking_and_skipped_block_types(self) -> None:
        data = sse(
            {"type": "message_start", "message": {"id": "m", "model": "claude-x", "usage": {"input_tokens": 3}}},
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "redacted_thinking", "data": "opaque"},
            },
            {"type": "content_block_stop", "index": 0},
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "server_tool_use", "id": "s", "name": "web_search"},
            },
            {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{}"}},
            {"type": "content_block_stop", "index": 1},
            {"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": ""}},
            {"type": "content_block_delta", "index": 2, "delta": {"type": "citations_delta", "citation": {}}},
            {"type": "content_block_delta", "index": 2, "delta": {"type": "text_delta", "text": "ok"}},
            {"type": "content_block_stop", "index": 2},
            {"type": "message_delta", "delta": {"stop_reason": "pause_turn"}, "usage": {"output_tokens": 4}},
            {"type": "message_stop"},
        )
        events, _response = parse(data, "claude-x")
        self.assertEqual(
            describe(events),
            [
                ("Start", "m", None),
                ("ThinkingStart", 0),
                ("ThinkingEnd", 0, "opaque", True),
                ("TextStart", 2),
                ("TextDelta", 2, "ok"),
                ("TextEnd", 2, None),
                ("Done", "stop", "pause_turn", (3, 4, 0, 0, 0)),
            ],
        )

    def test_incomplete_streams_are_errors_and_close_the_upstream(self) -> None:
        start = {"type": "message_start", "message": {"id": "m", "model": "claude-x", "usage": {}}}
        cases = [
            (
                sse(start, {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}),
                "The upstream stream ended before message_stop.",
            ),
            (sse(start, {"type": "message_stop"}), "The upstream stream ended without a stop_reason."),
            (
                sse(start, {"type": "message_delta", "delta": {"stop_reason": "wat"}}, {"type": "message_stop"}),
                "Unhandled stop reason: wat",
            ),
            (b"event: message_start\ndata: {not json\n\n", "The upstream sent a stream event that is not JSON."),
            (b"", "The upstream stream ended before message_stop."),
        ]
        for data, message in cases:
            with self.subTest(message=message):
                events, response = parse(data, "claude-x")
                with self.assertRaises(GatewayError) as caught:
                    list(events)
                self.assertEqual((caught.exception.status, caught.exception.message), (502, message))
                self.assertEqual(caught.exception.code, "upstream_unreachable")
                self.assertEqual(response.finished, "closed")

    def test_generator_closed_early_closes_upstream(self) -> None:
        events, response = parse(fixture("fx-ant-text.sse"))
        next(events)
        events.close()
        self.assertEqual(response.finished, "closed")


class EndToEnd(CleanEnvironment):
    """stream() over real sockets against the loopback mock upstream."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.mock = MockUpstream().start()
        cls.pool = Pool(connect_timeout=2.0, read_timeout=5.0, environ={})

    @classmethod
    def tearDownClass(cls) -> None:
        cls.pool.close()
        cls.mock.stop()

    def run_model(self, model_id: str, context=None):
        target = model(model_id, base_url=self.mock.base_url)
        context = context or Context("Be kind.", [user("hi")])
        return collect(
            provider.stream(target, context, Options(max_tokens=100), Credential(api_key="sk-ant-e2e"), self.pool)
        )

    def test_recorded_text_over_the_wire(self) -> None:
        answer = self.run_model("fx-ant-text")
        self.assertEqual(
            answer.content[0].text,
            "Hello! I'm doing well, thank you for asking. How are you doing today? "
            "Is there anything I can help you with?",
        )
        self.assertEqual((answer.reason, answer.raw_reason, answer.usage.output), ("stop", "end_turn", 30))
        recorded = self.mock.requests[-1]
        self.assertEqual((recorded.method, recorded.path), ("POST", "/v1/messages?beta=true"))
        headers = {name: value for name, value in recorded.headers.items() if name not in ("host", "content-length")}
        self.assertEqual(
            headers,
            {
                "content-type": "application/json",
                "accept": "text/event-stream",
                "anthropic-version": "2023-06-01",
                "user-agent": "pigw/" + __version__,
                "x-api-key": "sk-ant-e2e",
            },
        )
        self.assertEqual(recorded.json["system"], [{"type": "text", "text": "Be kind.", "cache_control": EPHEMERAL}])

    def test_echo_model(self) -> None:
        answer = self.run_model("claude-echo", Context(None, [user("ping")]))
        self.assertEqual(
            (answer.response_id, answer.model, answer.content[0].text, answer.reason),
            ("msg_mock", None, "echo: ping", "stop"),
        )

    def test_http_529_is_a_gateway_error_before_any_event(self) -> None:
        self.mock.script("fx-ant-error-overloaded", status=529, body=fixture("fx-ant-error-overloaded.json"))
        self.addCleanup(self.mock.script, "fx-ant-error-overloaded")
        target = model("fx-ant-error-overloaded", base_url=self.mock.base_url)
        with self.assertRaises(GatewayError) as caught:
            provider.stream(target, Context(None, [user("hi")]), Options(), Credential(api_key="sk-ant-e2e"), self.pool)
        error = caught.exception
        self.assertEqual((error.status, error.type, error.message), (502, "overloaded_error", "Overloaded"))

    def test_registered_for_its_api_kind(self) -> None:
        self.assertIs(providers.for_api("anthropic-messages"), provider)


if __name__ == "__main__":
    unittest.main()
