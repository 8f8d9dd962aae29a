"""The official `anthropic` Python SDK as a real client of pigw's /v1/messages (runs where .ci/run installs it).

`mock/*` are openai-completions models on the mock upstream, so every answer is translated;
`claude/*` are anthropic-messages models on the same mock, where pigw should be transparent.
"""

import json
import os
import unittest

from tests.api.test_anthropic_messages import fixture_deltas, fixture_events
from tests.sdk.mocked_gateway import REQUIRED, MockedGateway
from tests.support.mock_upstream import FIXTURES_DIR

try:
    import anthropic
except ImportError:
    anthropic = None

USER = [{"role": "user", "content": "sdk says hi"}]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@unittest.skipIf(
    anthropic is None and not REQUIRED,
    "the anthropic SDK is not installed here (.ci/run installs it in its virtualenv)",
)
class AnthropicSDK(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.pigw = MockedGateway(
            ("echo-1", "fx-oai-tool", "fx-oai-reasoning", "stream-error"),
            ("echo-claude", "fx-ant-thinking", "fx-ant-tool", "redacted"),
        ).start()
        cls.mock = cls.pigw.mock
        cls.client = anthropic.Anthropic(
            base_url="http://127.0.0.1:%d" % cls.pigw.gateway.port, api_key="anything", max_retries=0
        )

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.close()
        cls.pigw.stop()

    def test_create(self) -> None:
        message = self.client.messages.create(model="mock/echo-1", max_tokens=50, messages=USER, system="Be brief.")
        self.assertRegex(message.id, r"^msg_[0-9a-f]{24}$")
        self.assertEqual((message.type, message.role, message.model), ("message", "assistant", "mock/echo-1"))
        self.assertEqual([(block.type, block.text) for block in message.content], [("text", "echo: sdk says hi")])
        self.assertEqual((message.stop_reason, message.stop_sequence), ("end_turn", None))
        self.assertEqual((message.usage.input_tokens, message.usage.output_tokens), (5, 4))

    def test_stream_and_final_message(self) -> None:
        with self.client.messages.stream(model="mock/echo-1", max_tokens=50, messages=USER) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        self.assertEqual(text, "echo: sdk says hi")
        self.assertEqual([(block.type, block.text) for block in final.content], [("text", "echo: sdk says hi")])
        self.assertEqual(final.stop_reason, "end_turn")
        self.assertEqual((final.usage.input_tokens, final.usage.output_tokens), (2, 4))

    def test_stream_thinking_then_text(self) -> None:
        with self.client.messages.stream(
            model="mock/fx-oai-reasoning",
            max_tokens=1000,
            messages=[{"role": "user", "content": "How many r in strawberry?"}],
            thinking={"type": "enabled", "budget_tokens": 1024},
        ) as stream:
            final = stream.get_final_message()
        thinking, text = final.content
        self.assertEqual((thinking.type, text.type), ("thinking", "text"))
        self.assertEqual(thinking.thinking, "".join(fixture_deltas("fx-oai-reasoning.sse", "reasoning_content")))
        self.assertEqual(thinking.signature, "")
        self.assertEqual(text.text, 'The word "strawberry" contains three "r"s.')
        self.assertEqual((final.usage.input_tokens, final.usage.output_tokens), (18, 219))
        self.assertEqual(self.mock.requests[-1].json["max_completion_tokens"], 1000)

    def test_tool_use_round_trip(self) -> None:
        question = {"role": "user", "content": "What is the weather in New York?"}
        # Streamed: the recorded fx-oai-tool stream asks for get_weather (its non-stream recording for Query).
        with self.client.messages.stream(
            model="mock/fx-oai-tool", max_tokens=200, messages=[question], tools=[WEATHER_TOOL]
        ) as opening:
            first = opening.get_final_message()
        self.assertEqual(first.stop_reason, "tool_use")
        (call,) = first.content
        self.assertEqual((call.type, call.name, call.input), ("tool_use", "get_weather", {"city": "New York City"}))
        with self.client.messages.stream(
            model="mock/echo-1",
            max_tokens=200,
            tools=[WEATHER_TOOL],
            messages=[
                question,
                {"role": "assistant", "content": first.content},
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": call.id, "content": "Sunny, 22 C"},
                        {"type": "text", "text": "Summarise."},
                    ],
                },
            ],
        ) as stream:
            final = stream.get_final_message()
        self.assertEqual([(block.type, block.text) for block in final.content], [("text", "echo: Summarise.")])
        self.assertEqual(
            self.mock.requests[-1].json["messages"][1:],
            [
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"New York City"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 22 C"},
                {"role": "user", "content": "Summarise."},
            ],
        )

    def test_streamed_tool_use(self) -> None:
        with self.client.messages.stream(
            model="mock/fx-oai-tool", max_tokens=200, messages=USER, tools=[WEATHER_TOOL]
        ) as stream:
            kinds = [event.type for event in stream]
            final = stream.get_final_message()
        self.assertEqual(kinds[:2], ["message_start", "content_block_start"])
        self.assertEqual(kinds[-3:], ["content_block_stop", "message_delta", "message_stop"])
        self.assertEqual(
            [(block.name, block.input) for block in final.content], [("get_weather", {"city": "New York City"})]
        )
        self.assertEqual(final.stop_reason, "tool_use")

    def test_count_tokens(self) -> None:
        count = self.client.messages.count_tokens(model="mock/echo-1", messages=USER)  # 11 characters
        self.assertEqual(count.input_tokens, 3)

    def test_errors_raise_typed_exceptions(self) -> None:
        with self.assertRaises(anthropic.NotFoundError) as caught:
            self.client.messages.create(model="mock/missing", max_tokens=5, messages=USER)
        self.assertEqual(caught.exception.body["type"], "error")
        self.assertEqual(caught.exception.body["error"]["type"], "not_found_error")
        with self.assertRaises(anthropic.BadRequestError):
            self.client.messages.create(model="mock/echo-1", max_tokens=5, messages=[])

    def test_error_in_the_middle_of_a_stream(self) -> None:
        error = b'data: {"error":{"message":"The upstream is overloaded.","type":"overloaded_error","code":529}}\n\n'
        self.mock.script("stream-error", chunks=fixture_events("fx-oai-text.sse")[:2] + [error])
        with self.assertRaises(anthropic.APIStatusError) as caught:
            with self.client.messages.stream(model="mock/stream-error", max_tokens=5, messages=USER) as stream:
                for _event in stream:
                    pass
        self.assertEqual(
            caught.exception.body,
            {"type": "error", "error": {"type": "overloaded_error", "message": "The upstream is overloaded."}},
        )

    def test_claude_upstream_create(self) -> None:
        message = self.client.messages.create(model="claude/echo-claude", max_tokens=50, messages=USER, system="Hi.")
        self.assertEqual([(block.type, block.text) for block in message.content], [("text", "echo: sdk says hi")])
        self.assertEqual((message.model, message.stop_reason), ("claude/echo-claude", "end_turn"))
        self.assertEqual((message.usage.input_tokens, message.usage.output_tokens), (3, 4))
        upstream = self.mock.requests[-1]
        self.assertEqual(upstream.path, "/v1/messages?beta=true")
        self.assertEqual(upstream.json["system"][-1]["text"], "Hi.")
        self.assertEqual(
            [(m["role"], m["content"][0]["text"]) for m in upstream.json["messages"]], [("user", "sdk says hi")]
        )

    def test_claude_upstream_stream_passes_every_block_event_through(self) -> None:
        for name in ("fx-ant-thinking", "fx-ant-tool"):
            with self.subTest(fixture=name):
                stream = self.client.messages.create(
                    model="claude/" + name, max_tokens=500, messages=USER, tools=[WEATHER_TOOL], stream=True
                )
                got = [event.to_dict() for event in stream if event.type.startswith("content_block_")]
                self.assertEqual(got, _recorded_block_events(name))

    def test_claude_upstream_thinking_final_message(self) -> None:
        with self.client.messages.stream(model="claude/fx-ant-thinking", max_tokens=500, messages=USER) as stream:
            final = stream.get_final_message()
        recorded = _recorded_block_events("fx-ant-thinking")
        (signature,) = [event["delta"] for event in recorded if event.get("delta", {}).get("type") == "signature_delta"]
        thinking, text = final.content
        self.assertEqual((thinking.type, thinking.signature), ("thinking", signature["signature"]))
        self.assertEqual(text.type, "text")
        self.assertEqual(final.stop_reason, "end_turn")

    def test_claude_upstream_redacted_thinking_survives(self) -> None:
        events = [
            (
                "message_start",
                {
                    "message": {
                        "id": "msg_up",
                        "type": "message",
                        "role": "assistant",
                        "content": [],
                        "model": "redacted",
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": 9, "output_tokens": 1},
                    }
                },
            ),
            (
                "content_block_start",
                {"index": 0, "content_block": {"type": "redacted_thinking", "data": "EmwKAhgB..."}},
            ),
            ("content_block_stop", {"index": 0}),
            ("content_block_start", {"index": 1, "content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"index": 1, "delta": {"type": "text_delta", "text": "Done."}}),
            ("content_block_stop", {"index": 1}),
            (
                "message_delta",
                {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 7}},
            ),
            ("message_stop", {}),
        ]
        chunks = [
            b"event: %s\ndata: %s\n\n" % (name.encode(), json.dumps(dict(data, type=name)).encode())
            for name, data in events
        ]
        self.mock.script("redacted", chunks=chunks)
        for stream in (False, True):
            with self.subTest(stream=stream):
                if stream:
                    with self.client.messages.stream(model="claude/redacted", max_tokens=50, messages=USER) as live:
                        message = live.get_final_message()
                else:
                    message = self.client.messages.create(model="claude/redacted", max_tokens=50, messages=USER)
                self.assertEqual(
                    [block.to_dict() for block in message.content],
                    [{"type": "redacted_thinking", "data": "EmwKAhgB..."}, {"type": "text", "text": "Done."}],
                )
                self.assertEqual((message.usage.input_tokens, message.usage.output_tokens), (9, 7))


_DELTA_VALUES = ("text", "thinking", "partial_json")


def _recorded_block_events(name: str):
    """The content_block_* events of a recorded Anthropic stream, less what pigw does not carry.

    That is: empty text/thinking/JSON deltas (the provider drops them) and a tool_use block's `caller`.
    """
    events = []
    with open(os.path.join(FIXTURES_DIR, "anthropic", name + ".sse"), encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("data: "):
                data = json.loads(line[6:])
                delta = data.get("delta", {})
                if not data["type"].startswith("content_block_") or "" in (delta.get(key) for key in _DELTA_VALUES):
                    continue
                data.get("content_block", {}).pop("caller", None)
                events.append(data)
    return events


if __name__ == "__main__":
    unittest.main()
