"""Tests for pigw.models_json: reading/validating models.json and composing it with the catalog (models-json.md)."""

import errno
import json
import os
import shutil
import tempfile
import unittest
from collections import OrderedDict

from pigw import models_json
from pigw.registry import Model

ZERO_COST = {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0}


class LoadTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.path = os.path.join(self.dir, "models.json")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def load_text(self, text, encoding="utf-8"):
        with open(self.path, "wb") as f:
            f.write(text.encode(encoding) if isinstance(text, str) else text)
        return models_json.load(self.path)

    def assert_schema_error(self, config, *lines):
        self.assertEqual(
            self.load_text(json.dumps(config)),
            ({}, ["Invalid models.json schema:\n" + "\n".join(lines) + "\n\nFile: " + self.path]),
        )

    def test_missing_file_is_no_config_and_no_error(self):
        self.assertEqual(models_json.load(self.path), ({}, []))

    def test_comments_trailing_commas_and_bom_are_stripped(self):
        text = (
            "\ufeff{\n"
            "  // local models\n"
            '  "providers": {\n'
            '    "ollama": {\n'
            '      "baseUrl": "http://localhost:11434/v1", // the URL keeps its //\n'
            '      "name": "a // b, } ] \\" // c",\n'
            '      "models": [ {"id": "gpt-oss:20b",}, ],\n'
            "    },\n"
            "  },\n"
            "}\n"
        )
        self.assertEqual(
            self.load_text(text),
            (
                {
                    "providers": {
                        "ollama": {
                            "baseUrl": "http://localhost:11434/v1",
                            "name": 'a // b, } ] " // c',
                            "models": [{"id": "gpt-oss:20b"}],
                        }
                    }
                },
                [],
            ),
        )

    def test_the_models_json_md_example_is_valid(self):
        config = {
            "providers": {
                "ollama": {
                    "baseUrl": "http://localhost:11434/v1",
                    "api": "openai-completions",
                    "apiKey": "ollama",
                    "compat": {"supportsDeveloperRole": False, "supportsReasoningEffort": False},
                    "models": [{"id": "gpt-oss:20b", "reasoning": True}],
                },
                "anthropic": {"baseUrl": "https://my-proxy.example.com"},
                "openrouter": {
                    "modelOverrides": {
                        "anthropic/claude-sonnet-5": {"compat": {"openRouterRouting": {"only": ["amazon-bedrock"]}}}
                    }
                },
                "my-proxy": {
                    "baseUrl": "https://proxy.example.com/v1",
                    "api": "anthropic-messages",
                    "apiKey": "$MY_API_KEY",
                    "headers": {"x-secret": "!op read 'op://vault/item/secret'"},
                    "models": [{"id": "claude-x", "input": ["text", "image"], "contextWindow": 200000}],
                },
                "team-gateway": {"baseUrl": "https://gateway.example.com/v1", "oauth": "radius"},
            },
            "$schema": "https://pi.dev/schemas/models.schema.json",
            "unknown": {"extra": "keys are allowed"},
        }
        self.assertEqual(self.load_text(json.dumps(config)), (config, []))

    def test_invalid_json(self):
        self.assertEqual(
            self.load_text('{"providers": }'),
            ({}, ["Failed to parse models.json: Expecting value: line 1 column 15 (char 14)\n\nFile: " + self.path]),
        )

    def test_nan_is_not_json(self):
        self.assertEqual(
            self.load_text('{"providers": {"x": {"models": [{"id": "m", "contextWindow": NaN}]}}}'),
            ({}, ["Failed to parse models.json: NaN is not valid JSON\n\nFile: " + self.path]),
        )

    def test_not_utf8(self):
        self.assertEqual(
            self.load_text(b'{"providers": {"\xff": {}}}'),
            ({}, ["Failed to load models.json: the file is not UTF-8 text\n\nFile: " + self.path]),
        )

    @unittest.skipIf(os.name == "nt", "opening a directory fails with EACCES on Windows")
    def test_unreadable(self):
        os.mkdir(self.path)
        self.assertEqual(
            models_json.load(self.path),
            ({}, [f"Failed to load models.json: {os.strerror(errno.EISDIR)}\n\nFile: {self.path}"]),
        )

    def test_root_must_be_an_object_with_providers(self):
        self.assert_schema_error([], "  - root: must be object")
        self.assert_schema_error({}, "  - providers: must have required property 'providers'")
        self.assert_schema_error({"providers": []}, "  - providers: must be object")
        self.assert_schema_error({"providers": {"x": "y"}}, "  - providers.x: must be object")

    def test_every_violation_is_listed_with_its_path(self):
        self.assert_schema_error(
            {
                "providers": {
                    "ollama": {
                        "baseUrl": "",
                        "apiKey": 7,
                        "oauth": "github",
                        "authHeader": "yes",
                        "headers": {"X-Token": 1},
                        "models": [
                            {"id": "a", "contextWindow": 0, "maxTokens": "many", "input": ["text", "audio"]},
                            {"name": "no id", "cost": {"input": 1, "output": 2}, "reasoning": 1},
                            "not a model",
                        ],
                        "compat": {"supportsStore": "yes", "thinkingFormat": "magic", "openRouterRouting": []},
                        "modelOverrides": {
                            "a": {"maxTokens": -1, "thinkingLevelMap": {"high": 3}, "cost": {"tiers": [{"input": 1}]}}
                        },
                    }
                }
            },
            "  - providers.ollama.baseUrl: must NOT have fewer than 1 characters",
            "  - providers.ollama.apiKey: must be string",
            '  - providers.ollama.oauth: must be one of: "radius"',
            "  - providers.ollama.authHeader: must be boolean",
            "  - providers.ollama.headers.X-Token: must be string",
            "  - providers.ollama.models.0.contextWindow: must be > 0",
            "  - providers.ollama.models.0.maxTokens: must be number",
            '  - providers.ollama.models.0.input.1: must be one of: "text", "image"',
            "  - providers.ollama.models.1.id: must have required property 'id'",
            "  - providers.ollama.models.1.cost.cacheRead: must have required property 'cacheRead'",
            "  - providers.ollama.models.1.cost.cacheWrite: must have required property 'cacheWrite'",
            "  - providers.ollama.models.1.reasoning: must be boolean",
            "  - providers.ollama.models.2: must be object",
            "  - providers.ollama.compat.supportsStore: must be boolean",
            "  - providers.ollama.compat.thinkingFormat: must be one of: "
            '"openai", "openrouter", "deepseek", "together", "baseten", "zai", "qwen", "chat-template", '
            '"qwen-chat-template", "string-thinking", "ant-ling"',
            "  - providers.ollama.compat.openRouterRouting: must be object",
            "  - providers.ollama.modelOverrides.a.maxTokens: must be > 0",
            "  - providers.ollama.modelOverrides.a.thinkingLevelMap.high: must be string",
            "  - providers.ollama.modelOverrides.a.cost.tiers.0.inputTokensAbove: "
            "must have required property 'inputTokensAbove'",
            "  - providers.ollama.modelOverrides.a.cost.tiers.0.output: must have required property 'output'",
            "  - providers.ollama.modelOverrides.a.cost.tiers.0.cacheRead: must have required property 'cacheRead'",
            "  - providers.ollama.modelOverrides.a.cost.tiers.0.cacheWrite: must have required property 'cacheWrite'",
        )

    def test_schema_errors_never_show_secret_values(self):
        config = {
            "providers": {
                "p": {
                    "apiKey": ["sk-secret-key"],
                    "headers": {"Authorization": {"value": "Bearer sk-secret-header"}},
                    "models": [{"id": "m", "headers": {"X-Key": ["sk-secret-model"]}}],
                }
            }
        }
        _, errors = self.load_text(json.dumps(config))
        self.assertEqual(len(errors), 1)
        self.assertIn("providers.p.headers.Authorization: must be string", errors[0])
        for secret in ("sk-secret-key", "sk-secret-header", "sk-secret-model"):
            self.assertNotIn(secret, errors[0])

    def test_chat_template_arguments(self):
        self.assert_schema_error(
            {
                "providers": {
                    "p": {
                        "compat": {
                            "chatTemplateKwargs": {
                                "enable_thinking": {"$var": "thinking.enabled", "omitWhenOff": True},
                                "literal": 1,
                                "flag": False,
                                "none": None,
                                "bad": {"$var": "thinking.colour"},
                                "list": [1],
                            }
                        }
                    }
                }
            },
            "  - providers.p.compat.chatTemplateKwargs.bad.$var: must be one of: "
            '"thinking.enabled", "thinking.effort", "thinking.budget"',
            '  - providers.p.compat.chatTemplateKwargs.list: must be a string, number, boolean, null or {"$var": ...} '
            "object",
        )


