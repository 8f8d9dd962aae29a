"""Tool parameter schemas as each provider puts them on the wire: object roots always, `$ref`s inlined per vendor."""

import json
import unittest

from pigw.core import Context, Options, Text, Tool, UserMessage
from pigw.credentials import Credential
from pigw.providers import anthropic_messages, openai_completions
from pigw.registry import Model
from tests.support.events import FakeResponse

# A schema as an MCP server built with pydantic sends it: root oneOf of references, a recursive definition.
RICH = {
    "oneOf": [{"$ref": "#/$defs/ByPath"}, {"$ref": "#/$defs/ByTree"}],
    "$defs": {
        "ByPath": {
            "type": "object",
            "properties": {"path": {"type": "string", "description": "file path"}},
            "required": ["path"],
        },
        "ByTree": {
            "type": "object",
            "properties": {"tree": {"$ref": "#/$defs/Node", "description": "the tree"}},
            "required": ["tree"],
        },
        "Node": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
            },
        },
    },
}
MERGED_WITH_REFS = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "file path"},
        "tree": {"$ref": "#/$defs/Node", "description": "the tree"},
    },
    "$defs": RICH["$defs"],
}
INLINED = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "file path"},
        "tree": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {}}},
            "description": "the tree",
        },
    },
}
PLAIN = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
CONTEXT = Context(None, [UserMessage([Text("hi")])], [Tool("find", "Find a file", RICH), Tool("ask", "Ask", PLAIN)])


class RecordingPool:
    """Keeps the JSON body of the one request it is given; answers with an empty stream."""

    body = None

    def request(self, method, url, headers, body, on_waiting=None):
        self.body = json.loads(body)
        return FakeResponse(b"")


def sent_tools(provider, model: Model):
    pool = RecordingPool()
    provider.stream(model, CONTEXT, Options(), Credential(api_key="k"), pool)
    return pool.body["tools"]


def openai_model(provider_id: str, model_id: str = "m", base_url: str = "https://api.example.com/v1", compat=None):
    return Model(provider_id, model_id, api="openai-completions", base_url=base_url, compat=compat)


def openai_tools(parameters: dict):
    return [
        {"type": "function", "function": {"name": "find", "description": "Find a file", "parameters": parameters}},
        {"type": "function", "function": {"name": "ask", "description": "Ask", "parameters": PLAIN}},
    ]


class OpenAICompletions(unittest.TestCase):
    def test_vendors_that_take_refs_get_an_object_root_and_the_refs(self) -> None:
        for target in (
            openai_model("openai", base_url="https://api.openai.com/v1"),
            openai_model("groq", base_url="https://api.groq.com/openai/v1"),
            openai_model("opencode-go", "glm-5.3", "https://opencode.ai/inference/go/openai/v1"),
        ):
            with self.subTest(provider=target.provider, model=target.id):
                self.assertEqual(sent_tools(openai_completions, target), openai_tools(MERGED_WITH_REFS))

    def test_vendors_that_reject_refs_get_them_inlined(self) -> None:
        for target in (
            openai_model("moonshotai", base_url="https://api.moonshot.ai/v1"),
            openai_model("kimi-coding", base_url="https://api.kimi.com/coding/v1"),
            openai_model("opencode-go", "kimi-k3", "https://opencode.ai/inference/go/openai/v1"),
            openai_model("my-fireworks", base_url="https://api.fireworks.ai/inference/v1"),
            openai_model("custom", compat={"supportsToolSchemaRefs": False}),
        ):
            with self.subTest(provider=target.provider, model=target.id):
                self.assertEqual(sent_tools(openai_completions, target), openai_tools(INLINED))

    def test_a_models_compat_can_keep_refs_for_a_detected_vendor(self) -> None:
        target = openai_model(
            "moonshotai", base_url="https://api.moonshot.ai/v1", compat={"supportsToolSchemaRefs": True}
        )
        self.assertEqual(sent_tools(openai_completions, target), openai_tools(MERGED_WITH_REFS))


class AnthropicMessages(unittest.TestCase):
    def anthropic_tools(self, compat: dict):
        target = Model(
            "anthropic", "claude-x", api="anthropic-messages", base_url="https://api.anthropic.com", compat=compat
        )
        return sent_tools(anthropic_messages, target)

    def test_root_one_of_is_merged_and_refs_are_kept(self) -> None:
        tools = self.anthropic_tools({"supportsEagerToolInputStreaming": False, "supportsCacheControlOnTools": False})
        self.assertEqual(
            tools,
            [
                {"name": "find", "description": "Find a file", "input_schema": MERGED_WITH_REFS},
                {"name": "ask", "description": "Ask", "input_schema": PLAIN},
            ],
        )

    def test_refs_are_inlined_when_the_models_compat_says_so(self) -> None:
        compat = {"supportsEagerToolInputStreaming": False, "supportsCacheControlOnTools": False}
        tools = self.anthropic_tools(dict(compat, supportsToolSchemaRefs=False))
        self.assertEqual(
            tools,
            [
                {"name": "find", "description": "Find a file", "input_schema": INLINED},
                {"name": "ask", "description": "Ask", "input_schema": PLAIN},
            ],
        )


if __name__ == "__main__":
    unittest.main()
