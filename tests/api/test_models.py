"""Tests for pigw.api.models: the /v1/models list and one model, in OpenAI's shape."""

import json
import unittest

from pigw.api import models as models_api
from pigw.registry import Model, Registry


def registry(*public_ids):
    return Registry([Model(*public_id.split("/", 1)) for public_id in public_ids], lambda model: True)


class ListModelsTest(unittest.TestCase):
    def test_body_is_json_dumps_of_the_list(self):
        served = registry("openai/gpt-5", 'odd/quote"back\\slash', "odd/tab\tnew\nline", "местный/модель-é", "p/%s%d")
        reply = models_api.list_models(served)
        expected = {
            "object": "list",
            "data": [
                {"id": model.public_id, "object": "model", "created": models_api.CREATED, "owned_by": model.provider}
                for model in served.models()
            ],
        }
        self.assertEqual((reply.status, reply.headers), (200, {"Content-Type": "application/json"}))
        self.assertEqual(reply.body, json.dumps(expected, ensure_ascii=False).encode())
        self.assertEqual(json.loads(reply.body)["data"][3]["id"], "местный/модель-é")

    def test_no_models(self):
        self.assertEqual(models_api.list_models(registry()).body, b'{"object": "list", "data": []}')

    def test_retrieve_model(self):
        reply = models_api.retrieve_model(registry("openai/gpt-5"), "gpt-5")
        self.assertEqual(
            json.loads(reply.body),
            {"id": "openai/gpt-5", "object": "model", "created": 1794312337, "owned_by": "openai"},
        )


if __name__ == "__main__":
    unittest.main()
