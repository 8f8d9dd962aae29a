"""Canary secrets everywhere a gateway finds secrets, then every path that could leak one.

Every GatewayProcess of the suite already checks each answer and, at stop, its whole output for
the secrets it was given (tests/support/gateway_process.py). This test gives the gateway canaries
in every place (auth.json keys and OAuth tokens, environment keys, models.json keys and headers,
the gateway key), turns on debug logging and --log-bodies, and drives the paths where a secret
could slip out: model listings, auth failures, upstream errors that echo the key, mid-stream errors,
both API surfaces.
"""

import json
import os
import shutil
import tempfile
import time
import unittest

from tests.support.gateway_process import GatewayProcess
from tests.support.mock_upstream import MockUpstream

GATEWAY_KEY = "pigw-canary-gateway-1a2b3c4d"
MODELS_KEY = "sk-canary-models-5e6f7a8b"
HEADER_SECRET = "hdr-canary-9c0d1e2f"
AUTH_KEY = "sk-canary-authjson-3a4b5c6d"
ACCESS_TOKEN = "sk-ant-oat01-canary-access-7e8f9a0b"
REFRESH_TOKEN = "sk-ant-ort01-canary-refresh-1c2d3e4f"
ENV_KEY = "gsk-canary-env-5a6b7c8d"


class CanarySecrets(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.mock = MockUpstream().start()
        cls.agent_dir = tempfile.mkdtemp(prefix="pigw-canary-")
        models = {
            "providers": {
                "mock": {
                    "baseUrl": cls.mock.base_url + "/v1",
                    "api": "openai-completions",
                    "apiKey": MODELS_KEY,
                    "headers": {"X-Upstream-Secret": HEADER_SECRET},
                    "models": [{"id": "echo-1"}, {"id": "leaky-401"}, {"id": "leaky-500"}, {"id": "leaky-stream"}],
                },
                "groq": {"baseUrl": cls.mock.base_url + "/openai/v1"},
            }
        }
        auth = {
            "openai": {"type": "api_key", "key": AUTH_KEY},
            "anthropic": {
                "type": "oauth",
                "access": ACCESS_TOKEN,
                "refresh": REFRESH_TOKEN,
                "expires": int(time.time() * 1000) + 3600_000,
            },
        }
        for name, value in (("models.json", models), ("auth.json", auth)):
            with open(os.path.join(cls.agent_dir, name), "w") as handle:
                json.dump(value, handle)
        os.chmod(os.path.join(cls.agent_dir, "auth.json"), 0o600)
        env = {"HOME": cls.agent_dir, "PIGW_API_KEY": GATEWAY_KEY, "GROQ_API_KEY": ENV_KEY}
        cls.gateway = GatewayProcess(["--auth-dir", cls.agent_dir, "--log-level", "debug", "--log-bodies"], env).start()
        echo = json.dumps({"error": {"message": "Incorrect API key provided: %s (%s)" % (MODELS_KEY, HEADER_SECRET)}})
        cls.mock.script("leaky-401", status=401, body=echo.encode())
        cls.mock.script("leaky-500", status=500, body=echo.replace("Incorrect", "Crashed on").encode())
        cls.mock.script(
            "leaky-stream",
            chunks=[
                b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n',
                b"data: " + echo.encode() + b"\n\n",
            ],
        )

    @classmethod
    def tearDownClass(cls) -> None:
        try:
            cls.gateway.stop()  # raises if any canary reached the log
        finally:
            cls.mock.stop()
            shutil.rmtree(cls.agent_dir, ignore_errors=True)

    def call(self, method, path, body=None, key=GATEWAY_KEY, **headers):
        headers = dict(headers, Authorization="Bearer " + key)
        return self.gateway.request(method, path, body, headers)

    def test_the_check_itself_sees_every_canary(self) -> None:
        secrets = self.gateway.secrets()
        for canary in (GATEWAY_KEY, MODELS_KEY, HEADER_SECRET, AUTH_KEY, ACCESS_TOKEN, REFRESH_TOKEN, ENV_KEY):
            with self.subTest(canary=canary[:10]):
                self.assertIn(canary, secrets)
                with self.assertRaises(AssertionError):
                    self.gateway.assert_no_secret("a test", "... " + canary + " ...")

    def test_no_canary_on_any_path(self) -> None:
        chat = {"model": "mock/echo-1", "messages": [{"role": "user", "content": "hello"}]}
        answers = [
            self.call("GET", "/v1/models"),
            self.call("GET", "/v1/models/mock%2Fecho-1"),
            self.call("GET", "/v1/models", key="wrong-" + GATEWAY_KEY),
            self.call("POST", "/v1/chat/completions", b"{not json"),
            self.call("POST", "/v1/chat/completions", chat),
            self.call("POST", "/v1/chat/completions", dict(chat, stream=True)),
            self.call("POST", "/v1/chat/completions", dict(chat, model="mock/leaky-401")),
            self.call("POST", "/v1/chat/completions", dict(chat, model="mock/leaky-500", stream=True)),
            self.call("POST", "/v1/chat/completions", dict(chat, model="mock/leaky-stream", stream=True)),
            self.call("POST", "/v1/messages", dict(chat, model="mock/leaky-401", max_tokens=10)),
            self.call("POST", "/v1/messages", dict(chat, model="mock/leaky-stream", max_tokens=10, stream=True)),
            self.call("POST", "/v1/chat/completions", dict(chat, model="nobody/none")),
        ]
        self.assertEqual(
            [status for status, _headers, _body in answers],
            [200, 200, 401, 400, 200, 200, 401, 502, 200, 401, 200, 404],
        )
        self.assertIn(b"Incorrect API key provided: *** (***)", answers[6][2])
        self.assertIn(b"Crashed on API key provided: *** (***)", answers[7][2])
        listed = [model["id"] for model in json.loads(answers[0][2])["data"]]
        self.assertIn("mock/echo-1", listed)
        self.assertTrue(any(model_id.startswith("anthropic/") for model_id in listed))  # the OAuth login is served
        self.assertTrue(self.gateway.wait_for_log('"event": "bodies"'))
        self.gateway.assert_no_secret("the log so far", self.gateway.stderr_text)


if __name__ == "__main__":
    unittest.main()
