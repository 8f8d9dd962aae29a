"""Messages surface: request parsing to the canonical form, exact SSE bytes and bodies, and the same through pigw.

Every body and stream event produced here is validated against `schemas/anthropic/` when jsonschema is
importable (``SchemaCheck`` is skipped, visibly, when it is not).
"""

import http.client
import io
import json
import os
import re
import shutil
import tempfile
import threading
import unittest
from typing import Any, Dict, List, Optional, Tuple

from pigw import server
from pigw.api import FLUSH, Incoming, anthropic_messages
from pigw.config import Config
from pigw.core import (
    Answer,
    AssistantMessage,
    Done,
    Image,
    Start,
    Text,
    TextDelta,
    TextEnd,
    TextStart,
    Thinking,
    ThinkingDelta,
    ThinkingEnd,
    ThinkingStart,
    ToolCall,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    ToolResultMessage,
    Usage,
    UserMessage,
)
from pigw.errors import GatewayError
from pigw.gateway import build
from pigw.listener import listen
from pigw.log import Log
from pigw.registry import Model
from tests.support.mock_upstream import FIXTURES_DIR, MockUpstream

try:
    import jsonschema
    import referencing
except ImportError:
    jsonschema = None

SCHEMAS_DIR = os.path.join(os.path.dirname(FIXTURES_DIR), "..", "..", "schemas", "anthropic")
MESSAGE_ID = re.compile(r'"id":"msg_[0-9a-f]{24}"')
USER = [{"role": "user", "content": "hi"}]


class SchemaCheck(unittest.TestCase):
    @unittest.skipIf(jsonschema is None, "jsonschema is not importable: every schema assertion in this file is skipped")
    def test_schemas_are_valid_and_assertions_run(self) -> None:
        self.assertEqual(
            sorted(_validators()),
            [
                "content_block",
                "content_block_delta",
                "content_block_start",
                "content_block_stop",
                "count_tokens",
                "error",
                "message",
                "message_delta",
                "message_start",
                "message_stop",
                "ping",
                "usage",
            ],
        )
        with self.assertRaises(jsonschema.ValidationError):
            assert_schema("message_stop", {"type": "message_stop", "extra": 1})


