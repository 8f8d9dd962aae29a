"""Request bodies shaped as popular clients send them (tests/fixtures/clients/), replayed through pigw.

Each body is parsed by `pigw.api.openai_chat.parse` and translated by both upstream request builders
(openai-completions, anthropic-messages); the tests pin what is dropped and the exact upstream bodies.
Then every body goes through the built pigw.pyz to a loopback mock of each upstream protocol.
"""

import json
import os
import unittest
from typing import Any, Dict, List, Tuple

from pigw.api import openai_chat
from pigw.core import Request
from pigw.credentials import Credential
from pigw.providers import anthropic_messages, openai_completions
from pigw.registry import Model
from tests.sdk.mocked_gateway import MockedGateway
from tests.support.gateway_process import sse_data

CLIENTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "clients")
CLIENTS = ("aider", "cline", "continue", "librechat", "open-webui", "pi", "zed")
OPENAI = Model("mock", "m-1", api="openai-completions", base_url="http://upstream.invalid/v1")
CLAUDE = Model("claude", "c-1", api="anthropic-messages", base_url="http://upstream.invalid")
CLAUDE_THINKING = Model(
    "claude", "c-1-thinking", api="anthropic-messages", base_url="http://upstream.invalid", reasoning=True
)
CREDENTIAL = Credential(api_key="k", env={"PI_CACHE_RETENTION": "short"})
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
IMAGE_PART = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PNG}}
IMAGE_BLOCK = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
CACHED = {"cache_control": {"type": "ephemeral"}}
USAGE = {"include_usage": True}


def translated(body: Dict[str, Any], claude: Model = CLAUDE) -> Tuple[Request, Dict[str, Any], Dict[str, Any]]:
    """The parsed request and the upstream bodies both providers build from it."""
    request = openai_chat.parse(body)
    compat = openai_completions.compat_for(OPENAI)
    openai_body = openai_completions.build_body(OPENAI, compat, request.context, request.options)
    anthropic_body, _betas = anthropic_messages._build_body(claude, request.context, request.options, CREDENTIAL)
    return request, openai_body, anthropic_body


def openai_request(**fields: Any) -> Dict[str, Any]:
    """The body pigw sends the openai-completions model `m-1`: its id and these fields."""
    return dict(model=OPENAI.id, **fields)


def anthropic_request(**fields: Any) -> Dict[str, Any]:
    """The body pigw sends the anthropic-messages model `c-1` (unless `model` says another): its id and these fields."""
    return dict({"model": CLAUDE.id}, **fields)


def cached(block: Dict[str, Any]) -> Dict[str, Any]:
    """An Anthropic block carrying pigw's prompt-cache marker (the last user block, the last tool, the system)."""
    return dict(block, **CACHED)


def text(value: str) -> Dict[str, Any]:
    return {"type": "text", "text": value}


def call(call_id: str, name: str, arguments: str) -> Dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def tool_use(call_id: str, name: str, arguments: Dict[str, Any]) -> Dict[str, Any]:
    return {"type": "tool_use", "id": call_id, "name": name, "input": arguments}


def tool_result(call_id: str, content: Any) -> Dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": call_id, "content": content, "is_error": False}