def catalog():
    """A small built-in catalog in the shape load_catalog returns."""
    return OrderedDict(
        [
            (
                "anthropic",
                [
                    Model(
                        "anthropic",
                        "claude-a",
                        "Claude A",
                        "anthropic-messages",
                        "https://api.anthropic.com",
                        reasoning=True,
                        thinking_level_map={"off": None, "high": "high"},
                        compat={"supportsStrictTools": True},
                    ),
                    Model(
                        "anthropic",
                        "claude-b",
                        "Claude B",
                        "anthropic-messages",
                        "https://api.anthropic.com",
                        context_window=200000,
                    ),
                ],
            ),
            (
                "fireworks",
                [
                    Model("fireworks", "fw-anth", api="anthropic-messages", base_url="https://fw/inference"),
                    Model("fireworks", "fw-oai", api="openai-completions", base_url="https://fw/v1"),
                ],
            ),
            (
                "openrouter",
                [
                    Model(
                        "openrouter",
                        "anthropic/claude-sonnet-5",
                        api="openai-completions",
                        base_url="https://openrouter.ai/api/v1",
                        compat={"thinkingFormat": "openrouter", "openRouterRouting": {"order": ["anthropic"]}},
                    )
                ],
            ),
        ]
    )


def summary(composed):
    """(public id, api, base url) of every model of a composed catalog, in order."""
    return [(model.public_id, model.api, model.base_url) for models in composed.values() for model in models]