class Parsing(unittest.TestCase):
    def test_request_to_canonical_context_and_options(self) -> None:
        request = anthropic_messages.parse(
            {
                "model": "mock/m",
                "max_tokens": 64,
                "system": [
                    {"type": "text", "text": "one", "cache_control": {"type": "ephemeral"}},
                    {"type": "text", "text": "two"},
                ],
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "look"},
                            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                        ],
                    },
                    {
                        "role": "assistant",
                        "content": [
                            {"type": "thinking", "thinking": "hmm", "signature": "sig-1"},
                            {"type": "redacted_thinking", "data": "opaque"},
                            {"type": "text", "text": "calling"},
                            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": "é", "b": [1, 2]}},
                        ],
                    },
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "42", "is_error": True},
                            {"type": "text", "text": "and now?"},
                        ],
                    },
                    {"role": "assistant", "content": "done"},
                ],
                "temperature": 0.5,
                "top_p": 0.9,
                "top_k": 40,
                "stop_sequences": ["END"],
                "tools": [
                    {"name": "f", "description": "does f", "input_schema": {"type": "object"}, "strict": True},
                    {"type": "custom", "name": "g", "input_schema": {"type": "object", "properties": {}}},
                ],
                "tool_choice": {"type": "tool", "name": "f", "disable_parallel_tool_use": True},
                "thinking": {"type": "enabled", "budget_tokens": 2048},
                "metadata": {"user_id": "u-1"},
                "stream": False,
                "service_tier": "auto",
                "unknown_field": {"ignored": True},
            }
        )
        self.assertEqual(request.model, "mock/m")
        context = request.context
        self.assertEqual(context.system, "one\n\ntwo")
        user, assistant, result, follow_up, final = context.messages
        self.assertIsInstance(user, UserMessage)
        self.assertEqual([type(part) for part in user.content], [Text, Image])
        self.assertEqual((user.content[1].mime_type, user.content[1].data), ("image/png", "AAAA"))
        self.assertIsInstance(assistant, AssistantMessage)
        thinking, redacted, text, call = assistant.content
        self.assertEqual((thinking.thinking, thinking.signature, thinking.redacted), ("hmm", "sig-1", False))
        self.assertEqual((redacted.thinking, redacted.signature, redacted.redacted), ("", "opaque", True))
        self.assertEqual(text.text, "calling")
        self.assertEqual(
            (call.id, call.name, call.arguments, call.raw_arguments),
            ("toolu_1", "f", {"a": "é", "b": [1, 2]}, '{"a":"é","b":[1,2]}'),
        )
        self.assertIsInstance(result, ToolResultMessage)
        self.assertEqual((result.tool_call_id, result.tool_name, result.is_error), ("toolu_1", "f", True))
        self.assertEqual([part.text for part in result.content], ["42"])
        self.assertIsInstance(follow_up, UserMessage)
        self.assertEqual([part.text for part in follow_up.content], ["and now?"])
        self.assertEqual([part.text for part in final.content], ["done"])
        self.assertEqual(
            [(tool.name, tool.description, tool.parameters, tool.strict) for tool in context.tools],
            [("f", "does f", {"type": "object"}, True), ("g", "", {"type": "object", "properties": {}}, None)],
        )
        options = request.options
        self.assertEqual(
            (options.max_tokens, options.temperature, options.top_p, options.top_k, options.stop, options.user),
            (64, 0.5, 0.9, 40, ["END"], "u-1"),
        )
        self.assertEqual((options.tool_choice, options.parallel_tool_calls), ({"name": "f"}, False))
        self.assertEqual((options.reasoning, options.thinking_budget), ("low", 2048))
        self.assertEqual(options.extra, {})

    def test_tool_results_come_before_the_user_text_of_their_message(self) -> None:
        request = anthropic_messages.parse(
            {
                "model": "m",
                "max_tokens": 1,
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": "a"},
                            {
                                "type": "tool_result",
                                "tool_use_id": "b",
                                "content": [
                                    {"type": "text", "text": "seen"},
                                    {
                                        "type": "image",
                                        "source": {"type": "base64", "media_type": "image/jpeg", "data": "BB"},
                                    },
                                ],
                            },
                        ],
                    },
                    {"role": "user", "content": []},
                ],
            }
        )
        first, second, empty = request.context.messages
        self.assertEqual((first.tool_call_id, first.tool_name, first.content, first.is_error), ("a", "", [], False))
        self.assertEqual(second.tool_call_id, "b")
        self.assertEqual([type(part) for part in second.content], [Text, Image])
        self.assertIsInstance(empty, UserMessage)
        self.assertEqual(empty.content, [])

    def test_thinking_budget_chooses_the_level(self) -> None:
        cases = [
            ({"type": "enabled", "budget_tokens": 1}, ("minimal", 1)),
            ({"type": "enabled", "budget_tokens": 1024}, ("minimal", 1024)),
            ({"type": "enabled", "budget_tokens": 1025}, ("low", 1025)),
            ({"type": "enabled", "budget_tokens": 2049}, ("medium", 2049)),
            ({"type": "enabled", "budget_tokens": 8192}, ("medium", 8192)),
            ({"type": "enabled", "budget_tokens": 8193}, ("high", 8193)),
            ({"type": "disabled"}, ("off", None)),
            ({"type": "adaptive"}, ("medium", None)),
        ]
        for thinking, expected in cases:
            with self.subTest(thinking=thinking):
                options = anthropic_messages.parse(
                    {"model": "m", "max_tokens": 1, "messages": USER, "thinking": thinking}
                ).options
                self.assertEqual((options.reasoning, options.thinking_budget), expected)

    def test_tool_choice_forms(self) -> None:
        cases = [
            ({"type": "auto"}, ("auto", None)),
            ({"type": "any"}, ("required", None)),
            ({"type": "none"}, ("none", None)),
            ({"type": "tool", "name": "f"}, ({"name": "f"}, None)),
            ({"type": "auto", "disable_parallel_tool_use": True}, ("auto", False)),
            ({"type": "any", "disable_parallel_tool_use": False}, ("required", None)),
        ]
        for choice, expected in cases:
            with self.subTest(choice=choice):
                options = anthropic_messages.parse(
                    {"model": "m", "max_tokens": 1, "messages": USER, "tool_choice": choice}
                ).options
                self.assertEqual((options.tool_choice, options.parallel_tool_calls), expected)

    def test_defaults_leave_options_unset(self) -> None:
        request = anthropic_messages.parse({"model": "m", "max_tokens": 5, "messages": USER, "system": ""})
        options = request.options
        self.assertIsNone(request.context.system)
        self.assertEqual(request.context.tools, [])
        unset = ("temperature", "top_p", "top_k", "stop", "user", "reasoning", "thinking_budget", "tool_choice")
        self.assertEqual([getattr(options, name) for name in unset + ("parallel_tool_calls",)], [None] * 9)

    def test_count_tokens_needs_no_max_tokens(self) -> None:
        request = anthropic_messages.parse({"model": "m", "messages": USER}, require_max_tokens=False)
        self.assertIsNone(request.options.max_tokens)

    def test_unknown_fields_dropped_or_strict_400(self) -> None:
        body = {"model": "m", "max_tokens": 1, "messages": USER, "context_management": {}, "service_tier": "auto"}
        self.assertEqual(anthropic_messages.parse(body).dropped, ["context_management", "service_tier"])
        with self.assertRaises(GatewayError) as caught:
            anthropic_messages.parse(body, strict=True)
        self.assertEqual((caught.exception.status, caught.exception.param), (400, "context_management"))

    def test_malformed_fields_name_their_param(self) -> None:
        def image(source):
            return {"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [source]}]}

        cases = [
            ({"max_tokens": 1, "messages": USER}, "model"),
            ({"model": "", "max_tokens": 1, "messages": USER}, "model"),
            ({"model": "m", "messages": USER}, "max_tokens"),
            ({"model": "m", "max_tokens": 0, "messages": USER}, "max_tokens"),
            ({"model": "m", "max_tokens": True, "messages": USER}, "max_tokens"),
            ({"model": "m", "max_tokens": 1, "messages": []}, "messages"),
            ({"model": "m", "max_tokens": 1, "messages": [5]}, "messages[0]"),
            ({"model": "m", "max_tokens": 1, "messages": [{"role": "system", "content": "x"}]}, "messages[0].role"),
            ({"model": "m", "max_tokens": 1, "messages": [{"role": "user"}]}, "messages[0].content"),
            ({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [3]}]}, "messages[0].content[0]"),
            (image({"type": "text"}), "messages[0].content[0].text"),
            (image({"type": "document"}), "messages[0].content[0]"),
            (
                image({"type": "image", "source": {"type": "file", "file_id": "f"}}),
                "messages[0].content[0].source",
            ),
            (
                image({"type": "image", "source": {"type": "base64", "data": "AA"}}),
                "messages[0].content[0].source.media_type",
            ),
            (image({"type": "tool_result"}), "messages[0].content[0].tool_use_id"),
            (image({"type": "tool_result", "tool_use_id": "a", "is_error": "yes"}), "messages[0].content[0].is_error"),
            (
                image({"type": "tool_result", "tool_use_id": "a", "content": [{"type": "document"}]}),
                "messages[0].content[0].content[0]",
            ),
            (
                {"model": "m", "max_tokens": 1, "messages": [{"role": "assistant", "content": [{"type": "image"}]}]},
                "messages[0].content[0]",
            ),
            (
                {
                    "model": "m",
                    "max_tokens": 1,
                    "messages": [
                        {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "f", "input": 1}]}
                    ],
                },
                "messages[0].content[0].input",
            ),
            ({"model": "m", "max_tokens": 1, "messages": USER, "system": 5}, "system"),
            ({"model": "m", "max_tokens": 1, "messages": USER, "system": [{"type": "image"}]}, "system[0]"),
            ({"model": "m", "max_tokens": 1, "messages": USER, "stream": "yes"}, "stream"),
            ({"model": "m", "max_tokens": 1, "messages": USER, "temperature": "hot"}, "temperature"),
            ({"model": "m", "max_tokens": 1, "messages": USER, "top_k": 1.5}, "top_k"),
            ({"model": "m", "max_tokens": 1, "messages": USER, "stop_sequences": "END"}, "stop_sequences"),
            ({"model": "m", "max_tokens": 1, "messages": USER, "metadata": []}, "metadata"),
            ({"model": "m", "max_tokens": 1, "messages": USER, "metadata": {"user_id": 3}}, "metadata.user_id"),
            ({"model": "m", "max_tokens": 1, "messages": USER, "tools": {}}, "tools"),
            ({"model": "m", "max_tokens": 1, "messages": USER, "tools": [{"input_schema": {}}]}, "tools[0].name"),
            ({"model": "m", "max_tokens": 1, "messages": USER, "tools": [{"name": "f"}]}, "tools[0].input_schema"),
            (
                {
                    "model": "m",
                    "max_tokens": 1,
                    "messages": USER,
                    "tools": [{"type": "web_search_20250305", "name": "w"}],
                },
                "tools[0].type",
            ),
            ({"model": "m", "max_tokens": 1, "messages": USER, "tool_choice": "auto"}, "tool_choice"),
            ({"model": "m", "max_tokens": 1, "messages": USER, "tool_choice": {"type": "tool"}}, "tool_choice"),
            ({"model": "m", "max_tokens": 1, "messages": USER, "tool_choice": {"type": []}}, "tool_choice"),
            (
                {
                    "model": "m",
                    "max_tokens": 1,
                    "messages": USER,
                    "tool_choice": {"type": "auto", "disable_parallel_tool_use": 1},
                },
                "tool_choice.disable_parallel_tool_use",
            ),
            ({"model": "m", "max_tokens": 1, "messages": USER, "thinking": {"type": "on"}}, "thinking"),
            (
                {"model": "m", "max_tokens": 1, "messages": USER, "thinking": {"type": "enabled"}},
                "thinking.budget_tokens",
            ),
            (
                {"model": "m", "max_tokens": 1, "messages": USER, "thinking": {"type": "enabled", "budget_tokens": -1}},
                "thinking.budget_tokens",
            ),
        ]
        for body, param in cases:
            with self.subTest(param=param, body=body):
                with self.assertRaises(GatewayError) as caught:
                    anthropic_messages.parse(body)
                self.assertEqual((caught.exception.status, caught.exception.param), (400, param))
                self.assertIn("`%s" % param.split("[")[0].split(".")[0], caught.exception.message)
                assert_schema("error", caught.exception.anthropic_body())
        with self.assertRaises(GatewayError) as caught:
            anthropic_messages.parse(image({"type": "image", "source": {"type": "url", "url": "ftp://x/y.png"}}))
        self.assertEqual(caught.exception.param, "messages[0].content[0].source.url")
        self.assertIn("must be an http:// or https:// URL", caught.exception.message)


