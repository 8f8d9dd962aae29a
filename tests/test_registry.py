"""Tests for pigw.registry: Model, the built-in catalog, served models, reference resolution, allow/deny."""

import unittest

from pigw.errors import GatewayError
from pigw.registry import Model, Registry, load_catalog

NOT_FOUND = "The model `{}` does not exist. List the models this gateway serves with GET /v1/models or `pigw models`."
NO_CREDENTIALS = (
    "The model `{0}/{1}` needs credentials for provider `{0}`, and it has none. "
    "Run `pi /login {0}` or set its API key, then try again."
)
DENIED = "The model `{}` is not served by this gateway (model allowlist/denylist)."


def models(*public_ids):
    """Models named by public id; the provider is everything before the first `/`."""
    return [Model(*public_id.split("/", 1)) for public_id in public_ids]


class ModelTest(unittest.TestCase):
    def test_defaults_are_the_models_json_defaults(self):
        model = Model("ollama", "gpt-oss:20b")
        self.assertEqual(model.public_id, "ollama/gpt-oss:20b")
        self.assertEqual(model.name, "gpt-oss:20b")
        self.assertEqual(
            (model.api, model.base_url, model.reasoning, model.input, model.context_window, model.max_tokens),
            ("", "", False, ("text",), 128000, 16384),
        )
        self.assertEqual(model.cost, {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0})
        self.assertEqual((model.headers, model.compat, model.header_configs), ({}, {}, {}))
        self.assertEqual((model.thinking_level_map, model.api_key_config, model.auth_header), (None, None, False))

    def test_models_without_headers_or_compat_share_one_empty_dict(self):
        first, second = Model("p", "a"), Model("q", "b", headers={}, compat={})
        self.assertIs(first.headers, second.compat)
        self.assertIs(first.header_configs, second.headers)

    def test_from_dict_and_to_dict_round_trip(self):
        data = {
            "id": "m",
            "name": "M",
            "api": "openai-completions",
            "provider": "p",
            "baseUrl": "https://x/v1",
            "reasoning": True,
            "input": ["text", "image"],
            "cost": {"input": 1, "output": 2, "cacheRead": 0.5, "cacheWrite": 0},
            "contextWindow": 1000,
            "maxTokens": 100,
            "thinkingLevelMap": {"off": None},
            "headers": {"X-A": "1"},
            "compat": {"supportsStore": False},
            "promptCache": {"short": 300},
            "inputLimits": {"maxRequestBytes": 5},
            "samplingParams": {"temperature": 1},
            "samplingParamsByThinkingLevel": {"high": {"top_p": 1}},
        }
        model = Model.from_dict("p", data)
        self.assertEqual(model.input, ("text", "image"))
        self.assertEqual(model.to_dict(), data)

    def test_to_dict_leaves_out_unset_optional_fields(self):
        self.assertEqual(
            Model("p", "m", api="a", base_url="u").to_dict(),
            {
                "id": "m",
                "name": "m",
                "api": "a",
                "provider": "p",
                "baseUrl": "u",
                "reasoning": False,
                "input": ["text"],
                "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0},
                "contextWindow": 128000,
                "maxTokens": 16384,
            },
        )

    def test_replace_copies_and_leaves_the_original(self):
        model = Model("p", "m", base_url="https://a")
        copy = model.replace(base_url="https://b", auth_header=True)
        self.assertIsNot(copy, model)
        self.assertEqual((copy.id, copy.base_url, copy.auth_header), ("m", "https://b", True))
        self.assertEqual((model.base_url, model.auth_header), ("https://a", False))
        with self.assertRaisesRegex(TypeError, "^Model has no attribute\\(s\\) colour$"):
            model.replace(colour="red")


class LoadCatalogTest(unittest.TestCase):
    def test_providers_and_models_in_catalog_order(self):
        catalog = load_catalog()
        self.assertEqual(len(catalog), 42)
        self.assertEqual(sum(len(models) for models in catalog.values()), 1643)
        self.assertEqual(list(catalog)[:3], ["amazon-bedrock", "ant-ling", "anthropic"])
        for provider, provider_models in catalog.items():
            self.assertTrue(all(model.provider == provider for model in provider_models))

    def test_each_call_builds_fresh_models(self):
        self.assertIsNot(load_catalog()["anthropic"][0], load_catalog()["anthropic"][0])