def claude_tools(sent: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The client's function tools as Anthropic tools: eager input streaming, the cache marker on the last."""
    tools = [
        {
            "name": tool["function"]["name"],
            "description": tool["function"]["description"],
            "eager_input_streaming": True,
            "input_schema": tool["function"]["parameters"],
        }
        for tool in sent["tools"]
    ]
    tools[-1].update(CACHED)
    return tools


def _load(client: str) -> Dict[str, Any]:
    with open(os.path.join(CLIENTS_DIR, client + ".json"), encoding="utf-8") as handle:
        return json.load(handle)


class Fixtures(unittest.TestCase):
    def test_every_client_file_says_where_its_shapes_come_from(self) -> None:
        self.assertEqual(sorted(name[:-5] for name in os.listdir(CLIENTS_DIR)), sorted(CLIENTS))
        for client in CLIENTS:
            with self.subTest(client=client):
                data = _load(client)
                self.assertEqual(sorted(data), ["client", "provenance", "requests"])
                self.assertIn("public source", data["provenance"])
                for name, entry in data["requests"].items():
                    self.assertEqual(sorted(entry), ["body", "note"], name)
                    self.assertTrue(entry["note"] and entry["body"]["model"] and entry["body"]["messages"], name)


class ReplayCase(unittest.TestCase):
    def replayed(self, client: str, name: str, dropped: Tuple[str, ...] = (), extra=None, claude: Model = CLAUDE):
        """The body, its request and both upstream bodies, once parse dropped `dropped` and kept `extra` as native."""
        sent = _load(client)["requests"][name]["body"]
        request, openai_body, anthropic_body = translated(sent, claude)
        self.assertEqual((request.dropped, request.options.extra), (list(dropped), extra or {}))
        return sent, request, openai_body, anthropic_body


class Cline(ReplayCase):
    def test_first_turn(self) -> None:
        sent, request, openai_body, anthropic_body = self.replayed("cline", "first-turn")
        system = "You are Cline, a highly skilled software engineer."
        task, environment = sent["messages"][1]["content"]
        self.assertEqual(
            openai_body,
            openai_request(
                messages=[{"role": "system", "content": system}, {"role": "user", "content": [task, environment]}],
                stream=True,
                stream_options=USAGE,
                temperature=0,
                parallel_tool_calls=True,
                tools=sent["tools"],  # strict false and additionalProperties false, as Cline sent them
                tool_choice="auto",
            ),
        )
        self.assertEqual(
            anthropic_body,
            anthropic_request(
                max_tokens=16384,
                stream=True,
                system=[cached(text(system))],
                messages=[{"role": "user", "content": [task, cached(environment)]}],
                tools=claude_tools(sent),
                tool_choice={"type": "auto"},
                temperature=0,
            ),
        )

    def test_tool_results_with_the_image_in_a_following_user_message(self) -> None:
        sent, request, openai_body, anthropic_body = self.replayed("cline", "tool-results")
        task = sent["messages"][1]["content"][0]["text"]
        environment = sent["messages"][6]["content"][0]["text"]
        read = call("call_cline_1", "read_file", '{"path":"assets/logo.png"}')
        placeholder = "(see following user message for image)"
        self.assertEqual(
            openai_body["messages"],
            [
                {"role": "system", "content": "You are Cline, a highly skilled software engineer."},
                {"role": "user", "content": task},
                # The assistant turn that held only reasoning has nothing to send and is left out.
                {"role": "assistant", "content": None, "tool_calls": [read]},
                {"role": "tool", "tool_call_id": "call_cline_1", "content": placeholder},
                {"role": "user", "content": [IMAGE_PART]},
                {"role": "user", "content": environment},
            ],
        )
        self.assertEqual(
            {name: openai_body[name] for name in ("temperature", "parallel_tool_calls", "tool_choice", "tools")},
            {"temperature": 0, "parallel_tool_calls": True, "tool_choice": "auto", "tools": sent["tools"]},
        )
        self.assertEqual(
            anthropic_body["messages"],
            [
                {"role": "user", "content": [text(task)]},
                {"role": "assistant", "content": [tool_use("call_cline_1", "read_file", {"path": "assets/logo.png"})]},
                {
                    "role": "user",
                    "content": [tool_result("call_cline_1", placeholder), IMAGE_BLOCK, cached(text(environment))],
                },
            ],
        )
        self.assertEqual((anthropic_body["tool_choice"], anthropic_body["temperature"]), ({"type": "auto"}, 0))

    def test_reasoning_model_developer_message_and_effort(self) -> None:
        sent, request, openai_body, anthropic_body = self.replayed("cline", "reasoning-model", claude=CLAUDE_THINKING)
        system, task = "You are Cline, a highly skilled software engineer.", "<task>\nExplain src/app.py\n</task>"
        self.assertEqual((request.options.reasoning, request.options.max_tokens), ("medium", 8192))
        self.assertEqual(
            openai_body,
            openai_request(
                messages=[{"role": "system", "content": system}, {"role": "user", "content": task}],
                stream=True,
                stream_options=USAGE,
                max_completion_tokens=8192,
            ),
        )
        self.assertEqual(
            anthropic_body,
            anthropic_request(
                model="c-1-thinking",
                max_tokens=16384,  # 8192 to answer plus the medium budget, capped at the model's 16384
                stream=True,
                system=[cached(text(system))],
                messages=[{"role": "user", "content": [cached(text(task))]}],
                thinking={"type": "enabled", "budget_tokens": 8192, "display": "summarized"},
            ),
        )


class Continue(ReplayCase):
    def test_chat_with_an_image(self) -> None:
        sent, request, openai_body, anthropic_body = self.replayed("continue", "chat-with-image")
        question = text("Why does this dialog look cut off?")
        self.assertEqual(
            openai_body,
            openai_request(
                messages=[
                    {"role": "system", "content": "Always answer in English."},
                    {"role": "user", "content": [question, IMAGE_PART]},  # detail "auto" is the default anyway
                ],
                stream=True,
                stream_options=USAGE,
                max_completion_tokens=4096,
            ),
        )
        self.assertEqual(
            anthropic_body,
            anthropic_request(
                max_tokens=4096,
                stream=True,
                system=[cached(text("Always answer in English."))],
                messages=[{"role": "user", "content": [question, cached(IMAGE_BLOCK)]}],
            ),
        )

    def test_agent_tool_result_after_a_blank_assistant_content(self) -> None:
        sent, request, openai_body, anthropic_body = self.replayed("continue", "agent-tool-result")
        question, readme = "What does the README say about installing?", "# proj\n\nInstall with `pip install proj`."
        self.assertEqual(
            openai_body,
            openai_request(
                messages=[
                    {"role": "system", "content": "You are in agent mode."},
                    {"role": "user", "content": question},
                    {
                        "role": "assistant",
                        "content": None,  # Continue's " " stand-in for empty content is not sent on
                        "tool_calls": [call("call_cont_1", "read_file", '{"filepath":"README.md"}')],
                    },
                    {"role": "tool", "tool_call_id": "call_cont_1", "content": readme},
                ],
                stream=True,
                stream_options=USAGE,
                max_completion_tokens=4096,
                tools=sent["tools"],
            ),
        )
        self.assertEqual(
            anthropic_body,
            anthropic_request(
                max_tokens=4096,
                stream=True,
                system=[cached(text("You are in agent mode."))],
                messages=[
                    {"role": "user", "content": [text(question)]},
                    {"role": "assistant", "content": [tool_use("call_cont_1", "read_file", {"filepath": "README.md"})]},
                    {"role": "user", "content": [cached(tool_result("call_cont_1", readme))]},
                ],
                tools=claude_tools(sent),
            ),
        )


class OpenWebUI(ReplayCase):
    def test_chat_with_model_parameters_and_an_image(self) -> None:
        sent, request, openai_body, anthropic_body = self.replayed(
            "open-webui", "chat-with-params-and-image", extra={"frequency_penalty": 0.2}
        )
        system = "You are a helpful assistant for the team wiki."
        question = text("What is in this picture?")
        self.assertEqual((request.options.reasoning, request.options.seed), ("low", 42))
        self.assertEqual(
            openai_body,
            openai_request(
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": "Hi!"},
                    {"role": "assistant", "content": "Hello! How can I help you today?"},
                    {"role": "user", "content": [question, IMAGE_PART]},
                ],
                stream=True,
                stream_options=USAGE,
                max_completion_tokens=2048,
                temperature=0.6,
                top_p=0.9,
                stop=["</answer>"],
                seed=42,
                frequency_penalty=0.2,
            ),
        )
        self.assertEqual(
            anthropic_body,
            anthropic_request(
                max_tokens=2048,
                stream=True,
                system=[cached(text(system))],
                messages=[
                    {"role": "user", "content": [text("Hi!")]},
                    {"role": "assistant", "content": [text("Hello! How can I help you today?")]},
                    {"role": "user", "content": [question, cached(IMAGE_BLOCK)]},
                ],
                temperature=0.6,  # top_p left out next to temperature
                stop_sequences=["</answer>"],
            ),
        )

    def test_native_tool_calling_with_empty_assistant_content(self) -> None:
        sent, request, openai_body, anthropic_body = self.replayed("open-webui", "native-tool-calling")
        weather = '{"temperature": 3, "sky": "overcast"}'
        self.assertEqual(
            openai_body["messages"],
            [
                {"role": "user", "content": "Weather in Oslo?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [call("call_owui_1", "get_current_weather", '{"city": "Oslo"}')],
                },
                {"role": "tool", "tool_call_id": "call_owui_1", "content": weather},
            ],
        )
        self.assertEqual(openai_body["tools"], sent["tools"])
        self.assertEqual(
            anthropic_body["messages"],
            [
                {"role": "user", "content": [text("Weather in Oslo?")]},
                {"role": "assistant", "content": [tool_use("call_owui_1", "get_current_weather", {"city": "Oslo"})]},
                {"role": "user", "content": [cached(tool_result("call_owui_1", weather))]},
            ],
        )
        self.assertEqual(anthropic_body["tools"], claude_tools(sent))
        self.assertNotIn("tool_choice", anthropic_body)

    def test_title_task_is_not_streamed(self) -> None:
        sent, request, openai_body, anthropic_body = self.replayed("open-webui", "title-task")
        task = sent["messages"][0]["content"]
        self.assertFalse(request.options.stream)
        self.assertEqual(
            openai_body,
            openai_request(
                messages=[{"role": "user", "content": task}],
                stream=False,
                max_completion_tokens=1000,
            ),
        )
        self.assertEqual(
            anthropic_body,
            anthropic_request(
                max_tokens=1000,
                stream=True,  # the Anthropic provider always streams; pigw collects the answer
                messages=[{"role": "user", "content": [cached(text(task))]}],
            ),
        )


