"""The official `openai` SDK, sync and async, as a real client of the built pigw.pyz (runs where .ci/run installs it).

`mock/*` models speak openai-completions to the loopback mock upstream and `claude/*` anthropic-messages.
The tool-call round trips script `*-turns` models turn by turn with recorded provider answers and check
both what the SDK parsed and what the upstream received.
"""

import asyncio
import json
import unittest

from tests.sdk.mocked_gateway import MockedGateway, recorded, recorded_body

try:
    import openai
except ImportError:
    openai = None

QUESTION = {"role": "user", "content": "What is the weather in New York?"}
EPHEMERAL = {"type": "ephemeral"}
SERVER = MockedGateway(["echo-1", "fx-oai-tool", "oai-turns"], ["claude-turns"])


def setUpModule() -> None:
    SERVER.start_unless_missing(openai is None, "the openai SDK")


def tearDownModule() -> None:
    SERVER.stop()


def weather_tool(parameter: str, description: str) -> dict:
    schema = {"type": "object", "properties": {parameter: {"type": "string"}}, "required": [parameter]}
    return {"type": "function", "function": {"name": "get_weather", "description": description, "parameters": schema}}


CITY_WEATHER = weather_tool("city", "The current weather in a city.")
LOCATION_WEATHER = weather_tool("location", "The current weather at a location.")


def get_weather(**arguments: str) -> str:
    """The client's side of the tool call."""
    return json.dumps({"where": next(iter(arguments.values())), "temperature_c": 22, "sky": "sunny"})


def assistant_turn(call_id: str, name: str, arguments: str, content=None) -> dict:
    """The assistant message a client sends back after the model called a tool."""
    function = {"name": name, "arguments": arguments}
    return {
        "role": "assistant",
        "content": content,
        "tool_calls": [{"id": call_id, "type": "function", "function": function}],
    }


def streamed_calls(chunks) -> list:
    return [call for chunk in chunks if chunk.choices for call in (chunk.choices[0].delta.tool_calls or [])]