class ResolveTest(unittest.TestCase):
    def setUp(self):
        self.all = models(
            "openai/gpt-5",
            "azure/gpt-5",
            "anthropic/claude-x",
            "openrouter/anthropic/claude-x",
            "openrouter/anthropic/claude-y",
            "openrouter/openai/gpt-oss-120b",
            "ollama/gpt-oss:20b",
            "ollama/Qwen3",
            "lmstudio/qwen3",
            "team/eu/m1",
            "team/m1",
        )
        self.all.append(Model("team/eu", "m1"))
        self.unavailable = {"azure"}
        self.registry = Registry(self.all, lambda model: model.provider not in self.unavailable)

    def resolve(self, ref, registry=None):
        model, level = (registry or self.registry).resolve(ref)
        return model.public_id, level

    def assert_not_served(self, ref, message, registry=None):
        with self.assertRaises(GatewayError) as caught:
            (registry or self.registry).resolve(ref)
        error = caught.exception
        self.assertEqual(error.message, message)
        self.assertEqual(
            (error.status, error.type, error.code, error.param),
            (404, "invalid_request_error", "model_not_found", "model"),
        )

    def test_provider_and_model_id(self):
        self.assertEqual(self.resolve("openai/gpt-5"), ("openai/gpt-5", None))
        self.assertEqual(self.resolve("anthropic/claude-x"), ("anthropic/claude-x", None))

    def test_model_ids_with_slashes(self):
        self.assertEqual(self.resolve("openrouter/anthropic/claude-x"), ("openrouter/anthropic/claude-x", None))

    def test_longest_provider_id_wins(self):
        model, _ = self.registry.resolve("team/eu/m1")
        self.assertEqual((model.provider, model.id), ("team/eu", "m1"))

    def test_shorter_provider_when_the_longest_lacks_the_model(self):
        model, _ = self.registry.resolve("team/m1")
        self.assertEqual((model.provider, model.id), ("team", "m1"))

    def test_provider_and_id_are_case_insensitive(self):
        self.assertEqual(self.resolve("OpenRouter/Anthropic/Claude-X"), ("openrouter/anthropic/claude-x", None))
        self.assertEqual(self.resolve("OLLAMA/qwen3"), ("ollama/Qwen3", None))

    def test_providers_differing_only_in_case(self):
        registry = Registry(models("team/m", "Team/m", "Team/M", "team/Aa", "Team/aA"), lambda model: True)
        self.assertEqual(self.resolve("TEAM/M", registry), ("Team/M", None))
        self.assertEqual(self.resolve("TEAM/m", registry), ("team/m", None))  # the first exact id of those providers
        message = (
            "The model id `team/AA` matches several models: `team/Aa`, `Team/aA`. Use the full `provider/model` id."
        )
        self.assert_not_served("team/AA", message, registry)

    def test_bare_id_unique_among_served_models(self):
        self.assertEqual(self.resolve("gpt-oss:20b"), ("ollama/gpt-oss:20b", None))
        # azure/gpt-5 has no credentials, so openai/gpt-5 is the only served `gpt-5`.
        self.assertEqual(self.resolve("gpt-5"), ("openai/gpt-5", None))

    def test_bare_id_with_a_slash_when_no_provider_has_it(self):
        # `anthropic` is a provider but has no `claude-y`; OpenRouter's `anthropic/claude-y` is the bare match.
        self.assertEqual(self.resolve("anthropic/claude-y"), ("openrouter/anthropic/claude-y", None))
        self.assertEqual(self.resolve("openai/gpt-oss-120b"), ("openrouter/openai/gpt-oss-120b", None))

    def test_exact_bare_id_beats_case_insensitive(self):
        self.assertEqual(self.resolve("Qwen3"), ("ollama/Qwen3", None))
        self.assertEqual(self.resolve("qwen3"), ("lmstudio/qwen3", None))

    def test_ambiguous_bare_id(self):
        self.unavailable.clear()
        self.assert_not_served(
            "gpt-5",
            "The model id `gpt-5` matches several models: `openai/gpt-5`, `azure/gpt-5`. "
            "Use the full `provider/model` id.",
        )
        self.assert_not_served(
            "QWEN3",
            "The model id `QWEN3` matches several models: `ollama/Qwen3`, `lmstudio/qwen3`. "
            "Use the full `provider/model` id.",
        )

    def test_ambiguous_lists_at_most_five(self):
        registry = Registry(models(*(f"p{n}/m" for n in range(7))), lambda model: True)
        self.assert_not_served(
            "m",
            "The model id `m` matches several models: `p0/m`, `p1/m`, `p2/m`, `p3/m`, `p4/m` and 2 more. "
            "Use the full `provider/model` id.",
            registry,
        )

    def test_thinking_level_suffix(self):
        self.assertEqual(self.resolve("openai/gpt-5:high"), ("openai/gpt-5", "high"))
        self.assertEqual(self.resolve("gpt-5:XHIGH"), ("openai/gpt-5", "xhigh"))
        self.assertEqual(self.resolve("gpt-oss:20b:off"), ("ollama/gpt-oss:20b", "off"))
        self.assertEqual(self.resolve("openrouter/anthropic/claude-x:max"), ("openrouter/anthropic/claude-x", "max"))

    def test_ids_containing_a_colon_are_not_split(self):
        registry = Registry(models("ollama/qwen:low", "ollama/qwen"), lambda model: True)
        self.assertEqual(self.resolve("qwen:low", registry), ("ollama/qwen:low", None))
        self.assertEqual(self.resolve("qwen:medium", registry), ("ollama/qwen", "medium"))

    def test_unknown_model(self):
        self.assert_not_served("gpt-9", NOT_FOUND.format("gpt-9"))
        self.assert_not_served("openai/gpt-5:turbo", NOT_FOUND.format("openai/gpt-5:turbo"))
        self.assert_not_served("nobody/gpt-9:high", NOT_FOUND.format("nobody/gpt-9:high"))

    def test_known_model_without_credentials(self):
        self.assert_not_served("azure/gpt-5", NO_CREDENTIALS.format("azure", "gpt-5"))
        self.assert_not_served("azure/gpt-5:low", NO_CREDENTIALS.format("azure", "gpt-5"))
        registry = Registry(self.all, lambda model: model.provider not in ("openai", "azure"))
        self.assert_not_served("gpt-5", NO_CREDENTIALS.format("openai", "gpt-5"), registry)

    def test_explain_replaces_the_credentials_message(self):
        registry = Registry(
            self.all,
            lambda model: model.provider != "azure",
            explain=lambda model: "azure speaks an api pigw lacks" if model.provider == "azure" else None,
        )
        self.assert_not_served("azure/gpt-5", "azure speaks an api pigw lacks", registry)

    def test_denied_model(self):
        registry = Registry(self.all, lambda model: True, deny=["OpenAI/*", "qwen3"])
        self.assert_not_served("openai/gpt-5", DENIED.format("openai/gpt-5"), registry)
        self.assert_not_served("lmstudio/qwen3", DENIED.format("lmstudio/qwen3"), registry)
        self.assert_not_served("ollama/Qwen3", DENIED.format("ollama/Qwen3"), registry)
        self.assertEqual(self.resolve("gpt-5", registry), ("azure/gpt-5", None))

    def test_glob_allow_serves_only_matches(self):
        registry = Registry(self.all, lambda model: True, allow=["openrouter/*", "GPT-OSS:*"])
        self.assertEqual(
            [model.public_id for model in registry.models()],
            [
                "openrouter/anthropic/claude-x",
                "openrouter/anthropic/claude-y",
                "openrouter/openai/gpt-oss-120b",
                "ollama/gpt-oss:20b",
            ],
        )
        self.assertEqual(self.resolve("anthropic/claude-y", registry), ("openrouter/anthropic/claude-y", None))
        # A provider-qualified match is definitive: it does not fall back to OpenRouter's `anthropic/claude-x`.
        self.assert_not_served("anthropic/claude-x", DENIED.format("anthropic/claude-x"), registry)
        self.assert_not_served("claude-x", DENIED.format("anthropic/claude-x"), registry)

    def test_deny_wins_over_allow(self):
        registry = Registry(self.all, lambda model: True, allow=["openrouter/*"], deny=["*claude-y"])
        self.assertEqual(
            [model.public_id for model in registry.models()],
            ["openrouter/anthropic/claude-x", "openrouter/openai/gpt-oss-120b"],
        )


class ServedModelsTest(unittest.TestCase):
    def test_available_allowed_in_catalog_order_and_computed_once(self):
        calls = []

        def available(model):
            calls.append(model.public_id)
            return model.provider != "b"

        registry = Registry(models("a/1", "b/2", "c/3", "a/4"), available, deny=["c/*"])
        self.assertEqual([model.public_id for model in registry.models()], ["a/1", "a/4"])
        self.assertEqual(calls, ["a/1", "b/2", "a/4"])  # denied models are never checked
        registry.models()
        registry.resolve("a/1")
        self.assertEqual(len(calls), 3)

    def test_all_models_and_returned_lists_are_copies(self):
        registry = Registry(models("a/1", "b/2"), lambda model: False)
        self.assertEqual(registry.models(), [])
        registry.all_models().clear()
        self.assertEqual([model.public_id for model in registry.all_models()], ["a/1", "b/2"])


if __name__ == "__main__":
    unittest.main()