class LibreChat(ReplayCase):
    def test_chat_with_instructions_user_id_and_message_names(self) -> None:
        sent, request, openai_body, anthropic_body = self.replayed("librechat", "chat", extra={"presence_penalty": 1})
        instructions = "Instructions:\nAnswer in one paragraph."
        self.assertEqual(
            openai_body,
            openai_request(
                messages=[
                    {"role": "system", "content": instructions},
                    {"role": "user", "content": "What is a B-tree?"},
                    {"role": "assistant", "content": "A B-tree is a balanced search tree."},
                    {"role": "user", "content": "And a B+ tree?"},
                ],
                stream=True,
                stream_options=USAGE,
                temperature=0.8,
                top_p=1,
                user="65f1c0ffee0123456789abcd",
                presence_penalty=1,
            ),
        )
        self.assertEqual(
            anthropic_body,
            anthropic_request(
                max_tokens=16384,
                stream=True,
                system=[cached(text(instructions))],
                messages=[
                    {"role": "user", "content": [text("What is a B-tree?")]},
                    {"role": "assistant", "content": [text("A B-tree is a balanced search tree.")]},
                    {"role": "user", "content": [cached(text("And a B+ tree?"))]},
                ],
                temperature=0.8,  # top_p left out: Claude Opus 4.1, Sonnet 4.5 and later refuse the pair (400)
                metadata={"user_id": "65f1c0ffee0123456789abcd"},
            ),
        )

    def test_vision_request(self) -> None:
        sent, request, openai_body, anthropic_body = self.replayed("librechat", "vision", extra={"presence_penalty": 1})
        question = text("Describe this chart.")
        self.assertEqual(openai_body["messages"], [{"role": "user", "content": [question, IMAGE_PART]}])
        self.assertEqual(openai_body["max_completion_tokens"], 4000)
        self.assertEqual(anthropic_body["messages"], [{"role": "user", "content": [question, cached(IMAGE_BLOCK)]}])
        self.assertEqual(anthropic_body["max_tokens"], 4000)


