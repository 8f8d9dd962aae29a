"""The official `openai` Python SDK as a real client of the built pigw.pyz (runs where .ci/run installs it)."""

import json
import os
import shutil
import tempfile
import unittest

from tests.support.gateway_process import GatewayProcess
from tests.support.mock_upstream import MockUpstream

try:
    import openai
except ImportError:
    openai = None

REQUIRED = os.environ.get("PIGW_REQUIRE_SDK") == "1"


@unittest.skipIf(
    openai is None and not REQUIRED, "the openai SDK is not installed here (.ci/run installs it in its virtualenv)"
)
class OpenAISDK(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.mock = MockUpstream().start()
        cls.agent_dir = tempfile.mkdtemp(prefix="pigw-sdk-")
        models = {
            "providers": {
                "mock": {
                    "baseUrl": cls.mock.base_url + "/v1",
                    "api": "openai-completions",
                    "apiKey": "k",
                    "models": [{"id": "echo-1"}, {"id": "fx-oai-tool"}],
                }
            }
        }
        with open(os.path.join(cls.agent_dir, "models.json"), "w") as handle:
            json.dump(models, handle)
        cls.gateway = GatewayProcess(["--auth-dir", cls.agent_dir], {"HOME": cls.agent_dir}).start()
        cls.client = openai.OpenAI(
            base_url="http://127.0.0.1:%d/v1" % cls.gateway.port, api_key="anything", max_retries=0
        )

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.close()
        cls.gateway.stop()
        cls.mock.stop()
        shutil.rmtree(cls.agent_dir, ignore_errors=True)

    def test_models_list(self) -> None:
        ids = [model.id for model in self.client.models.list()]
        self.assertEqual(ids, ["mock/echo-1", "mock/fx-oai-tool"])

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
        calls = [call for chunk in chunks if chunk.choices for call in (chunk.choices[0].delta.tool_calls or [])]
        self.assertEqual(calls[0].function.name, "get_weather")
        arguments = "".join(call.function.arguments or "" for call in calls)
        self.assertEqual(json.loads(arguments), {"city": "New York City"})
        self.assertEqual(chunks[-1].choices[0].finish_reason, "tool_calls")

    def test_errors_raise_typed_exceptions(self) -> None:
        with self.assertRaises(openai.NotFoundError) as caught:
            self.client.chat.completions.create(model="mock/missing", messages=[{"role": "user", "content": "x"}])
        self.assertEqual(caught.exception.code, "model_not_found")
        with self.assertRaises(openai.BadRequestError):
            self.client.chat.completions.create(model="mock/echo-1", messages=[])


if __name__ == "__main__":
    unittest.main()
