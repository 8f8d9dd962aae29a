"""Chat Completions surface: request parsing to the canonical form, and exact response bytes."""

import json
import unittest

from pigw.api import FLUSH, openai_chat
from pigw.core import (
    Answer,
    AssistantMessage,
    Done,
    Start,
    Text,
    TextDelta,
    TextStart,
    Thinking,
    ThinkingDelta,
    ThinkingStart,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolResultMessage,
    Usage,
    UserMessage,
)
from pigw.errors import GatewayError
from tests.support.json_schema import check_openai_stream

HEAD = (
    'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"p/m",'
    '"choices":[{"index":0,"delta":'
)
TAIL = ',"logprobs":null,"finish_reason":null}]}\n\n'


def frames(events, include_usage=False):
    """The rendered stream as text, every frame checked against schemas/openai/ first."""
    envelope = openai_chat.chunk_envelope("chatcmpl-1", 1700000000, "p/m")
    out = b"".join(openai_chat.render_stream(iter(events), envelope, include_usage))
    check_openai_stream(out)
    return out.decode()


class Parsing(unittest.TestCase):
    def test_all_roles_to_canonical_context(self) -> None:
        request = openai_chat.parse(
            {
                "model": "groq/llama",
                "messages": [
                    {"role": "system", "content": "one"},
                    {"role": "developer", "content": [{"type": "text", "text": "two"}]},
                    {"role": "user", "content": "hi"},
                    {
                        "role": "assistant",
                        "content": None,
                        "reasoning_content": "think",
                        "tool_calls": [
                            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
                        ],
                    },
                    {"role": "tool", "tool_call_id": "c1", "content": "result"},
                    {"role": "assistant", "content": "done"},
                ],
                "max_tokens": 5,
                "reasoning_effort": "none",
                "tool_choice": {"type": "function", "function": {"name": "f"}},
                "unknown_field": {"ignored": True},
            }
        )
        self.assertEqual(request.model, "groq/llama")
        self.assertEqual(request.context.system, "one\n\ntwo")
        user, assistant, tool, final = request.context.messages
        self.assertIsInstance(user, UserMessage)
        self.assertEqual(user.content[0].text, "hi")
        self.assertIsInstance(assistant, AssistantMessage)
        self.assertEqual([type(part) for part in assistant.content], [Thinking, ToolCall])
        self.assertEqual(assistant.content[0].signature, "reasoning_content")
        call = assistant.content[1]
        self.assertEqual((call.id, call.name, call.arguments, call.raw_arguments), ("c1", "f", {"a": 1}, '{"a":1}'))
        self.assertIsInstance(tool, ToolResultMessage)
        self.assertEqual((tool.tool_call_id, tool.tool_name, tool.content[0].text), ("c1", "f", "result"))
        self.assertEqual(final.content[0].text, "done")
        self.assertEqual(request.options.max_tokens, 5)
        self.assertEqual(request.options.reasoning, "off")
        self.assertEqual(request.options.tool_choice, {"name": "f"})

    def test_max_completion_tokens_wins_and_stop_string_becomes_list(self) -> None:
        request = openai_chat.parse(
            {
                "model": "m",
                "messages": [{"role": "user", "content": "x"}],
                "max_tokens": 5,
                "max_completion_tokens": 9,
                "stop": "END",
            }
        )
        self.assertEqual(request.options.max_tokens, 9)
        self.assertEqual(request.options.stop, ["END"])

    def test_malformed_fields_name_their_param(self) -> None:
        user = [{"role": "user", "content": "x"}]
        cases = [
            ({"messages": user}, "model"),
            ({"model": "", "messages": user}, "model"),
            ({"model": "m", "messages": []}, "messages"),
            ({"model": "m", "messages": [5]}, "messages[0]"),
            ({"model": "m", "messages": [{"role": "user"}]}, "messages[0].content"),
            ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
            ({"model": "m", "messages": [{"role": "user", "content": [{"type": "audio"}]}]}, "messages[0].content[0]"),
            (
                {
                    "model": "m",
                    "messages": [
                        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}]}
                    ],
                },
                "messages[0].content[0].image_url.url",
            ),
            ({"model": "m", "messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
            (
                {"model": "m", "messages": [{"role": "assistant", "tool_calls": [{}]}]},
                "messages[0].tool_calls[0].function.name",
            ),
            ({"model": "m", "messages": user, "max_tokens": 0}, "max_tokens"),
            ({"model": "m", "messages": user, "max_completion_tokens": 1.5}, "max_completion_tokens"),
            ({"model": "m", "messages": user, "temperature": True}, "temperature"),
            ({"model": "m", "messages": user, "stop": [1]}, "stop"),
            ({"model": "m", "messages": user, "seed": "1"}, "seed"),
            ({"model": "m", "messages": user, "user": 3}, "user"),
            ({"model": "m", "messages": user, "stream": "yes"}, "stream"),
            ({"model": "m", "messages": user, "n": 17}, "n"),
            ({"model": "m", "messages": user, "n": 0}, "n"),
            ({"model": "m", "messages": user, "n": 2.5}, "n"),
            ({"model": "m", "messages": user, "reasoning_effort": "huge"}, "reasoning_effort"),
            ({"model": "m", "messages": user, "tool_choice": "sometimes"}, "tool_choice"),
            ({"model": "m", "messages": user, "tools": [{"type": "function"}]}, "tools[0].function.name"),
            ({"model": "m", "messages": user, "parallel_tool_calls": "no"}, "parallel_tool_calls"),
        ]
        for body, param in cases:
            with self.subTest(param=param, body=body):
                with self.assertRaises(GatewayError) as caught:
                    openai_chat.parse(body)
                self.assertEqual((caught.exception.status, caught.exception.param), (400, param))
                self.assertEqual(caught.exception.type, "invalid_request_error")

    def test_unknown_fields_dropped_native_ones_kept_or_strict_400(self) -> None:
        body = {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "store": True,
            "metadata": {"a": "b"},
            "frequency_penalty": 0.5,
            "logprobs": True,
            "top_logprobs": 2,
            "logit_bias": None,
            "reasoning": {"effort": "high"},
        }
        request = openai_chat.parse(body)
        self.assertEqual(request.dropped, ["store", "metadata"])
        self.assertEqual(
            request.options.extra, {"frequency_penalty": 0.5, "logprobs": True, "top_logprobs": 2, "logit_bias": None}
        )
        self.assertEqual(request.must_honour, {"logprobs", "top_logprobs"})
        self.assertEqual(request.options.reasoning, "high")
        with self.assertRaises(GatewayError) as caught:
            openai_chat.parse(body, strict=True)
        self.assertEqual((caught.exception.status, caught.exception.param), (400, "store"))

    def test_data_url_image(self) -> None:
        request = openai_chat.parse(
            {
                "model": "m",
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "see"},
                            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}},
                        ],
                    }
                ],
            }
        )
        image = request.context.messages[0].content[1]
        self.assertEqual((image.mime_type, image.data), ("image/jpeg", "AAAA"))


