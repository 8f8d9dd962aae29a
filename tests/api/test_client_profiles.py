"""Client profiles: picked from User-Agent, header and config; how they change reasoning fields and keepalives."""

import json
import unittest

from pigw import config as config_module
from pigw.api import Incoming, openai_chat
from pigw.api.client_profiles import DEFAULT, Profiles
from pigw.core import Answer, Done, Start, Text, Thinking, ThinkingDelta, ThinkingStart
from pigw.errors import GatewayError
from pigw.net.headers import Headers


def headers(**values):
    return Headers([(name.replace("_", "-"), value) for name, value in values.items()])


def picked(profiles, **values):
    profile = profiles.pick(headers(**values))
    return profile.name, profile.reasoning_field, profile.keepalive


class Picking(unittest.TestCase):
    def test_user_agents_of_known_clients(self) -> None:
        profiles = Profiles()
        cases = {
            "Zed/0.190.5 (macos; aarch64)": ("zed", "reasoning_content", "delta"),
            "Cline/3.17.0": ("cline", "reasoning_content", "delta"),
            "Cline/4.1.16 ai-sdk/openai-compatible/3.0.30": ("cline", "reasoning_content", "delta"),
            "myapp ai-sdk/openai-compatible/1.0.0 runtime/node.js/22": ("ai-sdk", "reasoning_content", "delta"),
            "Python/3.12 aiohttp/3.11.18": ("open-webui", "reasoning_content", "comment"),
            "OpenAI/JS 5.8.2": ("openai-js", "reasoning_content", "delta"),
            "OpenAI/Python 1.97.0": ("openai-python", "reasoning_content", "delta"),
            "curl/8.5.0": ("default", "reasoning_content", "delta"),
        }
        for user_agent, expected in cases.items():
            with self.subTest(user_agent=user_agent):
                self.assertEqual(picked(profiles, user_agent=user_agent), expected)
        self.assertEqual(picked(profiles), ("default", "reasoning_content", "delta"))

    def test_headers_name_a_profile_or_override_fields(self) -> None:
        profiles = Profiles()
        self.assertEqual(
            picked(profiles, user_agent="OpenAI/Python 1", x_pigw_client="Open-WebUI"),
            ("open-webui", "reasoning_content", "comment"),
        )
        self.assertEqual(
            picked(profiles, user_agent="Zed/1", x_pigw_reasoning_field="both", x_pigw_keepalive="OFF"),
            ("zed", "both", "off"),
        )
        self.assertEqual(picked(profiles, user_agent="Zed/1"), ("zed", "reasoning_content", "delta"))  # not changed
        for name, value, param in (
            ("x_pigw_client", "nobody", "x-pigw-client"),
            ("x_pigw_reasoning_field", "thinking", "x-pigw-reasoning-field"),
            ("x_pigw_keepalive", "ping", "x-pigw-keepalive"),
        ):
            with self.subTest(name=name), self.assertRaises(GatewayError) as caught:
                profiles.pick(headers(**{name: value}))
            self.assertEqual((caught.exception.status, caught.exception.param), (400, param))
        self.assertEqual(str(caught.exception.message), "x-pigw-keepalive must be one of delta, comment, off.")

    def test_configured_profiles_come_first_and_replace_by_name(self) -> None:
        profiles = Profiles(
            {
                "my-app": {"userAgent": ["OpenAI/Python"], "reasoningField": "reasoning"},
                "zed": {"keepalive": "comment"},
                "default": {"reasoningField": "both"},
            }
        )
        self.assertEqual(picked(profiles, user_agent="OpenAI/Python 1.2"), ("my-app", "reasoning", "delta"))
        self.assertEqual(picked(profiles, user_agent="Zed/1"), ("zed", "reasoning_content", "comment"))
        self.assertEqual(picked(profiles, user_agent="other"), ("default", "both", "delta"))

    def test_config_file_validation(self) -> None:
        loaded = config_module.load({"authDir": "/nonexistent", "clientProfiles": {"a": {"keepalive": "off"}}}, {})
        self.assertEqual(loaded.client_profiles, {"a": {"keepalive": "off"}})
        for bad in ({"a": {"keepalive": "ping"}}, {"a": {"colour": "red"}}, {"a": {"userAgent": "x"}}, ["a"]):
            with self.subTest(bad=bad), self.assertRaises(config_module.ConfigError):
                config_module.load({"authDir": "/nonexistent", "clientProfiles": bad}, {})


class Rendering(unittest.TestCase):
    EVENTS = [Start(), ThinkingStart(0), ThinkingDelta(0, 'a "b"'), Done("stop")]

    def frames(self, reasoning_field):
        incoming = Incoming("POST", "/v1/chat/completions", "", {}, b"")
        incoming.profile = DEFAULT.with_fields(reasoning_field, None)
        envelope = openai_chat.chunk_envelope("chatcmpl-1", 1, "m")
        out = b"".join(openai_chat.render_stream(iter(self.EVENTS), envelope, False, incoming))
        return [json.loads(line[6:]) for line in out.decode().split("\n\n") if line.startswith("data: {")]

    def test_stream_reasoning_field_per_profile(self) -> None:
        for field, expected in (
            ("reasoning_content", {"reasoning_content": 'a "b"'}),
            ("reasoning", {"reasoning": 'a "b"'}),
            ("both", {"reasoning_content": 'a "b"', "reasoning": 'a "b"'}),
        ):
            with self.subTest(field=field):
                self.assertEqual(self.frames(field)[1]["choices"][0]["delta"], expected)

    def test_non_stream_reasoning_field_per_profile(self) -> None:
        answer = Answer()
        answer.content = [Thinking("hm"), Text("hi")]
        body = openai_chat.render_completion(answer, "chatcmpl-1", 1, "m", DEFAULT.with_fields("both", None))
        message = body["choices"][0]["message"]
        self.assertEqual((message["reasoning_content"], message["reasoning"], message["content"]), ("hm", "hm", "hi"))
        body = openai_chat.render_completion(answer, "chatcmpl-1", 1, "m", DEFAULT.with_fields("reasoning", None))
        self.assertNotIn("reasoning_content", body["choices"][0]["message"])

    def test_keepalive_forms(self) -> None:
        envelope = openai_chat.chunk_envelope("chatcmpl-1", 1, "m")
        self.assertEqual(
            openai_chat._keepalive(DEFAULT, envelope),
            envelope + b'[{"index":0,"delta":{},"logprobs":null,"finish_reason":null}]}\n\n',
        )
        self.assertEqual(openai_chat._keepalive(DEFAULT.with_fields(None, "comment"), envelope), b": keepalive\n\n")
        self.assertIsNone(openai_chat._keepalive(DEFAULT.with_fields(None, "off"), envelope))


if __name__ == "__main__":
    unittest.main()
