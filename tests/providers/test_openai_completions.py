"""openai-completions: exact request bodies per compat flags, and recorded streams to exact canonical events."""

import json
import os
import unittest
from unittest import mock

from pigw import fast_json
from pigw.core import (
    AssistantMessage,
    Context,
    Image,
    Options,
    Text,
    TextDelta,
    TextStart,
    Thinking,
    ThinkingDelta,
    ThinkingStart,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolResultMessage,
    UserMessage,
    collect,
)
from pigw.errors import GatewayError
from pigw.providers import openai_completions as provider
from pigw.registry import Model
from tests.support.events import FakeResponse, describe

EXPECTED_CALLS = {
    "fx-oai-tool-qwen.sse": [("call_eee11723464a4b9eb8cee71d", "weather", '{"location": "San Francisco"}')],
    "fx-oai-tool-groq.sse": [("tk85n1k4m", "weather", "{}")],
}
WIRE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "wire", "openai-chat")


def model(provider_id="openai-like", model_id="m-1", base_url="https://api.example.com/v1", **fields) -> Model:
    return Model(provider_id, model_id, api="openai-completions", base_url=base_url, **fields)


def fixture(name: str) -> bytes:
    with open(os.path.join(WIRE, name), "rb") as handle:
        return handle.read()


class RequestBodies(unittest.TestCase):
    def test_plain_openai_style_body(self) -> None:
        context = Context("sys", [UserMessage([Text("hi")])])
        options = Options(max_tokens=10, temperature=0.5, stop=["x"])
        m = model()
        body = provider.build_body(m, provider.compat_for(m), context, options)
        self.assertEqual(
            body,
            {
                "model": "m-1",
                "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}],
                "stream": True,
                "stream_options": {"include_usage": True},
                "max_completion_tokens": 10,
                "temperature": 0.5,
                "stop": ["x"],
            },
        )

    def test_detected_vendor_defaults(self) -> None:
        deepseek = model("deepseek", "deepseek-chat", "https://api.deepseek.com", reasoning=True)
        compat = provider.compat_for(deepseek)
        self.assertEqual(compat["maxTokensField"], "max_tokens")
        self.assertEqual(compat["thinkingFormat"], "deepseek")
        self.assertFalse(compat["supportsStore"])
        self.assertFalse(compat["supportsDeveloperRole"])
        self.assertTrue(compat["requiresReasoningContentOnAssistantMessages"])
        context = Context("sys", [UserMessage([Text("q")]), AssistantMessage([Text("a")]), UserMessage([Text("q2")])])
        body = provider.build_body(deepseek, compat, context, Options(max_tokens=5))
        self.assertEqual(
            body["messages"],
            [
                {"role": "system", "content": "sys"},
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a", "reasoning_content": ""},
                {"role": "user", "content": "q2"},
            ],
        )
        self.assertEqual(body["max_tokens"], 5)
        openrouter_claude = model("openrouter", "anthropic/claude-x", "https://openrouter.ai/api/v1", reasoning=True)
        compat = provider.compat_for(openrouter_claude)
        self.assertTrue(compat["supportsDeveloperRole"])
        self.assertEqual(compat["cacheControlFormat"], "anthropic")
        body = provider.build_body(openrouter_claude, compat, Context("sys", [UserMessage([Text("q")])]), Options())
        self.assertEqual(body["messages"][0], {"role": "developer", "content": "sys"})
        self.assertFalse(
            provider.compat_for(model("openrouter", "meta/llama", "https://openrouter.ai/api/v1"))[
                "supportsDeveloperRole"
            ]
        )

    def test_model_compat_wins_field_by_field(self) -> None:
        m = model(
            "zai", "glm", "https://api.z.ai/api/coding/paas/v4", compat={"maxTokensField": "max_completion_tokens"}
        )
        compat = provider.compat_for(m)
        self.assertEqual(compat["maxTokensField"], "max_completion_tokens")
        self.assertEqual(compat["thinkingFormat"], "zai")
        self.assertFalse(compat["supportsReasoningEffort"])

    def test_tool_result_images_follow_the_run_for_vision_models(self) -> None:
        """pi's rule: a placeholder in the tool message, the images in one user message after the run of results."""
        screenshot = ToolResultMessage("call_1", "shot", [Image("UE5H", "image/png")])
        context = Context(None, [UserMessage([Text("go")]), screenshot, ToolResultMessage("call_2", "ls", [Text("a")])])
        tail = [
            {"role": "tool", "tool_call_id": "call_1", "content": "(see attached image)"},
            {"role": "tool", "tool_call_id": "call_2", "content": "a"},
        ]
        attached = {
            "role": "user",
            "content": [
                {"type": "text", "text": "Attached image(s) from tool result:"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,UE5H"}},
            ],
        }
        cases = [
            (model(input=("text",)), tail),
            (model(input=("text", "image")), tail + [attached]),
            (
                model(input=("text", "image"), compat={"requiresAssistantAfterToolResult": True}),
                tail + [{"role": "assistant", "content": "I have processed the tool results."}, attached],
            ),
        ]
        for m, expected in cases:
            with self.subTest(input=m.input, compat=m.compat):
                messages = provider.convert_messages(m, provider.compat_for(m), context)
                self.assertEqual(messages[1:], expected)
        m = model(input=("text", "image"), compat={"requiresAssistantAfterToolResult": True})
        later = Context(None, context.messages + [UserMessage([Text("and?")])])
        self.assertEqual(
            provider.convert_messages(m, provider.compat_for(m), later)[-2:],
            [attached, {"role": "user", "content": "and?"}],
        )

    def test_tool_history_images_and_bridges(self) -> None:
        m = model(
            compat={"requiresToolResultName": True, "requiresAssistantAfterToolResult": True, "zaiToolStream": True}
        )
        context = Context(
            None,
            [
                UserMessage([Text("look"), Image("QUJD", "image/png"), Text("")]),
                AssistantMessage(
                    [Thinking("hmm", "reasoning_content"), ToolCall("call_1", "get", {"a": 1}, '{"a": 1}')]
                ),
                ToolResultMessage("call_1", "get", [Text("42")]),
                ToolResultMessage("call_2", "get", []),
                UserMessage([Text("thanks")]),
            ],
            [Tool("get", "Get a thing", {"type": "object"}, strict=True)],
        )
        body = provider.build_body(m, provider.compat_for(m), context, Options(tool_choice={"name": "get"}))
        self.assertEqual(
            body["messages"],
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "look"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD"}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": "",
                    "reasoning_content": "hmm",
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "get", "arguments": '{"a": 1}'}}
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "42", "name": "get"},
                {"role": "tool", "tool_call_id": "call_2", "content": "(no tool output)", "name": "get"},
                {"role": "assistant", "content": "I have processed the tool results."},
                {"role": "user", "content": "thanks"},
            ],
        )
        self.assertEqual(
            body["tools"],
            [
                {
                    "type": "function",
                    "function": {
                        "name": "get",
                        "description": "Get a thing",
                        "parameters": {"type": "object"},
                        "strict": True,
                    },
                }
            ],
        )
        self.assertIs(body["tool_stream"], True)
        self.assertEqual(body["tool_choice"], {"type": "function", "function": {"name": "get"}})

    def test_headers_key_and_catalog_headers(self) -> None:
        class Cred:
            api_key = "sk-test"
            headers = {"x-extra": "1"}
            base_url = None

        m = model(headers={"NVCF-POLL-SECONDS": "3600", "User-Agent": "custom/1"})
        self.assertEqual(
            provider.build_headers(m, Cred()),
            {
                "Content-Type": "application/json",
                "Accept": "text/event-stream",
                "NVCF-POLL-SECONDS": "3600",
                "User-Agent": "custom/1",
                "x-extra": "1",
                "Authorization": "Bearer sk-test",
            },
        )
        Cred.headers = {"cf-aig-authorization": "Bearer k"}
        Cred.api_key = None
        self.assertNotIn("Authorization", provider.build_headers(m, Cred()))