class Zed(ReplayCase):
    def test_agent_thread_with_a_screenshot_tool_result(self) -> None:
        sent, request, openai_body, anthropic_body = self.replayed("zed", "agent-thread", ("prompt_cache_key",))
        system, ask = "You are a highly skilled software engineer.", sent["messages"][1]["content"]
        read = ("toolu_zed_1", "read_file")
        shot = ("toolu_zed_2", "screenshot")
        self.assertEqual(
            openai_body,
            openai_request(
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": ask},
                    {
                        "role": "assistant",
                        "content": "Let me look at the layout code first.",
                        "tool_calls": [call(*read, '{"path":"src/settings.rs"}')],
                    },
                    {"role": "tool", "tool_call_id": "toolu_zed_1", "content": "fn layout() {}"},
                    {"role": "assistant", "content": None, "tool_calls": [call(*shot, "{}")]},
                    # A text-only model (pi's rule): the screenshot stays behind, its caption goes.
                    {"role": "tool", "tool_call_id": "toolu_zed_2", "content": "Screenshot of the settings window"},
                ],
                stream=True,
                stream_options=USAGE,
                max_completion_tokens=32000,
                temperature=1.0,
                tools=sent["tools"],
            ),
        )
        self.assertEqual(
            anthropic_body,
            anthropic_request(
                max_tokens=32000,
                stream=True,
                system=[cached(text(system))],
                messages=[
                    {"role": "user", "content": [text(ask)]},
                    {
                        "role": "assistant",
                        "content": [
                            text("Let me look at the layout code first."),
                            tool_use(*read, {"path": "src/settings.rs"}),
                        ],
                    },
                    {"role": "user", "content": [tool_result("toolu_zed_1", "fn layout() {}")]},
                    {"role": "assistant", "content": [tool_use(*shot, {})]},
                    {
                        "role": "user",
                        "content": [
                            cached(tool_result("toolu_zed_2", [text("Screenshot of the settings window"), IMAGE_BLOCK]))
                        ],
                    },
                ],
                tools=claude_tools(sent),
                temperature=1.0,
            ),
        )


