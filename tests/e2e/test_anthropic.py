"""Claude through the built pigw.pyz: a Pro/Max OAuth login, API keys, recorded Anthropic streams as OpenAI chunks."""

import json
import os
import shutil
import tempfile
import time
import unittest

from tests.support.gateway_process import GatewayProcess, sse_data
from tests.support.mock_upstream import MockUpstream

OAUTH_ACCESS = "sk-ant-oat01-canary-access-5e7d"
OAUTH_REFRESH = "sk-ant-ort01-canary-refresh-9c2b"
API_KEY = "sk-ant-api03-canary-key-1a4f"


class ClaudeSubscription(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.mock = MockUpstream().start()
        cls.agent_dir = tempfile.mkdtemp(prefix="pigw-claude-")
        auth = {
            "anthropic": {
                "type": "oauth",
                "access": OAUTH_ACCESS,
                "refresh": OAUTH_REFRESH,
                "expires": int(time.time() * 1000) + 3600 * 1000,
            },
            "groq": {"type": "api_key", "key": "gsk-other-entry"},
        }
        cls.auth_path = os.path.join(cls.agent_dir, "auth.json")
        with open(cls.auth_path, "w") as handle:
            json.dump(auth, handle, indent=2)
        os.chmod(cls.auth_path, 0o600)
        models = {
            "providers": {
                "anthropic": {"baseUrl": cls.mock.base_url},
                "mockant": {
                    "baseUrl": cls.mock.base_url,
                    "api": "anthropic-messages",
                    "apiKey": "$MOCKANT_KEY",
                    "models": [{"id": name} for name in ("fx-ant-thinking", "fx-ant-tool", "fx-ant-error-overloaded")],
                },
            }
        }
        with open(os.path.join(cls.agent_dir, "models.json"), "w") as handle:
            json.dump(models, handle)
        with open(cls.auth_path, "rb") as handle:
            cls.auth_bytes = handle.read()
        env = {"HOME": cls.agent_dir, "MOCKANT_KEY": API_KEY}
        cls.gateway = GatewayProcess(["--auth-dir", cls.agent_dir, "--log-level", "debug"], env).start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.gateway.stop()
        cls.mock.stop()
        shutil.rmtree(cls.agent_dir, ignore_errors=True)

    def chat(self, body):
        return self.gateway.request("POST", "/v1/chat/completions", body)

    def test_subscription_request_carries_exactly_the_oauth_identity(self) -> None:
        status, _headers, body = self.chat(
            {
                "model": "anthropic/claude-haiku-4-5",
                "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hello claude"}],
            }
        )
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["choices"][0]["message"]["content"], "echo: hello claude")
        sent = self.mock.requests[-1]
        self.assertEqual(sent.path, "/v1/messages?beta=true")
        self.assertEqual(sent.headers["authorization"], "Bearer " + OAUTH_ACCESS)
        self.assertNotIn("x-api-key", sent.headers)
        self.assertEqual(sent.headers["anthropic-beta"].split(","), ["claude-code-20250219", "oauth-2025-04-20"])
        self.assertEqual(sent.headers["user-agent"], "claude-cli/2.1.322")
        self.assertEqual(sent.headers["x-app"], "cli")
        self.assertEqual(
            [block["text"] for block in sent.json["system"]],
            ["You are Claude Code, Anthropic's official CLI for Claude.", "Be terse."],
        )
        self.assertEqual(
            sent.json["messages"],
            [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "hello claude", "cache_control": {"type": "ephemeral"}}],
                }
            ],
        )
        self.assertEqual(sent.json["max_tokens"], 64000)

    def test_api_key_provider_uses_x_api_key(self) -> None:
        status, _headers, _body = self.chat(
            {"model": "mockant/fx-ant-tool", "messages": [{"role": "user", "content": "weather?"}]}
        )
        self.assertEqual(status, 200)
        sent = self.mock.requests[-1]
        self.assertEqual(sent.headers["x-api-key"], API_KEY)
        self.assertNotIn("authorization", sent.headers)
        self.assertNotIn("system", sent.json)

    def test_recorded_thinking_stream_becomes_reasoning_content_then_content(self) -> None:
        status, _headers, body = self.chat(
            {
                "model": "mockant/fx-ant-thinking",
                "messages": [{"role": "user", "content": "think"}],
                "stream": True,
                "stream_options": {"include_usage": True},
            }
        )
        self.assertEqual(status, 200)
        frames = sse_data(body)
        self.assertEqual(frames[-1], "[DONE]")
        chunks = [json.loads(frame) for frame in frames[:-1]]
        deltas = [chunk["choices"][0]["delta"] for chunk in chunks if chunk["choices"]]
        kinds = [next(iter(delta)) for delta in deltas if delta]
        self.assertEqual(kinds[0], "role")
        first_text = kinds.index("content", 1)
        self.assertTrue(set(kinds[1:first_text]) == {"reasoning_content"}, kinds)
        self.assertTrue(all(kind == "content" for kind in kinds[first_text:]), kinds)
        self.assertEqual(chunks[-2]["choices"][0]["finish_reason"], "stop")
        self.assertGreater(chunks[-1]["usage"]["completion_tokens"], 0)

    def test_recorded_tool_use_becomes_tool_calls(self) -> None:
        _status, _headers, body = self.chat(
            {"model": "mockant/fx-ant-tool", "messages": [{"role": "user", "content": "x"}]}
        )
        choice = json.loads(body)["choices"][0]
        self.assertEqual(choice["finish_reason"], "tool_calls")
        call = choice["message"]["tool_calls"][0]
        self.assertEqual(call["type"], "function")
        self.assertIsInstance(json.loads(call["function"]["arguments"]), dict)

    def test_overloaded_mid_stream_is_an_error_frame(self) -> None:
        status, _headers, body = self.chat(
            {"model": "mockant/fx-ant-error-overloaded", "messages": [{"role": "user", "content": "x"}], "stream": True}
        )
        self.assertEqual(status, 200)
        last = json.loads(sse_data(body)[-1])
        self.assertEqual(last["error"]["type"], "overloaded_error")
        self.assertNotIn("[DONE]", sse_data(body))

    def test_no_secret_leaks_and_auth_json_untouched(self) -> None:
        self.chat({"model": "anthropic/claude-haiku-4-5", "messages": [{"role": "user", "content": "x"}]})
        listing = self.gateway.request("GET", "/v1/models")[2].decode()
        for secret in (OAUTH_ACCESS, OAUTH_REFRESH, API_KEY, "gsk-other-entry"):
            self.assertNotIn(secret, listing)
            self.assertNotIn(secret, self.gateway.stderr_text)
            self.assertNotIn(secret, "".join(self.gateway.stdout_lines))
        with open(self.auth_path, "rb") as handle:
            self.assertEqual(handle.read(), self.auth_bytes)


class SubscriptionExposure(unittest.TestCase):
    def test_subscription_models_hidden_on_non_loopback_unless_exposed(self) -> None:
        home = tempfile.mkdtemp(prefix="pigw-expose-")
        self.addCleanup(shutil.rmtree, home, True)
        with open(os.path.join(home, "auth.json"), "w") as handle:
            json.dump(
                {"anthropic": {"type": "oauth", "access": "a", "refresh": "r", "expires": 9007199254740991}}, handle
            )
        for extra, served in (([], False), (["--expose-oauth-subscriptions"], True)):
            with self.subTest(extra=extra):
                process = GatewayProcess(
                    ["--auth-dir", home, "--bind", "0.0.0.0"] + extra, {"HOME": home, "PIGW_API_KEY": "gateway-key"}
                ).start()
                try:
                    body = json.loads(
                        process.request("GET", "/v1/models", headers={"Authorization": "Bearer gateway-key"})[2]
                    )
                    ids = [entry["id"] for entry in body["data"]]
                    self.assertEqual("anthropic/claude-haiku-4-5" in ids, served)
                finally:
                    process.stop()


if __name__ == "__main__":
    unittest.main()