class StreamRendering(unittest.TestCase):
    def test_text_stream_exact_bytes(self) -> None:
        out = frames(
            [
                Start("up", None),
                TextStart(0),
                TextDelta(0, 'He said "hi"'),
                TextDelta(0, " é"),
                Done("stop", Usage(3, 2)),
            ]
        )
        self.assertEqual(
            out,
            HEAD
            + '{"role":"assistant","content":""}'
            + TAIL
            + HEAD
            + '{"content":"He said \\"hi\\""}'
            + TAIL
            + HEAD
            + '{"content":" \\u00e9"}'
            + TAIL
            + HEAD
            + '{},"logprobs":null,"finish_reason":"stop"}]}\n\n'
            + "data: [DONE]\n\n",
        )

    def test_a_flush_follows_the_first_token_frame_only(self) -> None:
        envelope = openai_chat.chunk_envelope("chatcmpl-1", 1700000000, "p/m")
        for first in (TextDelta(0, "a"), ThinkingDelta(0, "a"), ToolCallStart(0, "call_1", "f")):
            with self.subTest(first=type(first).__name__):
                events = [Start("up", None), TextStart(0), first, TextDelta(0, "b"), TextDelta(0, "c"), Done("stop")]
                out = list(openai_chat.render_stream(iter(events), envelope, False))
                self.assertEqual([number for number, frame in enumerate(out) if frame == FLUSH], [2])

    def test_usage_chunk_only_when_asked(self) -> None:
        events = [
            Start(),
            TextStart(0),
            TextDelta(0, "x"),
            Done("length", Usage(input=4, output=2, cache_read=6, reasoning=1)),
        ]
        out = frames(events, include_usage=True)
        usage_frame = out.split("\n\n")[-3]
        self.assertEqual(
            usage_frame,
            'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"p/m","choices":[],'
            '"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12,"prompt_tokens_details":'
            '{"cached_tokens":6},"completion_tokens_details":{"reasoning_tokens":1}}}',
        )
        self.assertIn('"finish_reason":"length"', out)
        self.assertNotIn("usage", frames(events))

    def test_reasoning_and_parallel_tool_calls(self) -> None:
        out = frames(
            [
                Start(),
                ThinkingStart(0),
                ThinkingDelta(0, "hmm"),
                ToolCallStart(1, "call_a", "f"),
                ToolCallStart(2, "call_b", "g"),
                ToolCallDelta(1, '{"x":'),
                ToolCallDelta(2, "{}"),
                ToolCallDelta(1, "1}"),
                Done("toolUse"),
            ]
        )
        deltas = [json.loads(line[6:])["choices"][0] for line in out.split("\n\n") if line.startswith("data: {")]
        self.assertEqual(
            [choice["delta"] for choice in deltas],
            [
                {"role": "assistant", "content": ""},
                {"reasoning_content": "hmm"},
                {
                    "tool_calls": [
                        {"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}}
                    ]
                },
                {
                    "tool_calls": [
                        {"index": 1, "id": "call_b", "type": "function", "function": {"name": "g", "arguments": ""}}
                    ]
                },
                {"tool_calls": [{"index": 0, "function": {"arguments": '{"x":'}}]},
                {"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]},
                {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]},
                {},
            ],
        )
        self.assertEqual(deltas[-1]["finish_reason"], "tool_calls")

    def test_mid_stream_error_is_an_error_frame_without_done(self) -> None:
        def events():
            yield Start()
            yield TextStart(0)
            yield TextDelta(0, "par")
            raise GatewayError(502, "upstream broke", "api_error", "upstream_unreachable")

        out = frames(events())
        self.assertTrue(
            out.endswith(
                '\n\ndata: {"error":{"message":"upstream broke","type":"api_error","param":null,'
                '"code":"upstream_unreachable"}}\n\n'
            )
        )
        self.assertNotIn("[DONE]", out)
        self.assertNotIn('"finish_reason":"', out)


class CompletionRendering(unittest.TestCase):
    def test_tool_calls_only_has_null_content(self) -> None:
        answer = Answer()
        answer.content = [ToolCall("c1", "f", {}, '{"a": 1}')]
        answer.reason = "toolUse"
        body = openai_chat.render_completion(answer, "chatcmpl-1", 5, "p/m")
        self.assertEqual(
            body,
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 5,
                "model": "p/m",
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": None,
                            "refusal": None,
                            "tool_calls": [
                                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
                            ],
                        },
                        "logprobs": None,
                        "finish_reason": "tool_calls",
                    }
                ],
            },
        )

    def test_text_reasoning_and_usage(self) -> None:
        answer = Answer()
        answer.content = [Thinking("why"), Text("because")]
        answer.usage = Usage(input=1, output=2, cache_write=3)
        body = openai_chat.render_completion(answer, "chatcmpl-1", 5, "p/m")
        self.assertEqual(
            body["choices"][0]["message"],
            {"role": "assistant", "content": "because", "refusal": None, "reasoning_content": "why"},
        )
        self.assertEqual(body["choices"][0]["finish_reason"], "stop")
        self.assertEqual(
            body["usage"],
            {
                "prompt_tokens": 4,
                "completion_tokens": 2,
                "total_tokens": 6,
                "prompt_tokens_details": {"cached_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
        )


if __name__ == "__main__":
    unittest.main()