class Aider(ReplayCase):
    def test_edit_turn(self) -> None:
        sent, request, openai_body, anthropic_body = self.replayed("aider", "edit-turn")
        system, files, ok, ask = (message["content"] for message in sent["messages"])
        self.assertEqual(request.options.temperature, 0)
        self.assertEqual(
            openai_body,
            openai_request(
                messages=sent["messages"],
                stream=True,
                stream_options=USAGE,
                temperature=0,
            ),
        )
        self.assertEqual(
            anthropic_body,
            anthropic_request(
                max_tokens=16384,
                stream=True,
                system=[cached(text(system))],
                messages=[
                    {"role": "user", "content": [text(files)]},
                    {"role": "assistant", "content": [text(ok)]},
                    {"role": "user", "content": [cached(text(ask))]},
                ],
                temperature=0,
            ),
        )

    def test_image_and_max_tokens_from_extra_params(self) -> None:
        sent, request, openai_body, anthropic_body = self.replayed("aider", "image-with-extra-params")
        caption = text("Image file: docs/screenshot.png")
        self.assertEqual(openai_body["messages"][1], {"role": "user", "content": [caption, IMAGE_PART]})
        self.assertEqual((openai_body["max_completion_tokens"], openai_body["temperature"]), (8192, 0))
        self.assertEqual(anthropic_body["messages"][0], {"role": "user", "content": [caption, IMAGE_BLOCK]})
        self.assertEqual((anthropic_body["max_tokens"], anthropic_body["temperature"]), (8192, 0))

    def test_commit_message_is_not_streamed(self) -> None:
        sent, request, openai_body, anthropic_body = self.replayed("aider", "commit-message")
        self.assertFalse(request.options.stream)
        self.assertEqual(openai_body, {"model": "m-1", "messages": sent["messages"], "stream": False, "temperature": 0})
        self.assertEqual((anthropic_body["stream"], anthropic_body["temperature"]), (True, 0))

    def test_forced_function_call(self) -> None:
        sent, request, openai_body, anthropic_body = self.replayed("aider", "function-call")
        self.assertEqual(request.options.tool_choice, {"name": "write_file"})
        self.assertEqual(
            {name: openai_body[name] for name in ("tools", "tool_choice")},
            {"tools": sent["tools"], "tool_choice": {"type": "function", "function": {"name": "write_file"}}},
        )
        self.assertEqual(
            {name: anthropic_body[name] for name in ("tools", "tool_choice")},
            {"tools": claude_tools(sent), "tool_choice": {"type": "tool", "name": "write_file"}},
        )