class StreamRendering(unittest.TestCase):
    def test_text_exact_bytes(self) -> None:
        out = frames(
            [Start("up"), TextStart(0), TextDelta(0, 'He said "hi"'), TextDelta(0, " é"), TextEnd(0), Done("stop")]
        )
        self.assertEqual(
            out,
            "event: message_start\n"
            'data: {"type":"message_start","message":{"id":"msg_0","type":"message","role":"assistant","model":"p/m",'
            '"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0,'
            '"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}}\n\n'
            "event: content_block_start\n"
            'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
            "event: content_block_delta\n"
            'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"He said \\"hi\\""}}\n\n'
            "event: content_block_delta\n"
            'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" \\u00e9"}}\n\n'
            "event: content_block_stop\n"
            'data: {"type":"content_block_stop","index":0}\n\n'
            "event: message_delta\n"
            'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
            '"usage":{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}\n\n'
            "event: message_stop\n"
            'data: {"type":"message_stop"}\n\n',
        )

    def test_a_flush_follows_the_first_token_frames_only(self) -> None:
        events = [Start("up"), TextStart(0), TextDelta(0, "a"), TextDelta(0, "b"), TextEnd(0), Done("stop")]
        out = list(anthropic_messages.render_stream(iter(events), "msg_0", "p/m"))
        self.assertEqual([number for number, frame in enumerate(out) if frame == FLUSH], [3])
        self.assertIn(b'"text":"a"', out[2])

    def test_thinking_then_text_are_indexes_0_then_1_with_the_signature_before_the_stop(self) -> None:
        out = frames(
            [
                Start(),
                ThinkingStart(3),
                ThinkingDelta(3, "let me"),
                ThinkingDelta(3, " see"),
                ThinkingEnd(3, "sig=="),
                TextStart(7),
                TextDelta(7, "yes"),
                TextEnd(7),
                Done("stop", Usage(input=5, output=9, cache_read=2, cache_write=1), "end_turn"),
            ]
        )
        self.assertEqual(
            out,
            message_start()
            + block_start(0, '{"type":"thinking","thinking":"","signature":""}')
            + delta(0, "thinking_delta", "thinking", "let me")
            + delta(0, "thinking_delta", "thinking", " see")
            + delta(0, "signature_delta", "signature", "sig==")
            + block_stop(0)
            + block_start(1, '{"type":"text","text":""}')
            + delta(1, "text_delta", "text", "yes")
            + block_stop(1)
            + message_delta("end_turn", 5, 9, 1, 2)
            + MESSAGE_STOP,
        )

    def test_parallel_tool_use_with_interleaved_json_deltas(self) -> None:
        out = frames(
            [
                Start(),
                TextStart(0),
                TextDelta(0, "Both."),
                TextEnd(0),
                ToolCallStart(4, "toolu_a", "weather"),
                ToolCallStart(9, "toolu_b", "stock"),
                ToolCallDelta(4, '{"city":'),
                ToolCallDelta(9, "{}"),
                ToolCallDelta(4, '"Paris"}'),
                ToolCallEnd(9),
                ToolCallEnd(4),
                Done("toolUse", Usage(input=10, output=20), "tool_calls"),
            ]
        )
        self.assertEqual(
            out,
            message_start()
            + block_start(0, '{"type":"text","text":""}')
            + delta(0, "text_delta", "text", "Both.")
            + block_stop(0)
            + block_start(1, '{"type":"tool_use","id":"toolu_a","name":"weather","input":{}}')
            + block_start(2, '{"type":"tool_use","id":"toolu_b","name":"stock","input":{}}')
            + delta(1, "input_json_delta", "partial_json", '{"city":')
            + delta(2, "input_json_delta", "partial_json", "{}")
            + delta(1, "input_json_delta", "partial_json", '"Paris"}')
            + block_stop(2)
            + block_stop(1)
            + message_delta("tool_use", 10, 20)
            + MESSAGE_STOP,
        )

    def test_blocks_left_open_stop_in_index_order_before_message_delta(self) -> None:
        out = frames(
            [
                Start(),
                ThinkingStart(0),
                ThinkingDelta(0, "a"),
                ThinkingDelta(0, "b"),
                TextStart(1),
                TextDelta(1, "c"),
                ToolCallStart(2, "call_1", "f"),
                Done("toolUse", Usage(input=3, output=4, cache_read=5), "tool_calls"),
            ]
        )
        self.assertEqual(
            out,
            message_start()
            + block_start(0, '{"type":"thinking","thinking":"","signature":""}')
            + delta(0, "thinking_delta", "thinking", "a")
            + delta(0, "thinking_delta", "thinking", "b")
            + block_start(1, '{"type":"text","text":""}')
            + delta(1, "text_delta", "text", "c")
            + block_start(2, '{"type":"tool_use","id":"call_1","name":"f","input":{}}')
            + block_stop(0)
            + block_stop(1)
            + block_stop(2)
            + message_delta("tool_use", 3, 4, 0, 5)
            + MESSAGE_STOP,
        )

    def test_redacted_thinking_goes_out_whole_at_its_end(self) -> None:
        out = frames(
            [
                Start(),
                ThinkingStart(0),
                ThinkingEnd(0, "opaque-1", redacted=True),
                ThinkingStart(1),
                ThinkingEnd(1, "sig"),
                ThinkingStart(2),
                ThinkingEnd(2, "opaque-2", redacted=True),
                TextStart(3),
                TextDelta(3, "ok"),
                TextEnd(3),
                Done("stop"),
            ]
        )
        self.assertEqual(
            out,
            message_start()
            + block_start(0, '{"type":"redacted_thinking","data":"opaque-1"}')
            + block_stop(0)
            + block_start(1, '{"type":"thinking","thinking":"","signature":""}')
            + delta(1, "signature_delta", "signature", "sig")
            + block_stop(1)
            + block_start(2, '{"type":"redacted_thinking","data":"opaque-2"}')
            + block_stop(2)
            + block_start(3, '{"type":"text","text":""}')
            + delta(3, "text_delta", "text", "ok")
            + block_stop(3)
            + message_delta("end_turn", 0, 0)
            + MESSAGE_STOP,
        )

    def test_thinking_blocks_not_yet_out_keep_their_starting_order(self) -> None:
        out = frames(
            [
                Start(),
                ThinkingStart(0),
                ThinkingStart(1),
                ThinkingStart(2),
                ThinkingDelta(1, "second"),
                ThinkingStart(3),
                ToolCallStart(4, "call_1", "f"),
                ThinkingDelta(0, "first"),
                ThinkingStart(5),
                Done("stop"),
            ]
        )
        self.assertEqual(
            out,
            message_start()
            + block_start(0, '{"type":"thinking","thinking":"","signature":""}')
            + block_start(1, '{"type":"thinking","thinking":"","signature":""}')
            + delta(1, "thinking_delta", "thinking", "second")
            + block_start(2, '{"type":"thinking","thinking":"","signature":""}')
            + block_start(3, '{"type":"thinking","thinking":"","signature":""}')
            + block_start(4, '{"type":"tool_use","id":"call_1","name":"f","input":{}}')
            + delta(0, "thinking_delta", "thinking", "first")
            + block_start(5, '{"type":"thinking","thinking":"","signature":""}')
            + block_stop(0)
            + block_stop(1)
            + block_stop(2)
            + block_stop(3)
            + block_stop(4)
            + block_stop(5)
            + message_delta("end_turn", 0, 0)
            + MESSAGE_STOP,
        )

    def test_mid_stream_error_is_an_error_event_and_the_end(self) -> None:
        closed = []

        def events():
            try:
                yield Start()
                yield TextStart(0)
                yield TextDelta(0, "par")
                raise GatewayError(529, "upstream overloaded", "overloaded_error")
            finally:
                closed.append(True)

        out = frames(events())
        self.assertEqual(
            out,
            message_start()
            + block_start(0, '{"type":"text","text":""}')
            + delta(0, "text_delta", "text", "par")
            + "event: error\n"
            + 'data: {"type":"error","error":{"type":"overloaded_error","message":"upstream overloaded"}}\n\n',
        )
        self.assertEqual(closed, [True])

    def test_closing_the_stream_closes_the_events(self) -> None:
        closed = []

        def events():
            try:
                yield Start()
                yield TextStart(0)
                yield TextDelta(0, "x")
            finally:
                closed.append(True)

        chunks = anthropic_messages.render_stream(events(), "msg_0", "p/m")
        next(chunks)
        next(chunks)
        chunks.close()
        self.assertEqual(closed, [True])

    def test_stop_reasons(self) -> None:
        cases = [
            ("stop", None, "end_turn"),
            ("stop", "stop", "end_turn"),
            ("stop", "end_turn", "end_turn"),
            ("stop", "stop_sequence", "stop_sequence"),
            ("stop", "pause_turn", "pause_turn"),
            ("length", "length", "max_tokens"),
            ("length", "model_context_window_exceeded", "model_context_window_exceeded"),
            ("toolUse", "tool_calls", "tool_use"),
            ("toolUse", "stop_sequence", "tool_use"),
            ("contentFilter", "refusal", "refusal"),
            ("contentFilter", "content_filter", "refusal"),
        ]
        for reason, raw, expected in cases:
            with self.subTest(reason=reason, raw=raw):
                self.assertEqual(anthropic_messages.stop_reason(reason, raw), expected)
                out = frames([Start(), Done(reason, None, raw)])
                self.assertIn('"delta":{"stop_reason":"%s","stop_sequence":null}' % expected, out)

    def test_the_matched_stop_sequence_is_passed_on(self) -> None:
        out = frames([Start(), Done("stop", None, "stop_sequence", "END")])
        self.assertIn('"delta":{"stop_reason":"stop_sequence","stop_sequence":"END"}', out)
        answer = Answer()
        answer.raw_reason, answer.stop_sequence = "stop_sequence", "END"
        body = anthropic_messages.render_message(answer, "msg_1", "m")
        self.assertEqual((body["stop_reason"], body["stop_sequence"]), ("stop_sequence", "END"))