class ComposeTest(unittest.TestCase):
    def setUp(self):
        self.catalog = catalog()

    def compose(self, providers):
        return models_json.compose(self.catalog, {"providers": providers})

    def test_no_config_gives_new_lists_of_the_same_models(self):
        composed, messages = models_json.compose(self.catalog, {})
        self.assertEqual(messages, [])
        self.assertEqual(list(composed), ["anthropic", "fireworks", "openrouter"])
        self.assertIsNot(composed["anthropic"], self.catalog["anthropic"])
        self.assertEqual(composed["anthropic"], self.catalog["anthropic"])

    def test_base_url_overrides_every_built_in_model_of_the_provider(self):
        composed, messages = self.compose({"anthropic": {"baseUrl": "https://my-proxy.example.com"}})
        self.assertEqual(messages, [])
        self.assertEqual(
            summary(composed)[:3],
            [
                ("anthropic/claude-a", "anthropic-messages", "https://my-proxy.example.com"),
                ("anthropic/claude-b", "anthropic-messages", "https://my-proxy.example.com"),
                ("fireworks/fw-anth", "anthropic-messages", "https://fw/inference"),
            ],
        )
        proxied = composed["anthropic"][0]
        self.assertEqual(
            (proxied.name, proxied.reasoning, proxied.thinking_level_map, proxied.compat),
            ("Claude A", True, {"off": None, "high": "high"}, {"supportsStrictTools": True}),
        )
        self.assertEqual(self.catalog["anthropic"][0].base_url, "https://api.anthropic.com")

    def test_custom_provider_ollama_example(self):
        composed, messages = self.compose(
            {
                "ollama": {
                    "baseUrl": "http://localhost:11434/v1",
                    "api": "openai-completions",
                    "apiKey": "ollama",
                    "compat": {"supportsDeveloperRole": False, "supportsReasoningEffort": False},
                    "models": [{"id": "gpt-oss:20b", "reasoning": True}],
                }
            }
        )
        self.assertEqual(messages, [])
        self.assertEqual(list(composed), ["anthropic", "fireworks", "openrouter", "ollama"])
        [model] = composed["ollama"]
        self.assertEqual(
            model.to_dict(),
            {
                "id": "gpt-oss:20b",
                "name": "gpt-oss:20b",
                "api": "openai-completions",
                "provider": "ollama",
                "baseUrl": "http://localhost:11434/v1",
                "reasoning": True,
                "input": ["text"],
                "cost": ZERO_COST,
                "contextWindow": 128000,
                "maxTokens": 16384,
                "compat": {"supportsDeveloperRole": False, "supportsReasoningEffort": False},
            },
        )
        self.assertEqual((model.api_key_config, model.header_configs, model.auth_header), ("ollama", {}, False))

    def test_models_replace_in_place_or_append(self):
        composed, messages = self.compose(
            {"anthropic": {"models": [{"id": "claude-new", "name": "New"}, {"id": "claude-a", "maxTokens": 1000}]}}
        )
        self.assertEqual(messages, [])
        self.assertEqual(
            summary({"anthropic": composed["anthropic"]}),
            [
                ("anthropic/claude-a", "anthropic-messages", "https://api.anthropic.com"),
                ("anthropic/claude-b", "anthropic-messages", "https://api.anthropic.com"),
                ("anthropic/claude-new", "anthropic-messages", "https://api.anthropic.com"),
            ],
        )
        replaced = composed["anthropic"][0]
        # A models[] entry replaces the built-in model completely: nothing but api/baseUrl is inherited.
        self.assertEqual(
            (replaced.name, replaced.reasoning, replaced.thinking_level_map, replaced.compat, replaced.max_tokens),
            ("claude-a", False, None, {}, 1000),
        )
        self.assertEqual(composed["anthropic"][2].name, "New")

    def test_default_model_for_api_and_base_url(self):
        composed, messages = self.compose(
            {
                "fireworks": {
                    "models": [
                        {"id": "first-openai-completions"},
                        {"id": "same-api", "api": "anthropic-messages"},
                        {"id": "fw-anth", "name": "same id"},
                        {"id": "own-url", "api": "anthropic-messages", "baseUrl": "https://elsewhere"},
                    ]
                },
                "together": {"api": "anthropic-messages", "baseUrl": "https://t/v1", "models": [{"id": "t1"}]},
            }
        )
        self.assertEqual(messages, [])
        self.assertEqual(
            summary(OrderedDict((key, composed[key]) for key in ("fireworks", "together"))),
            [
                ("fireworks/fw-anth", "anthropic-messages", "https://fw/inference"),
                ("fireworks/fw-oai", "openai-completions", "https://fw/v1"),
                ("fireworks/first-openai-completions", "openai-completions", "https://fw/v1"),
                ("fireworks/same-api", "anthropic-messages", "https://fw/inference"),
                ("fireworks/own-url", "anthropic-messages", "https://elsewhere"),
                ("together/t1", "anthropic-messages", "https://t/v1"),
            ],
        )
        self.assertEqual(composed["fireworks"][0].name, "same id")

    def test_default_model_falls_back_to_the_first(self):
        composed, _ = self.compose({"anthropic": {"models": [{"id": "c", "api": "openai-responses"}]}})
        self.assertEqual(
            summary({"a": composed["anthropic"][2:]}),
            [("anthropic/c", "openai-responses", "https://api.anthropic.com")],
        )

    def test_provider_compat_merges_over_model_compat(self):
        composed, _ = self.compose(
            {
                "openrouter": {
                    "compat": {"supportsStore": False, "openRouterRouting": {"only": ["amazon-bedrock"]}},
                    "models": [
                        {"id": "custom", "compat": {"openRouterRouting": {"order": ["x"]}, "zaiToolStream": True}}
                    ],
                }
            }
        )
        built_in, custom = composed["openrouter"]
        self.assertEqual(
            built_in.compat,
            {
                "thinkingFormat": "openrouter",
                "supportsStore": False,
                "openRouterRouting": {"order": ["anthropic"], "only": ["amazon-bedrock"]},
            },
        )
        self.assertEqual(
            custom.compat,
            {
                "supportsStore": False,
                "openRouterRouting": {"only": ["amazon-bedrock"], "order": ["x"]},
                "zaiToolStream": True,
            },
        )

    def test_model_overrides_merge_rules(self):
        self.catalog["anthropic"][1] = Model(
            "anthropic",
            "claude-b",
            "Claude B",
            "anthropic-messages",
            "https://api.anthropic.com",
            reasoning=True,
            input=("text", "image"),
            thinking_level_map={"off": None, "high": "high"},
            cost={
                "input": 1,
                "output": 2,
                "cacheRead": 0.1,
                "cacheWrite": 1.25,
                "tiers": [{"inputTokensAbove": 200000, "input": 2, "output": 4, "cacheRead": 0.2, "cacheWrite": 2.5}],
            },
            compat={"supportsStore": True, "openRouterRouting": {"order": ["a"], "allow_fallbacks": False}},
            prompt_cache={"short": 300},
            input_limits={
                "maxRequestBytes": 1000,
                "images": {
                    "maxPerMessage": 2,
                    "resize": {"maxWidth": 10, "maxHeight": 10, "maxBytes": 5, "jpegQuality": 80},
                },
            },
            sampling_params={"temperature": 1},
            sampling_params_by_thinking_level={"high": {"top_p": 0.9, "top_k": 20}, "off": {"temperature": 0.7}},
        )
        composed, messages = self.compose(
            {
                "anthropic": {
                    "modelOverrides": {
                        "claude-b": {
                            "name": "B+",
                            "reasoning": False,
                            "thinkingLevelMap": {"xhigh": "xhigh", "off": "none"},
                            "input": ["text"],
                            "inputLimits": {"images": {"maxPerRequest": 9, "resize": {"maxWidth": 20}}},
                            "cost": {
                                "output": 3,
                                "tiers": [
                                    {"inputTokensAbove": 1, "input": 9, "output": 9, "cacheRead": 9, "cacheWrite": 9}
                                ],
                            },
                            "compat": {"supportsStore": False, "openRouterRouting": {"only": ["b"]}},
                            "promptCache": {"long": 3600},
                            "samplingParams": {"top_p": 0.5},
                            "samplingParamsByThinkingLevel": {"high": {"top_k": 50}, "low": {"top_p": 0.1}},
                            "contextWindow": 1000,
                            "maxTokens": 100,
                        },
                        "no-such-model": {"name": "ignored"},
                    }
                }
            }
        )
        self.assertEqual(messages, [])
        self.assertEqual(
            composed["anthropic"][1].to_dict(),
            {
                "id": "claude-b",
                "name": "B+",
                "api": "anthropic-messages",
                "provider": "anthropic",
                "baseUrl": "https://api.anthropic.com",
                "reasoning": False,
                "input": ["text"],
                "cost": {
                    "input": 1,
                    "output": 3,
                    "cacheRead": 0.1,
                    "cacheWrite": 1.25,
                    "tiers": [{"inputTokensAbove": 1, "input": 9, "output": 9, "cacheRead": 9, "cacheWrite": 9}],
                },
                "contextWindow": 1000,
                "maxTokens": 100,
                "thinkingLevelMap": {"off": "none", "high": "high", "xhigh": "xhigh"},
                "compat": {
                    "supportsStore": False,
                    "openRouterRouting": {"order": ["a"], "allow_fallbacks": False, "only": ["b"]},
                },
                "promptCache": {"short": 300, "long": 3600},
                "inputLimits": {
                    "maxRequestBytes": 1000,
                    "images": {
                        "maxPerMessage": 2,
                        "maxPerRequest": 9,
                        "resize": {"maxWidth": 20, "maxHeight": 10, "maxBytes": 5, "jpegQuality": 80},
                    },
                },
                "samplingParams": {"temperature": 1, "top_p": 0.5},
                "samplingParamsByThinkingLevel": {
                    "high": {"top_p": 0.9, "top_k": 50},
                    "off": {"temperature": 0.7},
                    "low": {"top_p": 0.1},
                },
            },
        )
        self.assertEqual(composed["anthropic"][0].to_dict(), self.catalog["anthropic"][0].to_dict())
        self.assertEqual(self.catalog["anthropic"][1].name, "Claude B")

    def test_cost_override_without_tiers_keeps_them(self):
        tiers = [{"inputTokensAbove": 5, "input": 1, "output": 1, "cacheRead": 1, "cacheWrite": 1}]
        self.catalog["anthropic"][0] = self.catalog["anthropic"][0].replace(
            cost={"input": 1, "output": 2, "cacheRead": 3, "cacheWrite": 4, "tiers": tiers}
        )
        composed, _ = self.compose({"anthropic": {"modelOverrides": {"claude-a": {"cost": {"input": 0.5}}}}})
        self.assertEqual(
            composed["anthropic"][0].cost,
            {"input": 0.5, "output": 2, "cacheRead": 3, "cacheWrite": 4, "tiers": tiers},
        )

    def test_model_overrides_apply_to_custom_models_too(self):
        composed, _ = self.compose(
            {
                "lab": {
                    "baseUrl": "https://lab/v1",
                    "api": "openai-completions",
                    "models": [{"id": "m", "inputLimits": {"maxRequestBytes": 10}}],
                    "modelOverrides": {"m": {"inputLimits": {"images": {"maxPerMessage": 1}}, "contextWindow": 64000}},
                }
            }
        )
        [model] = composed["lab"]
        self.assertEqual(
            (model.input_limits, model.context_window), ({"maxRequestBytes": 10, "images": {"maxPerMessage": 1}}, 64000)
        )

    def test_headers_api_key_and_auth_header_on_every_model(self):
        composed, _ = self.compose(
            {
                "anthropic": {
                    "apiKey": "$MY_KEY",
                    "authHeader": True,
                    "headers": {"X-A": "provider", "X-B": "provider"},
                    "models": [{"id": "claude-b", "headers": {"X-C": "entry", "x-b": "entry"}}],
                    "modelOverrides": {"claude-b": {"headers": {"x-a": "override", "X-C": "override"}}},
                }
            }
        )
        claude_a, claude_b = composed["anthropic"]
        self.assertEqual(
            (claude_a.api_key_config, claude_a.auth_header, claude_a.header_configs),
            ("$MY_KEY", True, {"X-A": "provider", "X-B": "provider"}),
        )
        self.assertEqual(claude_b.header_configs, {"x-a": "override", "x-b": "entry", "X-C": "entry"})
        self.assertEqual((claude_a.headers, claude_b.headers), ({}, {}))
        self.assertEqual(
            [(model.api_key_config, model.header_configs) for model in composed["fireworks"]], [(None, {}), (None, {})]
        )

    def test_errors_are_per_provider(self):
        composed, messages = self.compose(
            {
                "anthropic": {"name": "nothing else"},
                "fireworks": {"baseUrl": "https://new-fw", "models": [{"id": "x", "api": "openai-completions"}]},
                "no-api": {"baseUrl": "https://u", "models": [{"id": "m"}]},
                "no-url": {"api": "openai-completions", "models": [{"id": "m"}]},
                "azureish": {"oauth": "radius"},
                "fine": {"baseUrl": "https://fine/v1", "api": "openai-completions", "models": [{"id": "ok"}]},
                "openrouter": {"modelOverrides": {}},
            }
        )
        self.assertEqual(
            messages,
            [
                'Provider anthropic: must specify "baseUrl", "headers", "compat", "modelOverrides", or "models".',
                'Provider no-api, model m: no "api" specified. Set at provider or model level.',
                'Provider no-url: "baseUrl" is required when defining custom models.',
                'Provider azureish: "baseUrl" is required when "oauth" is set.',
                'Provider openrouter: must specify "baseUrl", "headers", "compat", "modelOverrides", or "models".',
            ],
        )
        self.assertEqual(list(composed), ["anthropic", "fireworks", "openrouter", "fine"])
        self.assertEqual(composed["anthropic"], self.catalog["anthropic"])
        self.assertEqual(composed["openrouter"], self.catalog["openrouter"])
        self.assertEqual(
            summary({"f": composed["fireworks"]}),
            [
                ("fireworks/fw-anth", "anthropic-messages", "https://new-fw"),
                ("fireworks/fw-oai", "openai-completions", "https://new-fw"),
                ("fireworks/x", "openai-completions", "https://new-fw"),
            ],
        )

    def test_an_empty_base_url_default_is_no_base_url(self):
        self.catalog["azure"] = [Model("azure", "gpt-x", api="azure-openai-responses", base_url="")]
        composed, messages = self.compose({"azure": {"models": [{"id": "my-deployment"}]}})
        self.assertEqual(messages, ['Provider azure: "baseUrl" is required when defining custom models.'])
        self.assertEqual(composed["azure"], self.catalog["azure"])

    def test_settings_that_count_as_something_to_apply(self):
        for settings in ({"authHeader": False}, {"headers": {}}, {"compat": {}}, {"apiKey": "k"}):
            _, messages = self.compose({"anthropic": settings})
            self.assertEqual(messages, [], settings)

    def test_radius_gateways_produce_no_models_yet(self):
        composed, messages = self.compose(
            {"team-gateway": {"baseUrl": "https://gateway.example.com/v1", "oauth": "radius"}}
        )
        self.assertEqual(composed["team-gateway"], [])
        self.assertEqual(
            messages,
            [
                'Provider team-gateway: "oauth": "radius" gateways list their own models, and pigw does not fetch '
                "gateway catalogs yet, so it serves no models from https://gateway.example.com/v1."
            ],
        )

    def test_config_and_catalog_are_left_unchanged(self):
        providers = {
            "anthropic": {
                "baseUrl": "https://p",
                "compat": {"openRouterRouting": {"only": ["a"]}},
                "models": [{"id": "n", "cost": {"input": 1, "output": 1, "cacheRead": 1, "cacheWrite": 1}}],
                "modelOverrides": {"n": {"cost": {"input": 2}}},
            }
        }
        before = json.dumps(providers, sort_keys=True)
        snapshot = [model.to_dict() for models in self.catalog.values() for model in models]
        composed, _ = self.compose(providers)
        self.assertEqual(composed["anthropic"][2].cost, {"input": 2, "output": 1, "cacheRead": 1, "cacheWrite": 1})
        self.assertEqual(json.dumps(providers, sort_keys=True), before)
        self.assertEqual([model.to_dict() for models in self.catalog.values() for model in models], snapshot)


if __name__ == "__main__":
    unittest.main()
