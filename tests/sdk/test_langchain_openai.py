"""langchain-openai's ChatOpenAI as a real client of the built pigw.pyz (runs where .ci/run installs it).

invoke, stream and bind_tools against recorded provider answers on the loopback mock upstream, through
an OpenAI-compatible (`mock/*`) and an Anthropic (`claude/*`) upstream, and LangChain's tool-call history
sent back.
"""

import functools
import operator
import unittest

from tests.sdk.mocked_gateway import MockedGateway

try:
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_openai import ChatOpenAI
except ImportError:
    ChatOpenAI = None

SERVER = MockedGateway(["echo-1", "fx-oai-tool-qwen"], ["fx-ant-tool"])


def setUpModule() -> None:
    SERVER.start_unless_missing(ChatOpenAI is None, "langchain-openai")


def tearDownModule() -> None:
    SERVER.stop()


def weather(location: str) -> str:
    """The weather at a location."""
    return "sunny, 18 C"


def get_weather(location: str) -> str:
    """The current weather at a location."""
    return "sunny, 18 C"


def chat(model: str, **options) -> "ChatOpenAI":
    return ChatOpenAI(base_url=SERVER.base_url, api_key="unused-on-loopback", model=model, max_retries=0, **options)


def function(tool) -> dict:
    """The Chat Completions tool LangChain makes of a one-string-argument Python function."""
    parameters = {"properties": {"location": {"type": "string"}}, "required": ["location"], "type": "object"}
    return {
        "type": "function",
        "function": {"name": tool.__name__, "description": tool.__doc__, "parameters": parameters},
    }


class LangChainOpenAI(unittest.TestCase):
    def test_invoke(self) -> None:
        reply = chat("mock/echo-1").invoke("hello there")
        self.assertEqual(reply.content, "echo: hello there")
        self.assertEqual(
            (reply.response_metadata["finish_reason"], reply.response_metadata["model_name"]), ("stop", "mock/echo-1")
        )
        self.assertEqual((reply.usage_metadata["input_tokens"], reply.usage_metadata["output_tokens"]), (2, 4))
        self.assertEqual((reply.tool_calls, reply.invalid_tool_calls), ([], []))
        self.assertEqual(
            SERVER.mock.requests[-1].json,
            {"model": "echo-1", "messages": [{"role": "user", "content": "hello there"}], "stream": False},
        )

    def test_stream_with_usage(self) -> None:
        chunks = list(chat("mock/echo-1", stream_usage=True).stream("stream me"))
        self.assertEqual("".join(chunk.content for chunk in chunks), "echo: stream me")
        self.assertGreater(len([chunk for chunk in chunks if chunk.content]), 1)
        usage = [chunk.usage_metadata for chunk in chunks if chunk.usage_metadata]
        self.assertEqual([(count["input_tokens"], count["output_tokens"]) for count in usage], [(2, 3)])
        finish = [
            chunk.response_metadata["finish_reason"] for chunk in chunks if "finish_reason" in chunk.response_metadata
        ]
        self.assertEqual(finish, ["stop"])

    def test_bind_tools_through_an_openai_upstream(self) -> None:
        model = chat("mock/fx-oai-tool-qwen").bind_tools([weather])
        reply = model.invoke("What is the weather in San Francisco?")
        expected = {"name": "weather", "args": {"location": "San Francisco"}, "type": "tool_call"}
        self.assertEqual(reply.tool_calls, [dict(expected, id="call_962bfd2ab8f54b89a1161356")])
        self.assertEqual((reply.invalid_tool_calls, reply.response_metadata["finish_reason"]), ([], "tool_calls"))
        self.assertEqual(SERVER.mock.requests[-1].json["tools"], [function(weather)])
        streamed = functools.reduce(operator.add, model.stream("What is the weather in San Francisco?"))
        self.assertEqual(streamed.tool_calls, [dict(expected, id="call_eee11723464a4b9eb8cee71d")])
        self.assertEqual(
            [(chunk["index"], chunk["args"]) for chunk in streamed.tool_call_chunks],
            [(0, '{"location": "San Francisco"}')],
        )
        self.assertEqual(SERVER.mock.requests[-1].json["stream"], True)

    def test_bind_tools_through_an_anthropic_upstream_then_the_tool_result(self) -> None:
        question = HumanMessage("What is the weather in Paris?")
        reply = chat("claude/fx-ant-tool").bind_tools([get_weather]).invoke([question])
        call_id = "toolu_01NRLabsLyVHZPKxbKvkfSMn"
        self.assertEqual(reply.content, "I'll check the current weather in Paris for you.")
        self.assertEqual(
            reply.tool_calls,
            [{"name": "get_weather", "args": {"location": "Paris"}, "id": call_id, "type": "tool_call"}],
        )
        self.assertEqual(
            SERVER.mock.requests[-1].json["tools"][0]["input_schema"], function(get_weather)["function"]["parameters"]
        )

        answer = (
            chat("mock/echo-1")
            .bind_tools([get_weather])
            .invoke([question, reply, ToolMessage("sunny, 18 C", tool_call_id=call_id)])
        )
        self.assertEqual(answer.content, "echo: What is the weather in Paris?")
        self.assertEqual(
            SERVER.mock.requests[-1].json["messages"],
            [
                {"role": "user", "content": "What is the weather in Paris?"},
                {
                    "role": "assistant",
                    "content": "I'll check the current weather in Paris for you.",
                    "tool_calls": [
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": call_id, "content": "sunny, 18 C"},
            ],
        )


if __name__ == "__main__":
    unittest.main()
