"""gateway.build: which models it serves, decided once per credential shape at start."""

import json
import os
import shutil
import tempfile
import unittest
from unittest import mock

from pigw import config as config_module
from pigw import gateway as gateway_module
from pigw import providers


class ServedModels(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="pigw-build-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def served(self, environ, models_json=None):
        if models_json is not None:
            with open(os.path.join(self.dir, "models.json"), "w") as handle:
                json.dump(models_json, handle)
        with mock.patch.dict(os.environ, environ, clear=True):
            built = gateway_module.build(config_module.load({"authDir": self.dir}, {}))
            return built.registry.models()

    def test_models_of_one_provider_with_different_credential_inputs_get_their_own_answers(self) -> None:
        local = {"baseUrl": "http://127.0.0.1:1/v1", "api": "openai-completions"}
        keyed_by_header = {"id": "open", "headers": {"Authorization": "Bearer t"}}
        served = self.served(
            {"GROQ_API_KEY": "gsk-test"},
            {
                "providers": {
                    "local": dict(local, models=[keyed_by_header, {"id": "shut"}]),
                    "groq": {"models": [{"id": "groq-local", "baseUrl": "http://{LOCAL_HOST}/v1"}]},
                }
            },
        )
        names = [model.public_id for model in served]
        self.assertIn("local/open", names)
        self.assertNotIn("local/shut", names)
        self.assertNotIn("groq/groq-local", names)  # its base URL names a variable that is not set
        self.assertIn("groq/llama-3.3-70b-versatile", names)

    def test_an_environment_key_serves_exactly_its_providers_supported_catalog_models(self) -> None:
        built = gateway_module.build(config_module.load({"authDir": self.dir}, {}))
        expected = [
            model.public_id
            for model in built.registry.all_models()
            if model.provider == "groq" and providers.supported(model.api)
        ]
        served = [model.public_id for model in self.served({"GROQ_API_KEY": "gsk-test"})]
        self.assertGreater(len(expected), 5)
        self.assertEqual(served, expected)


if __name__ == "__main__":
    unittest.main()