class StreamParsing(unittest.TestCase):
    def parse(self, name: str, compat_model=None):
        response = FakeResponse(fixture(name))
        m = compat_model or model(model_id="gpt-4o-2024-08-06")
        events = list(provider._parse_stream(response, "https://x/v1/chat/completions", provider.compat_for(m), m.id))
        return events, response

    def test_recorded_text_stream(self) -> None:
        events, response = self.parse("fx-oai-text.sse")
        described = describe(events)
        self.assertEqual(described[0], ("Start", "chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL", None))
        self.assertEqual(described[1], ("TextStart", 0))
        text = "".join(event.delta for event in events if isinstance(event, TextDelta))
        self.assertEqual(
            text,
            "I'm unable to provide real-time weather updates. To get the current weather in San Francisco, "
            "I recommend checking a reliable weather website or a weather app.",
        )
        self.assertEqual(described[-1], ("Done", "stop", "stop", (14, 30, 0, 0, 0)))
        self.assertEqual(response.finished, "released")

    def test_text_chunks_that_repeat_the_first_are_read_without_a_parse(self) -> None:
        data = [line[6:] for line in fixture("fx-oai-text-long.sse").decode().split("\n") if line.startswith("data: ")]
        texts = [json.loads(text)["choices"][0]["delta"].get("content") for text in data[1:-3]]
        with mock.patch.object(provider.fast_json, "loads", wraps=fast_json.loads) as loads:
            events, response = self.parse("fx-oai-text-long.sse")
        self.assertEqual(loads.call_count, 5)  # role chunk, first text chunk and its template's probe, finish, usage
        self.assertEqual(
            describe(events)[:2],
            [("Start", "chatcmpl-D8Z5oo6uDh67AD85p73ksdT1KxhE0", "gpt-4.1-nano-2025-04-14"), ("TextStart", 0)],
        )
        self.assertEqual([(e.index, e.delta) for e in events[2:-1]], [(0, text) for text in texts])
        self.assertEqual(len(texts), 300)
        self.assertEqual(describe(events)[-1], ("Done", "stop", "stop", (16, 300, 0, 0, 0)))
        self.assertEqual(response.finished, "released")

    def test_text_chunks_with_a_role_or_empty_fields_are_read_by_the_template_too(self) -> None:
        chunk = 'data: {"id":"a","choices":[{"delta":{"role":"assistant","content":"%s","reasoning_content":null}}]}'
        body = "\n\n".join([chunk % "one", chunk % "two", chunk % "", chunk.replace("null", '"why"') % "three"])
        body += '\n\ndata: {"id":"a","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
        with mock.patch.object(provider.fast_json, "loads", wraps=fast_json.loads) as loads:
            events = list(provider._parse_stream(FakeResponse(body.encode()), "u", provider.compat_for(model()), "m-1"))
        self.assertEqual(loads.call_count, 4)  # "one" and its template's probe, "three", the finish
        self.assertEqual(
            describe(events),
            [
                ("Start", "a", None),
                ("TextStart", 0),
                ("TextDelta", 0, "one"),
                ("TextDelta", 0, "two"),
                ("ThinkingStart", 1),
                ("ThinkingDelta", 1, "why"),
                ("TextDelta", 0, "three"),
                ("Done", "stop", "stop"),
            ],
        )

    def test_chunks_that_differ_from_the_first_text_chunk_are_parsed(self) -> None:
        chunk = 'data: {"id":"a","model":"%s","choices":[{"index":0,"delta":{"content":"%s"},"finish_reason":%s}]}\n\n'
        body = "".join(
            [
                chunk % ("m-1", "one", "null"),
                chunk % ("m-1", "", "null"),
                'data: "two"\n\n',  # JSON, but not a chunk: skipped
                chunk % ("m-2", "three", "null"),
                chunk.replace('"content"', '"reasoning_content"') % ("m-1", "four", "null"),
                chunk % ("m-1", "five", '"stop"'),
            ]
        )
        events = list(provider._parse_stream(FakeResponse(body.encode()), "u", provider.compat_for(model()), "m-1"))
        self.assertEqual(
            describe(events),
            [
                ("Start", "a", None),
                ("TextStart", 0),
                ("TextDelta", 0, "one"),
                ("TextDelta", 0, "three"),
                ("ThinkingStart", 1),
                ("ThinkingDelta", 1, "four"),
                ("TextDelta", 0, "five"),
                ("Done", "stop", "stop"),
            ],
        )

    def test_recorded_parallel_tool_calls(self) -> None:
        events, _response = self.parse("fx-oai-tool-parallel.sse")
        starts = [(e.index, e.id, e.name) for e in events if isinstance(e, ToolCallStart)]
        self.assertEqual(
            starts,
            [
                (0, "call_JMW1whyEaYG438VE1OIflxA2", "GetWeatherArgs"),
                (1, "call_DNYTawLBoN8fj3KN6qU9N1Ou", "get_stock_price"),
            ],
        )
        self.assertEqual(
            "".join(e.delta for e in events if isinstance(e, ToolCallDelta) and e.index == 1),
            '{"ticker": "AAPL", "exchange": "NASDAQ"}',
        )
        self.assertEqual(events[-1].reason, "toolUse")
        answer = collect(iter(events))
        self.assertEqual(answer.content[0].arguments, {"city": "Edinburgh", "country": "GB", "units": "c"})

    def test_recorded_reasoning_then_text(self) -> None:
        events, _response = self.parse("fx-oai-reasoning.sse")
        self.assertIsInstance(events[1], ThinkingStart)
        self.assertEqual(events[1].index, 0)
        self.assertTrue(any(isinstance(e, ThinkingDelta) for e in events))
        first_text = next(e for e in events if isinstance(e, TextStart))
        self.assertEqual(first_text.index, 1)
        answer = collect(iter(events))
        self.assertEqual([type(part).__name__ for part in answer.content], ["Thinking", "Text"])
        self.assertEqual(answer.content[0].signature, None)
        self.assertGreater(answer.usage.reasoning, 0)

    def test_qwen_continuation_ids_and_groq_whole_arguments(self) -> None:
        for name in ("fx-oai-tool-qwen.sse", "fx-oai-tool-groq.sse"):
            with self.subTest(name=name):
                events, _response = self.parse(name)
                answer = collect(iter(events))
                calls = [
                    (part.id, part.name, part.raw_arguments) for part in answer.content if isinstance(part, ToolCall)
                ]
                self.assertEqual(calls, EXPECTED_CALLS[name])
                self.assertEqual(answer.reason, "toolUse")

    def test_length_and_usage_details(self) -> None:
        events, _response = self.parse("fx-oai-length.sse")
        self.assertEqual(events[-1].reason, "length")
        usage = provider.parse_usage(
            {
                "prompt_tokens": 100,
                "completion_tokens": 20,
                "prompt_tokens_details": {"cached_tokens": 60},
                "completion_tokens_details": {"reasoning_tokens": 5},
            }
        )
        self.assertEqual(
            (usage.input, usage.output, usage.cache_read, usage.reasoning, usage.prompt_tokens), (40, 20, 60, 5, 100)
        )
        self.assertEqual(provider.parse_usage({"prompt_tokens": 9, "prompt_cache_hit_tokens": 4}).cache_read, 4)

    def test_stream_without_finish_reason_is_an_error_and_closes_upstream(self) -> None:
        response = FakeResponse(b'data: {"id":"a","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n')
        events = provider._parse_stream(response, "u", provider.compat_for(model()), "m-1")
        with self.assertRaises(GatewayError) as caught:
            list(events)
        self.assertEqual(caught.exception.status, 502)
        self.assertEqual(caught.exception.message, "The upstream stream ended without a finish_reason.")
        self.assertEqual(response.finished, "closed")

    def test_error_chunk_and_unknown_finish_reason(self) -> None:
        response = FakeResponse(b'data: {"error":{"message":"overloaded","type":"server_error","code":503}}\n\n')
        with self.assertRaises(GatewayError) as caught:
            list(provider._parse_stream(response, "u", provider.compat_for(model()), "m-1"))
        self.assertEqual(
            (caught.exception.status, caught.exception.message, caught.exception.code), (503, "overloaded", "503")
        )
        response = FakeResponse(
            b'data: {"id":"a","choices":[{"index":0,"delta":{},"finish_reason":"network_error"}]}\n\ndata: [DONE]\n\n'
        )
        with self.assertRaises(GatewayError) as caught:
            list(provider._parse_stream(response, "u", provider.compat_for(model()), "m-1"))
        self.assertEqual(caught.exception.message, "Provider finish_reason: network_error")

    def test_content_filter_is_kept_and_missing_finish_inferred_when_flagged(self) -> None:
        response = FakeResponse(
            b'data: {"id":"a","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"content_filter"}]}\n\n'
        )
        events = list(provider._parse_stream(response, "u", provider.compat_for(model()), "m-1"))
        self.assertEqual(events[-1].reason, "contentFilter")
        lenient = model(compat={"supportsFinishReason": False})
        response = FakeResponse(b'data: {"id":"a","choices":[{"index":0,"delta":{"content":"x"}}]}\n\ndata: [DONE]\n\n')
        events = list(provider._parse_stream(response, "u", provider.compat_for(lenient), "m-1"))
        self.assertEqual(events[-1].reason, "stop")

    def test_generator_closed_early_closes_upstream(self) -> None:
        response = FakeResponse(fixture("fx-oai-text.sse"))
        events = provider._parse_stream(response, "u", provider.compat_for(model()), "gpt-4o-2024-08-06")
        next(events)
        events.close()
        self.assertEqual(response.finished, "closed")