class MessageRendering(unittest.TestCase):
    def test_every_block_kind_usage_and_stop_reason(self) -> None:
        answer = Answer()
        answer.content = [
            Thinking("why", "sig"),
            Thinking("[Reasoning redacted]", "opaque", redacted=True),
            Thinking("unsigned"),
            Text("because"),
            ToolCall("toolu_1", "f", {"a": 1}, '{"a": 1}'),
            ToolCall("toolu_2", "g", None, "not json"),
        ]
        answer.reason = "toolUse"
        answer.usage = Usage(input=1, output=2, cache_read=3, cache_write=4, reasoning=1)
        body = anthropic_messages.render_message(answer, "msg_1", "p/m")
        assert_schema("message", body)
        self.assertEqual(
            body,
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "p/m",
                "content": [
                    {"type": "thinking", "thinking": "why", "signature": "sig"},
                    {"type": "redacted_thinking", "data": "opaque"},
                    {"type": "thinking", "thinking": "unsigned", "signature": ""},
                    {"type": "text", "text": "because"},
                    {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
                    {"type": "tool_use", "id": "toolu_2", "name": "g", "input": {}},
                ],
                "stop_reason": "tool_use",
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 1,
                    "output_tokens": 2,
                    "cache_creation_input_tokens": 4,
                    "cache_read_input_tokens": 3,
                },
            },
        )

    def test_no_usage_is_zero_usage(self) -> None:
        body = anthropic_messages.render_message(Answer(), "msg_1", "p/m")
        assert_schema("message", body)
        self.assertEqual((body["content"], body["stop_reason"]), ([], "end_turn"))
        self.assertEqual(set(body["usage"].values()), {0})