class OpenAISDK(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.mock = SERVER.mock
        cls.client = openai.OpenAI(base_url=SERVER.base_url, api_key="anything", max_retries=0)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.close()

    def test_models_list(self) -> None:
        ids = [model.id for model in self.client.models.list()]
        self.assertEqual(ids, ["mock/echo-1", "mock/fx-oai-tool", "mock/oai-turns", "claude/claude-turns"])

    def test_non_stream(self) -> None:
        completion = self.client.chat.completions.create(
            model="mock/echo-1", messages=[{"role": "user", "content": "sdk says hi"}]
        )
        self.assertEqual(completion.choices[0].message.content, "echo: sdk says hi")
        self.assertEqual(completion.choices[0].finish_reason, "stop")
        self.assertEqual(completion.model, "mock/echo-1")
        self.assertGreater(completion.usage.total_tokens, 0)

    def test_stream_with_usage(self) -> None:
        stream = self.client.chat.completions.create(
            model="mock/echo-1",
            messages=[{"role": "user", "content": "streaming now"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
        self.assertEqual(text, "echo: streaming now")
        self.assertEqual(chunks[-1].choices, [])
        self.assertEqual(chunks[-1].usage.completion_tokens, len("echo: streaming now") // 4)

    def test_tool_call_stream(self) -> None:
        stream = self.client.chat.completions.create(
            model="mock/fx-oai-tool", messages=[{"role": "user", "content": "weather"}], stream=True
        )
        chunks = list(stream)
        calls = streamed_calls(chunks)
        self.assertEqual(calls[0].function.name, "get_weather")
        arguments = "".join(call.function.arguments or "" for call in calls)
        self.assertEqual(json.loads(arguments), {"city": "New York City"})
        self.assertEqual(chunks[-1].choices[0].finish_reason, "tool_calls")

    def test_tool_call_round_trip_through_an_openai_upstream(self) -> None:
        self.mock.script("oai-turns", chunks=recorded("openai-chat/fx-oai-tool.sse"))
        chunks = list(
            self.client.chat.completions.create(
                model="mock/oai-turns", messages=[QUESTION], tools=[CITY_WEATHER], stream=True
            )
        )
        first, *deltas = streamed_calls(chunks)
        call_id = "call_4XzlGBLtUe9dy3GVNV4jhq7h"
        self.assertEqual(
            (first.index, first.id, first.type, first.function.name, first.function.arguments),
            (0, call_id, "function", "get_weather", ""),
        )
        self.assertEqual([delta.id for delta in deltas], [None] * 7)
        arguments = "".join(delta.function.arguments for delta in deltas)
        self.assertEqual(
            [delta.function.arguments for delta in deltas], ['{"', "city", '":"', "New", " York", " City", '"}']
        )
        self.assertEqual(chunks[-1].choices[0].finish_reason, "tool_calls")
        self.assertEqual(
            self.mock.requests[-1].json,
            {
                "model": "oai-turns",
                "messages": [QUESTION],
                "stream": True,
                "stream_options": {"include_usage": True},
                "tools": [CITY_WEATHER],
            },
        )

        self.mock.script("oai-turns", body=recorded_body("openai-chat/fx-oai-text.json"))
        history = [
            QUESTION,
            assistant_turn(call_id, "get_weather", arguments),
            {"role": "tool", "tool_call_id": call_id, "content": get_weather(**json.loads(arguments))},
        ]
        final = self.client.chat.completions.create(model="mock/oai-turns", messages=history, tools=[CITY_WEATHER])
        self.assertEqual(final.choices[0].message.content, '{"city":"San Francisco","temperature":65,"units":"f"}')
        self.assertEqual((final.choices[0].message.tool_calls, final.choices[0].finish_reason), (None, "stop"))
        self.assertEqual((final.usage.prompt_tokens, final.usage.completion_tokens), (79, 14))
        self.assertEqual(
            self.mock.requests[-1].json,
            {"model": "oai-turns", "messages": history, "stream": False, "tools": [CITY_WEATHER]},
        )

    def test_errors_raise_typed_exceptions(self) -> None:
        with self.assertRaises(openai.NotFoundError) as caught:
            self.client.chat.completions.create(model="mock/missing", messages=[{"role": "user", "content": "x"}])
        self.assertEqual(caught.exception.code, "model_not_found")
        with self.assertRaises(openai.BadRequestError):
            self.client.chat.completions.create(model="mock/echo-1", messages=[])


class AsyncOpenAISDK(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        asyncio.get_running_loop().slow_callback_duration = 5.0  # the debug-mode loop's "took 0.2 s" log is noise
        self.mock = SERVER.mock
        self.client = openai.AsyncOpenAI(base_url=SERVER.base_url, api_key="anything", max_retries=0)

    async def asyncTearDown(self) -> None:
        await self.client.close()

    async def test_non_stream(self) -> None:
        completion = await self.client.chat.completions.create(
            model="mock/echo-1", messages=[{"role": "user", "content": "async hi"}]
        )
        self.assertEqual(completion.choices[0].message.content, "echo: async hi")
        self.assertEqual((completion.choices[0].finish_reason, completion.model), ("stop", "mock/echo-1"))
        self.assertEqual((completion.usage.prompt_tokens, completion.usage.completion_tokens), (2, 3))

    async def test_concurrent_streams_with_usage(self) -> None:
        async def one(number: int) -> list:
            stream = await self.client.chat.completions.create(
                model="mock/echo-1",
                messages=[{"role": "user", "content": "stream %d" % number}],
                stream=True,
                stream_options={"include_usage": True},
            )
            return [chunk async for chunk in stream]

        answers = await asyncio.gather(*(one(number) for number in range(4)))
        for number, chunks in enumerate(answers):
            text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
            self.assertEqual(text, "echo: stream %d" % number)
            self.assertEqual([chunk.choices[0].finish_reason for chunk in chunks[-2:-1]], ["stop"])
            self.assertEqual((chunks[-1].choices, chunks[-1].usage.completion_tokens), ([], 3))
            self.assertEqual(len({chunk.id for chunk in chunks}), 1)

    async def test_tool_call_round_trip_through_an_anthropic_upstream(self) -> None:
        self.mock.script("claude-turns", chunks=recorded("anthropic/fx-ant-tool.sse"))
        question = {"role": "user", "content": "What is the weather in Paris?"}
        stream = await self.client.chat.completions.create(
            model="claude/claude-turns", messages=[question], tools=[LOCATION_WEATHER], stream=True
        )
        chunks = [chunk async for chunk in stream]
        said = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
        self.assertEqual(said, "I'll check the current weather in Paris for you.")
        first, *deltas = streamed_calls(chunks)
        call_id = "toolu_01NRLabsLyVHZPKxbKvkfSMn"
        self.assertEqual((first.index, first.id, first.function.name), (0, call_id, "get_weather"))
        self.assertEqual([delta.function.arguments for delta in deltas], ['{"locati', 'on": "P', "ar", 'is"}'])
        self.assertEqual(chunks[-1].choices[0].finish_reason, "tool_calls")
        upstream = self.mock.requests[-1]
        self.assertEqual(
            (upstream.path, upstream.json["model"], upstream.json["stream"]),
            ("/v1/messages?beta=true", "claude-turns", True),
        )
        self.assertEqual(
            upstream.json["messages"],
            [{"role": "user", "content": [{"type": "text", "text": question["content"], "cache_control": EPHEMERAL}]}],
        )
        self.assertEqual(
            upstream.json["tools"],
            [
                {
                    "name": "get_weather",
                    "description": "The current weather at a location.",
                    "eager_input_streaming": True,
                    "input_schema": LOCATION_WEATHER["function"]["parameters"],
                    "cache_control": EPHEMERAL,
                }
            ],
        )

        self.mock.script("claude-turns", chunks=recorded("anthropic/fx-ant-text.sse"))
        arguments = "".join(delta.function.arguments for delta in deltas)
        result = get_weather(**json.loads(arguments))
        history = [
            question,
            assistant_turn(call_id, "get_weather", arguments, content=said),
            {"role": "tool", "tool_call_id": call_id, "content": result},
        ]
        final = await self.client.chat.completions.create(
            model="claude/claude-turns", messages=history, tools=[LOCATION_WEATHER]
        )
        self.assertEqual(
            final.choices[0].message.content,
            "Hello! I'm doing well, thank you for asking. How are you doing today?"
            " Is there anything I can help you with?",
        )
        self.assertEqual((final.choices[0].finish_reason, final.model), ("stop", "claude/claude-turns"))
        self.assertEqual(
            self.mock.requests[-1].json["messages"],
            [
                {"role": "user", "content": [{"type": "text", "text": question["content"]}]},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": said},
                        {"type": "tool_use", "id": call_id, "name": "get_weather", "input": {"location": "Paris"}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": call_id,
                            "content": result,
                            "is_error": False,
                            "cache_control": EPHEMERAL,
                        }
                    ],
                },
            ],
        )


if __name__ == "__main__":
    unittest.main()