class BodyParsing(unittest.TestCase):
    """A non-stream client's request asks the upstream for one JSON body, mapped to the same events."""

    def parse(self, name: str):
        response = FakeResponse(fixture(name))
        m = model(model_id="gpt-4o-2024-08-06")
        return list(provider._parse_stream(response, "u", provider.compat_for(m), m.id, stream=False)), response

    def test_request_asks_for_one_body(self) -> None:
        options = Options(max_tokens=5)
        options.stream = False
        m = model()
        body = provider.build_body(m, provider.compat_for(m), Context(None, [UserMessage([Text("hi")])]), options)
        self.assertEqual(
            body,
            {
                "model": "m-1",
                "messages": [{"role": "user", "content": "hi"}],
                "stream": False,
                "max_completion_tokens": 5,
            },
        )

        class Cred:
            api_key = "sk-test"
            headers = None
            base_url = None

        self.assertEqual(provider.build_headers(m, Cred(), stream=False)["Accept"], "application/json")

    def test_recorded_parallel_tool_calls_body(self) -> None:
        events, response = self.parse("fx-oai-tool-parallel.json")
        self.assertEqual(
            [(e.index, e.id, e.name) for e in events if isinstance(e, ToolCallStart)],
            [
                (0, "call_fdNz3vOBKYgOIpMdWotB9MjY", "GetWeatherArgs"),
                (1, "call_h1DWI1POMJLb0KwIyQHWXD4p", "get_stock_price"),
            ],
        )
        answer = collect(iter(events))
        self.assertEqual(answer.content[1].raw_arguments, '{"ticker": "AAPL", "exchange": "NASDAQ"}')
        self.assertEqual(answer.reason, "toolUse")
        self.assertEqual(response.finished, "released")

    def test_recorded_reasoning_body(self) -> None:
        events, _response = self.parse("fx-oai-reasoning.json")
        described = describe(events)
        self.assertEqual(described[0], ("Start", "945bb10c-9bf3-47ff-a2a2-43bbe9705c72", "deepseek-reasoner"))
        self.assertEqual(
            [name for name, *_ in described[1:]], ["ThinkingStart", "ThinkingDelta", "TextStart", "TextDelta", "Done"]
        )
        self.assertEqual(
            described[4][2],
            'The word "strawberry" contains three instances of the letter "r": '
            'one after the "t" and two before the "y".',
        )
        self.assertEqual(described[-1], ("Done", "stop", "stop", (18, 345, 0, 0, 315)))

    def test_length_body(self) -> None:
        events, _response = self.parse("fx-oai-length.json")
        self.assertEqual((events[-1].reason, events[-1].raw_reason), ("length", "length"))

    def test_body_not_json_and_error_body(self) -> None:
        response = FakeResponse(b"<html>gateway</html>")
        with self.assertRaises(GatewayError) as caught:
            list(
                provider._parse_stream(
                    response, "https://h.example/v1/chat/completions", provider.compat_for(model()), "m-1", False
                )
            )
        self.assertEqual(
            (caught.exception.status, caught.exception.message), (502, "The upstream's answer is not JSON (h.example).")
        )
        self.assertEqual(response.finished, "closed")
        response = FakeResponse(b'{"error":{"message":"overloaded","type":"server_error","code":503}}')
        with self.assertRaises(GatewayError) as caught:
            list(provider._parse_stream(response, "u", provider.compat_for(model()), "m-1", False))
        self.assertEqual((caught.exception.status, caught.exception.message), (503, "overloaded"))