class Handling(unittest.TestCase):
    """``handle`` and ``count_tokens`` against a stand-in gateway."""

    def test_non_stream_body(self) -> None:
        gateway = FakeGateway([Start(), TextStart(0), TextDelta(0, "hello"), Done("stop", Usage(2, 1))])
        incoming = post({"model": "p/m", "max_tokens": 8, "messages": USER})
        reply = anthropic_messages.handle(incoming, gateway)
        self.assertEqual((reply.status, reply.headers, reply.chunks), (200, {"Content-Type": "application/json"}, None))
        body = json.loads(reply.body)
        assert_schema("message", body)
        self.assertRegex(body.pop("id"), r"^msg_[0-9a-f]{24}$")
        self.assertEqual(body["content"], [{"type": "text", "text": "hello"}])
        self.assertIs(gateway.requests[0].cancel, incoming.cancel)
        self.assertEqual(gateway.requests[0].options.max_tokens, 8)
        self.assertEqual(incoming.notes, {"model": "p/m", "provider": "p", "tokensIn": 2, "tokensOut": 1})

    def test_stream_reply_starts_at_once_with_ping_keepalives(self) -> None:
        gateway = FakeGateway([Start(), TextStart(0), TextDelta(0, "hi"), Done("stop", Usage(3, 4, cache_read=1))])
        incoming = post({"model": "p/m", "max_tokens": 8, "messages": USER, "stream": True})
        reply = anthropic_messages.handle(incoming, gateway)
        self.assertEqual(
            (reply.status, reply.headers, reply.keepalive),
            (
                200,
                {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
                b'event: ping\ndata: {"type":"ping"}\n\n',
            ),
        )
        assert_schema("ping", json.loads(reply.keepalive.split(b"data: ")[1]))
        self.assertEqual(incoming.notes, {"model": "p/m", "provider": "p"})
        body = b"".join(reply.chunks).decode()
        self.assertIsInstance(incoming.notes.pop("ttftMs"), float)
        self.assertEqual(incoming.notes, {"model": "p/m", "provider": "p", "tokensIn": 4, "tokensOut": 4})
        self.assertEqual(len(MESSAGE_ID.findall(body)), 1)
        self.assertEqual(sse(MESSAGE_ID.sub('"id":"msg_0"', body))[0][1]["message"]["id"], "msg_0")

    def test_errors_before_the_first_byte_are_anthropic_errors(self) -> None:
        cases = [
            (b"", None, 400, "invalid_request_error", "The request body is empty"),
            (b"{nope", None, 400, "invalid_request_error", "not valid JSON"),
            (b"[1]", None, 400, "invalid_request_error", "must be a JSON object"),
            ({"model": "p/m", "messages": USER}, None, 400, "invalid_request_error", "`max_tokens` is required"),
        ]
        for status, kind in [
            (401, "authentication_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (502, "api_error"),
            (529, "overloaded_error"),
        ]:
            error = GatewayError(status, "upstream said %d" % status, "whatever", "code", headers={"Retry-After": "7"})
            cases.append(({"model": "p/m", "max_tokens": 1, "messages": USER}, error, status, kind, "upstream said"))
        for stream in (False, True):
            for body, error, status, kind, message in cases:
                with self.subTest(stream=stream, status=status, message=message):
                    if isinstance(body, dict):
                        body = dict(body, stream=stream)
                    reply = anthropic_messages.handle(post(body), FakeGateway(error=error))
                    self.assertEqual((reply.status, reply.chunks), (status, None))
                    self.assertEqual(reply.headers["Content-Type"], "application/json")
                    self.assertEqual(reply.headers.get("Retry-After"), "7" if error else None)
                    body = json.loads(reply.body)
                    assert_schema("error", body)
                    self.assertEqual(
                        body, {"type": "error", "error": {"type": kind, "message": body["error"]["message"]}}
                    )
                    self.assertIn(message, body["error"]["message"])

    def test_count_tokens_estimate(self) -> None:
        gateway = FakeGateway()
        body = {
            "model": "p/m",
            "system": "abcd",  # 4
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "12345678"}]},  # 8
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "tt", "signature": "not counted"},  # 2
                        {"type": "tool_use", "id": "x", "name": "f", "input": {"a": 1}},  # 1 + 7
                    ],
                },
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x", "content": "ok"}]},  # 2
            ],
            "tools": [{"name": "f", "description": "d", "input_schema": {}}],  # 1 + 1 + 2
        }
        reply = anthropic_messages.count_tokens(post(body), gateway)
        self.assertEqual((reply.status, json.loads(reply.body)), (200, {"input_tokens": 7}))  # ceil(28 / 4)
        assert_schema("count_tokens", json.loads(reply.body))
        self.assertEqual(gateway.resolved, ["p/m"])
        body["system"] = "abcde"
        self.assertEqual(json.loads(anthropic_messages.count_tokens(post(body), gateway).body), {"input_tokens": 8})

    def test_count_tokens_errors(self) -> None:
        missing = GatewayError(404, "The model `p/x` does not exist.", "invalid_request_error", "model_not_found")
        reply = anthropic_messages.count_tokens(post({"model": "p/x", "messages": USER}), FakeGateway(error=missing))
        self.assertEqual(
            (reply.status, json.loads(reply.body)),
            (
                404,
                {"type": "error", "error": {"type": "not_found_error", "message": "The model `p/x` does not exist."}},
            ),
        )
        reply = anthropic_messages.count_tokens(post({"model": "p/x"}), FakeGateway())
        self.assertEqual(reply.status, 400)
        assert_schema("error", json.loads(reply.body))