class Pi(ReplayCase):
    def test_tool_result_image_bridged_by_a_user_message(self) -> None:
        sent, request, openai_body, anthropic_body = self.replayed("pi", "tool-result-with-image", ("store",))
        system = "You are an expert coding assistant operating inside pi."
        shot = call("call_pi_1", "screenshot", '{"url":"http://localhost:3000/login"}')
        caption = text("Attached image(s) from tool result:")
        self.assertEqual((request.options.reasoning, request.options.max_tokens), ("high", 16384))
        self.assertEqual(
            openai_body,
            openai_request(
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": "Check how the login page renders."},
                    {
                        "role": "assistant",
                        "content": None,
                        "reasoning_content": "I should take a screenshot of the page.",
                        "tool_calls": [shot],
                    },
                    {"role": "tool", "tool_call_id": "call_pi_1", "content": "(see attached image)"},
                    {"role": "user", "content": [caption, IMAGE_PART]},
                ],
                stream=True,
                stream_options=USAGE,
                max_completion_tokens=16384,
                tools=sent["tools"],
            ),
        )
        self.assertEqual(
            anthropic_body["messages"],
            [
                {"role": "user", "content": [text("Check how the login page renders.")]},
                # Reasoning text from an OpenAI client carries no Anthropic signature: it is not replayed.
                {
                    "role": "assistant",
                    "content": [tool_use("call_pi_1", "screenshot", {"url": "http://localhost:3000/login"})],
                },
                {
                    "role": "user",
                    "content": [tool_result("call_pi_1", "(see attached image)"), caption, cached(IMAGE_BLOCK)],
                },
            ],
        )
        self.assertEqual(anthropic_body["system"], [cached(text(system))])


class ThroughThePyz(unittest.TestCase):
    """Every replay through the built pigw.pyz to an OpenAI-compatible and an Anthropic upstream."""

    TARGETS = ("mock/echo-1", "claude/echo-claude")

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = MockedGateway(["echo-1"], ["echo-claude"]).start()
        cls.mock, cls.gateway = cls.server.mock, cls.server.gateway

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def test_every_replay_is_answered_with_a_valid_stream_or_completion(self) -> None:
        for client in CLIENTS:
            for name, entry in _load(client)["requests"].items():
                for target in self.TARGETS:
                    with self.subTest(client=client, request=name, target=target):
                        self._check(dict(entry["body"], model=target))

    def _check(self, body: Dict[str, Any]) -> None:
        request = openai_chat.parse(body)
        dropped = request.dropped + ([] if body["model"].startswith("mock/") else list(request.options.extra))
        before = len(self.mock.requests)
        status, headers, answer = self.gateway.request("POST", "/v1/chat/completions", body)
        self.assertEqual(status, 200, answer)
        self.assertEqual(headers.get("x-pigw-dropped-params"), ", ".join(dropped) or None)
        (upstream,) = self.mock.requests[before:]
        self.assertEqual(upstream.model, body["model"].split("/", 1)[1])
        if body.get("stream") is True:
            self.assertEqual(headers["Content-Type"], "text/event-stream")
            reply = self._stream_text(answer, body.get("stream_options") == USAGE)
        else:
            completion = json.loads(answer)
            self.assertEqual((completion["object"], completion["model"]), ("chat.completion", body["model"]))
            (choice,) = completion["choices"]
            self.assertEqual((choice["message"]["role"], choice["finish_reason"]), ("assistant", "stop"))
            reply = choice["message"]["content"]
        self.assertTrue(reply.startswith("echo: "), reply)

    def _stream_text(self, answer: bytes, with_usage: bool) -> str:
        """The text of a well-formed chunk stream: role first, one finish_reason, usage when asked, then [DONE]."""
        frames = sse_data(answer)
        self.assertEqual(frames[-1], "[DONE]")
        chunks = [json.loads(frame) for frame in frames[:-1]]
        self.assertEqual({chunk["object"] for chunk in chunks}, {"chat.completion.chunk"})
        self.assertEqual(len({chunk["id"] for chunk in chunks}), 1)
        if with_usage:
            usage = chunks.pop()
            self.assertEqual(usage["choices"], [])
            self.assertGreater(usage["usage"]["completion_tokens"], 0)
        self.assertEqual(chunks[0]["choices"][0]["delta"], {"role": "assistant", "content": ""})
        self.assertEqual([chunk["choices"][0]["finish_reason"] for chunk in chunks[-1:]], ["stop"])
        self.assertEqual(sum(1 for chunk in chunks if chunk["choices"][0]["finish_reason"]), 1)
        return "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks)


if __name__ == "__main__":
    unittest.main()