if __name__ == "__main__":
    unittest.main()


class ReasoningParams(unittest.TestCase):
    """reasoning_effort mapped per compat thinkingFormat (reference/providers.md 2.3), only for reasoning models."""

    def params(self, level, provider_id="openai-like", base_url="https://api.example.com/v1", **fields):
        m = model(provider_id, base_url=base_url, reasoning=True, **fields)
        options = Options()
        options.reasoning = level
        body = provider.build_body(m, provider.compat_for(m), Context(None, [UserMessage([Text("q")])]), options)
        return {key: body[key] for key in body if key not in ("model", "messages", "stream", "stream_options")}

    def test_formats_on_and_off(self) -> None:
        cases = [
            ({}, "high", {"reasoning_effort": "high"}),
            ({}, "off", {}),
            ({"thinking_level_map": {"off": "none", "high": "max-effort"}}, "high", {"reasoning_effort": "max-effort"}),
            ({"thinking_level_map": {"off": "none"}}, "off", {"reasoning_effort": "none"}),
            ({"compat": {"thinkingFormat": "openrouter"}}, "low", {"reasoning": {"effort": "low"}}),
            ({"compat": {"thinkingFormat": "openrouter"}}, "off", {"reasoning": {"effort": "none"}}),
            ({"compat": {"thinkingFormat": "openrouter"}, "thinking_level_map": {"off": None}}, "off", {}),
            (
                {"compat": {"thinkingFormat": "deepseek"}},
                "medium",
                {"thinking": {"type": "enabled"}, "reasoning_effort": "medium"},
            ),
            (
                {"compat": {"thinkingFormat": "deepseek", "supportsReasoningEffort": False}},
                "medium",
                {"thinking": {"type": "enabled"}},
            ),
            ({"compat": {"thinkingFormat": "deepseek"}}, "off", {"thinking": {"type": "disabled"}}),
            ({"compat": {"thinkingFormat": "zai"}}, "high", {"thinking": {"type": "enabled", "clear_thinking": False}}),
            (
                {"compat": {"thinkingFormat": "zai"}, "thinking_level_map": {"high": "high"}},
                "high",
                {"thinking": {"type": "enabled", "clear_thinking": False}, "reasoning_effort": "high"},
            ),
            ({"compat": {"thinkingFormat": "zai"}}, "off", {"thinking": {"type": "disabled"}}),
            ({"compat": {"thinkingFormat": "qwen"}}, "low", {"enable_thinking": True, "reasoning_effort": "low"}),
            ({"compat": {"thinkingFormat": "qwen"}}, "off", {"enable_thinking": False}),
            (
                {"compat": {"thinkingFormat": "qwen-chat-template"}},
                "low",
                {"chat_template_kwargs": {"enable_thinking": True, "preserve_thinking": True}},
            ),
            (
                {"compat": {"thinkingFormat": "together", "supportsReasoningEffort": False}},
                "low",
                {"reasoning": {"enabled": True}},
            ),
            ({"compat": {"thinkingFormat": "together"}}, "off", {"reasoning": {"enabled": False}}),
            ({"compat": {"thinkingFormat": "string-thinking"}}, "high", {"thinking": "high"}),
            (
                {"compat": {"thinkingFormat": "ant-ling"}, "thinking_level_map": {"high": "deep"}},
                "high",
                {"reasoning": {"effort": "deep"}},
            ),
            ({"compat": {"thinkingFormat": "ant-ling"}}, "high", {}),
            ({"compat": {"thinkingFormat": "chat-template"}}, "high", {}),
        ]
        for fields, level, expected in cases:
            with self.subTest(fields=fields, level=level):
                self.assertEqual(self.params(level, **fields), expected)

    def test_levels_are_clamped_and_only_reasoning_models_get_them(self) -> None:
        self.assertEqual(self.params("xhigh"), {"reasoning_effort": "high"})  # xhigh unsupported without a mapping
        self.assertEqual(self.params("minimal", thinking_level_map={"minimal": None}), {"reasoning_effort": "low"})
        plain = model()
        options = Options()
        options.reasoning = "high"
        body = provider.build_body(
            plain, provider.compat_for(plain), Context(None, [UserMessage([Text("q")])]), options
        )
        self.assertNotIn("reasoning_effort", body)
        self.assertEqual(self.params(None), {})