class ThroughTheGateway(unittest.TestCase):
    """pigw's server and gateway in this process, an openai-completions model on the mock upstream."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.mock = MockUpstream().start()
        cls.agent_dir = tempfile.mkdtemp(prefix="pigw-anthropic-")
        models = ["echo-1", "fx-oai-text", "fx-oai-reasoning", "fx-oai-tool-parallel", "fx-oai-length", "stream-error"]
        write_models(cls.agent_dir, cls.mock.base_url, models)
        cls.gateway = LocalGateway(cls.agent_dir).start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.gateway.stop()
        cls.mock.stop()
        shutil.rmtree(cls.agent_dir, ignore_errors=True)

    def stream(self, model: str, **extra: Any) -> str:
        body = dict({"model": model, "max_tokens": 100, "messages": USER, "stream": True}, **extra)
        status, headers, raw = self.gateway.request("POST", "/v1/messages", body)
        self.assertEqual((status, headers["Content-Type"]), (200, "text/event-stream"), raw)
        text = raw.decode()
        self.assertEqual(len(MESSAGE_ID.findall(text)), 1)
        text = MESSAGE_ID.sub('"id":"msg_0"', text)
        sse(text)
        return text

    def test_text_fixture_exact_bytes(self) -> None:
        pieces = fixture_deltas("fx-oai-text.sse", "content")
        self.assertEqual(len(pieces), 30)
        self.assertEqual(
            self.stream("mock/fx-oai-text"),
            message_start("mock/fx-oai-text")
            + block_start(0, '{"type":"text","text":""}')
            + "".join(delta(0, "text_delta", "text", piece) for piece in pieces)
            + block_stop(0)
            + message_delta("end_turn", 14, 30)
            + MESSAGE_STOP,
        )

    def test_reasoning_fixture_is_thinking_at_0_then_text_at_1(self) -> None:
        thinking = fixture_deltas("fx-oai-reasoning.sse", "reasoning_content")
        text = fixture_deltas("fx-oai-reasoning.sse", "content")
        self.assertEqual((len(thinking), len(text)), (205, 13))
        self.assertEqual(
            self.stream("mock/fx-oai-reasoning"),
            message_start("mock/fx-oai-reasoning")
            + block_start(0, '{"type":"thinking","thinking":"","signature":""}')
            + "".join(delta(0, "thinking_delta", "thinking", piece) for piece in thinking)
            + block_start(1, '{"type":"text","text":""}')
            + "".join(delta(1, "text_delta", "text", piece) for piece in text)
            + block_stop(0)
            + block_stop(1)
            + message_delta("end_turn", 18, 219)
            + MESSAGE_STOP,
        )

    def test_parallel_tool_fixture_exact_bytes(self) -> None:
        def arguments(number: int, pieces: List[str]) -> str:
            return "".join(delta(number, "input_json_delta", "partial_json", piece) for piece in pieces)

        first = ['{"ci', 'ty": ', '"Edinb', "urgh", '", "c', "ountry", '": "', 'GB", ', '"units', '": "', 'c"}']
        second = ['{"ti', 'cker"', ': "AAP', 'L", ', '"exch', 'ange":', ' "NA', 'SDAQ"', "}"]
        self.assertEqual(
            self.stream("mock/fx-oai-tool-parallel"),
            message_start("mock/fx-oai-tool-parallel")
            + block_start(
                0, '{"type":"tool_use","id":"call_JMW1whyEaYG438VE1OIflxA2","name":"GetWeatherArgs","input":{}}'
            )
            + arguments(0, first)
            + block_start(
                1, '{"type":"tool_use","id":"call_DNYTawLBoN8fj3KN6qU9N1Ou","name":"get_stock_price","input":{}}'
            )
            + arguments(1, second)
            + block_stop(0)
            + block_stop(1)
            + message_delta("tool_use", 149, 60)
            + MESSAGE_STOP,
        )

    def test_length_fixture_usage_in_message_delta(self) -> None:
        self.assertEqual(
            self.stream("mock/fx-oai-length"),
            message_start("mock/fx-oai-length")
            + block_start(0, '{"type":"text","text":""}')
            + delta(0, "text_delta", "text", '{"')
            + block_stop(0)
            + message_delta("max_tokens", 79, 1)
            + MESSAGE_STOP,
        )

    def test_upstream_error_mid_stream(self) -> None:
        first = fixture_events("fx-oai-text.sse")[:2]
        error = b'data: {"error":{"message":"The upstream is overloaded.","type":"overloaded_error","code":529}}\n\n'
        self.mock.script("stream-error", chunks=first + [error])
        self.assertEqual(
            self.stream("mock/stream-error"),
            message_start("mock/stream-error")
            + block_start(0, '{"type":"text","text":""}')
            + delta(0, "text_delta", "text", "I'm")
            + "event: error\n"
            + 'data: {"type":"error","error":{"type":"overloaded_error","message":"The upstream is overloaded."}}\n\n',
        )

    def test_upstream_error_before_the_first_byte(self) -> None:
        self.mock.script(
            "stream-error",
            status=429,
            headers={"Retry-After": "30"},  # beyond what pigw waits for a retry: answered at once
            body=b'{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}',
        )
        for stream in (False, True):
            body = {"model": "mock/stream-error", "max_tokens": 5, "messages": USER, "stream": stream}
            status, headers, raw = self.gateway.request("POST", "/v1/messages", body)
            self.assertEqual((status, headers["Retry-After"], headers["Content-Type"]), (429, "30", "application/json"))
            self.assertEqual(
                json.loads(raw), {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
            )

    def test_non_stream_echo_and_the_upstream_request(self) -> None:
        status, _headers, raw = self.gateway.request(
            "POST",
            "/v1/messages",
            {
                "model": "mock/echo-1",
                "max_tokens": 50,
                "system": [{"type": "text", "text": "Be brief."}],
                "messages": [
                    {"role": "user", "content": "weather?"},
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "t1", "name": "w", "input": {"c": "x"}}],
                    },
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": "t1",
                                "content": [{"type": "text", "text": "sunny"}],
                            },
                            {"type": "text", "text": "thanks"},
                        ],
                    },
                ],
                "temperature": 0.2,
                "stop_sequences": ["END"],
                "metadata": {"user_id": "u-1"},
                "tools": [{"name": "w", "description": "weather", "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
            },
            {"x-api-key": "anything", "anthropic-version": "2023-06-01", "anthropic-beta": "whatever"},
        )
        self.assertEqual(status, 200, raw)
        message = json.loads(raw)
        assert_schema("message", message)
        self.assertRegex(message.pop("id"), r"^msg_[0-9a-f]{24}$")
        self.assertEqual(
            message,
            {
                "type": "message",
                "role": "assistant",
                "model": "mock/echo-1",
                "content": [{"type": "text", "text": "echo: thanks"}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 7,
                    "output_tokens": 3,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
            },
        )
        upstream = self.mock.requests[-1].json
        self.assertEqual(
            upstream["messages"],
            [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "t1", "type": "function", "function": {"name": "w", "arguments": '{"c":"x"}'}}
                    ],
                },
                {"role": "tool", "tool_call_id": "t1", "content": "sunny"},
                {"role": "user", "content": "thanks"},
            ],
        )
        self.assertEqual(
            {key: upstream[key] for key in ("temperature", "stop", "user", "tool_choice", "parallel_tool_calls")},
            {
                "temperature": 0.2,
                "stop": ["END"],
                "user": "u-1",
                "tool_choice": "required",
                "parallel_tool_calls": False,
            },
        )
        self.assertEqual(upstream["tools"][0]["function"]["name"], "w")

    def test_count_tokens_route(self) -> None:
        body = {"model": "mock/echo-1", "messages": [{"role": "user", "content": "x" * 9}]}
        status, _headers, raw = self.gateway.request("POST", "/v1/messages/count_tokens", body)
        self.assertEqual((status, json.loads(raw)), (200, {"input_tokens": 3}))
        status, _headers, raw = self.gateway.request("POST", "/v1/messages/count_tokens", dict(body, model="mock/nope"))
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(raw)["error"]["type"], "not_found_error")


# Expected frames, spelled out independently of the module under test.


def frame(name: str, data: str) -> str:
    return "event: %s\ndata: %s\n\n" % (name, data)


def message_start(model: str = "p/m") -> str:
    return frame(
        "message_start",
        '{"type":"message_start","message":{"id":"msg_0","type":"message","role":"assistant","model":%s,'
        '"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0,'
        '"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}}' % json.dumps(model),
    )


def block_start(index: int, block: str) -> str:
    return frame("content_block_start", '{"type":"content_block_start","index":%d,"content_block":%s}' % (index, block))


def delta(index: int, kind: str, field: str, value: str) -> str:
    return frame(
        "content_block_delta",
        '{"type":"content_block_delta","index":%d,"delta":{"type":"%s","%s":%s}}'
        % (index, kind, field, json.dumps(value)),
    )


def block_stop(index: int) -> str:
    return frame("content_block_stop", '{"type":"content_block_stop","index":%d}' % index)


def message_delta(reason: str, input_tokens: int, output_tokens: int, cache_write: int = 0, cache_read: int = 0) -> str:
    return frame(
        "message_delta",
        '{"type":"message_delta","delta":{"stop_reason":"%s","stop_sequence":null},"usage":{"input_tokens":%d,'
        '"output_tokens":%d,"cache_creation_input_tokens":%d,"cache_read_input_tokens":%d}}'
        % (reason, input_tokens, output_tokens, cache_write, cache_read),
    )


MESSAGE_STOP = frame("message_stop", '{"type":"message_stop"}')


def frames(events) -> str:
    """The stream of these events as text, every event checked against its schema."""
    out = b"".join(anthropic_messages.render_stream(iter(events), "msg_0", "p/m")).decode()
    sse(out)
    return out


def sse(text: str) -> List[Tuple[str, Dict[str, Any]]]:
    """(event, data) of each SSE frame; each frame's event names its data's type, which matches its schema."""
    assert text.endswith("\n\n"), text[-200:]
    out = []
    for block in text[:-2].split("\n\n"):
        name_line, data_line = block.split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: "), block
        name, data = name_line[7:], json.loads(data_line[6:])
        assert data["type"] == name, block
        assert_schema(name, data)
        out.append((name, data))
    return out


# Schemas.


def assert_schema(name: str, value: Any) -> None:
    """Validate value against schemas/anthropic/<name>.json (nothing when jsonschema is not importable)."""
    if jsonschema is not None:
        _validators()[name].validate(value)


_loaded: Dict[str, Any] = {}


def _validators() -> Dict[str, Any]:
    if not _loaded:
        schemas = {}
        for file_name in os.listdir(SCHEMAS_DIR):
            if file_name.endswith(".json"):
                with open(os.path.join(SCHEMAS_DIR, file_name), encoding="utf-8") as handle:
                    schemas[file_name[:-5]] = json.load(handle)
        registry = referencing.Registry().with_resources(
            (schema["$id"], referencing.Resource.from_contents(schema)) for schema in schemas.values()
        )
        for name, schema in schemas.items():
            jsonschema.Draft202012Validator.check_schema(schema)
            _loaded[name] = jsonschema.Draft202012Validator(schema, registry=registry)
    return _loaded


# Stand-ins and the in-process gateway.


class FakeGateway:
    """What handle() and count_tokens() use of a Gateway: stream(), registry.resolve() and strict."""

    strict = False

    def __init__(self, events: Optional[list] = None, error: Optional[GatewayError] = None) -> None:
        self.events = events or []
        self.error = error
        self.requests: list = []
        self.resolved: List[str] = []
        self.registry = self

    def stream(self, request):
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        request.target = Model("p", "m")
        return iter(self.events)

    def resolve(self, model: str):
        self.resolved.append(model)
        if self.error is not None:
            raise self.error
        return None, None


def post(body) -> Incoming:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Incoming("POST", "/v1/messages", "", {}, data)


def write_models(agent_dir: str, base_url: str, models: List[str]) -> None:
    """models.json with one openai-completions provider `mock` on the mock upstream."""
    provider = {
        "baseUrl": base_url + "/v1",
        "api": "openai-completions",
        "apiKey": "mock-key",
        "models": [{"id": model} for model in models],
    }
    with open(os.path.join(agent_dir, "models.json"), "w") as handle:
        json.dump({"providers": {"mock": provider}}, handle)


class LocalGateway:
    """pigw's Server and Gateway in this process."""

    def __init__(self, agent_dir: str) -> None:
        self.config = Config()
        self.config.auth_dir = agent_dir
        self.port = 0

    def start(self) -> "LocalGateway":
        gateway = build(self.config)
        self.server = server.Server(listen("127.0.0.1", 0), gateway, self.config, Log("error", io.StringIO()))
        self.port = self.server.port
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(2)

    def request(self, method: str, path: str, body=None, headers: Optional[Dict[str, str]] = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(
                method, path, json.dumps(body), dict({"Content-Type": "application/json"}, **(headers or {}))
            )
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()


def fixture_events(name: str) -> List[bytes]:
    with open(os.path.join(FIXTURES_DIR, "openai-chat", name), "rb") as handle:
        return [piece + b"\n\n" for piece in handle.read().split(b"\n\n") if piece.strip()]


def fixture_deltas(name: str, field: str) -> List[str]:
    """The non-empty `field` deltas of a recorded Chat Completions stream, in order."""
    pieces = []
    for event in fixture_events(name):
        data = event[6:].strip()
        if data == b"[DONE]":
            continue
        choices = json.loads(data)["choices"]
        if choices and choices[0]["delta"].get(field):
            pieces.append(choices[0]["delta"][field])
    return pieces


if __name__ == "__main__":
    unittest.main()
