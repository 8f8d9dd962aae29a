"""Credential resolution: pi's order, env overlay, OAuth, header placement, base URL and errors."""

import json
import os
import pkgutil
import shutil
import tempfile
import time
import unittest
from typing import Any, Dict, List, Optional

from pigw.credentials import Credential, Credentials
from pigw.errors import GatewayError
from tests.credentials import counting, py, runs

SECRET = "sk-secret-0123456789"
SCHEMA_KEYS = {
    "env",
    "bearerEnv",
    "keyHeader",
    "oauth",
    "oauthHeader",
    "apiKey",
    "ambientEnv",
    "oauthRefresh",
    "tokenModes",
}
CLAUDE_HEADERS = {
    "anthropic-beta": "claude-code-20250219,oauth-2025-04-20",
    "user-agent": "claude-cli/2.1.322",
    "x-app": "cli",
}
CLAUDE_PREFIX = "You are Claude Code, Anthropic's official CLI for Claude."


def now_ms() -> int:
    return int(time.time() * 1000)


def oauth(access: str = "acc-token", expires_in_ms: int = 3600000) -> Dict[str, Any]:
    return {"type": "oauth", "access": access, "refresh": "ref-token", "expires": now_ms() + expires_in_ms}


class FakeModel:
    def __init__(
        self,
        provider: str = "openai",
        base_url: str = "https://api.example.com/v1",
        api_key_config: Optional[str] = None,
        header_configs: Optional[Dict[str, str]] = None,
        auth_header: bool = False,
    ) -> None:
        self.provider = provider
        self.id = "model-1"
        self.api = "openai-completions"
        self.base_url = base_url
        self.api_key_config = api_key_config
        self.header_configs = header_configs or {}
        self.auth_header = auth_header


class Base(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.environ: Dict[str, str] = {}
        self.counter = os.path.join(self.dir, "runs")

    def creds(self, auth: Optional[Dict[str, Any]] = None, **kwargs: Any) -> Credentials:
        if auth is not None:
            with open(os.path.join(self.dir, "auth.json"), "w") as f:
                json.dump(auth, f)
        return Credentials(self.dir, self.environ, **kwargs)

    def counting(self, output: str, exit_code: int = 0) -> str:
        return "!" + counting(self.counter, output, exit_code)

    def runs(self) -> int:
        return runs(self.counter)

    def assertCredential(
        self,
        cred: Credential,
        api_key: Optional[str],
        source: str,
        headers: Optional[Dict[str, str]] = None,
        env: Optional[Dict[str, str]] = None,
        base_url: Optional[str] = None,
    ) -> None:
        self.assertEqual(
            (cred.api_key, cred.source, cred.headers, cred.env, cred.base_url),
            (api_key, source, headers or {}, env or {}, base_url),
        )

    def assert401(self, creds: Credentials, model: FakeModel, *secrets: str) -> str:
        with self.assertRaises(GatewayError) as caught:
            creds.resolve(model)
        error = caught.exception
        self.assertEqual((error.status, error.type, error.code), (401, "authentication_error", "invalid_api_key"))
        for secret in secrets + (SECRET,):
            self.assertNotIn(secret, str(error))
        return str(error)


class OrderTest(Base):
    def test_auth_json_beats_models_json_and_env(self) -> None:
        self.environ["OPENAI_API_KEY"] = "sk-env"
        creds = self.creds({"openai": {"type": "api_key", "key": "sk-auth"}})
        self.assertCredential(creds.resolve(FakeModel(api_key_config="sk-models")), "sk-auth", "auth.json")

    def test_models_json_beats_env(self) -> None:
        self.environ["OPENAI_API_KEY"] = "sk-env"
        self.assertCredential(self.creds().resolve(FakeModel(api_key_config="sk-models")), "sk-models", "models.json")

    def test_env(self) -> None:
        self.environ["OPENAI_API_KEY"] = "sk-env"
        self.assertCredential(self.creds().resolve(FakeModel()), "sk-env", "env:OPENAI_API_KEY")

    def test_unresolved_auth_key_falls_through_to_env_not_models_json(self) -> None:
        self.environ["OPENAI_API_KEY"] = "sk-env"
        creds = self.creds({"openai": {"type": "api_key", "key": "$UNSET_VAR"}})
        self.assertCredential(creds.resolve(FakeModel(api_key_config="sk-models")), "sk-env", "env:OPENAI_API_KEY")

    def test_failing_auth_command_falls_through_to_env(self) -> None:
        self.environ["OPENAI_API_KEY"] = "sk-env"
        creds = self.creds({"openai": {"type": "api_key", "key": self.counting("", exit_code=1)}})
        self.assertCredential(creds.resolve(FakeModel()), "sk-env", "env:OPENAI_API_KEY")

    def test_entry_without_key_uses_env(self) -> None:
        self.environ["OPENAI_API_KEY"] = "sk-env"
        self.assertCredential(
            self.creds({"openai": {"type": "api_key"}}).resolve(FakeModel()), "sk-env", "env:OPENAI_API_KEY"
        )

    def test_first_non_empty_env_wins_and_sentinels_are_no_key(self) -> None:
        self.environ.update({"ANTHROPIC_AUTH_TOKEN": "", "ANTHROPIC_OAUTH_TOKEN": "<authenticated>"})
        self.environ["ANTHROPIC_API_KEY"] = "sk-ant-key"
        cred = self.creds().resolve(FakeModel("anthropic"))
        self.assertCredential(cred, "sk-ant-key", "env:ANTHROPIC_API_KEY")

    def test_sentinel_auth_key_counts_as_no_key(self) -> None:
        self.environ["OPENAI_API_KEY"] = "sk-env"
        creds = self.creds({"openai": {"type": "api_key", "key": "<authenticated>"}})
        self.assertCredential(creds.resolve(FakeModel()), "sk-env", "env:OPENAI_API_KEY")

    def test_custom_provider_with_models_json_key(self) -> None:
        cred = self.creds().resolve(FakeModel("ollama", "http://localhost:11434/v1", api_key_config="ollama"))
        self.assertCredential(cred, "ollama", "models.json")

    def test_auth_key_template_and_legacy_name(self) -> None:
        self.environ.update({"MY_KEY": "sk-mine", "OPENAI_API_KEY": "sk-env"})
        creds = self.creds(
            {"openai": {"type": "api_key", "key": "${MY_KEY}"}, "groq": {"type": "api_key", "key": "MY_KEY"}}
        )
        self.assertCredential(creds.resolve(FakeModel()), "sk-mine", "auth.json")
        self.assertCredential(creds.resolve(FakeModel("groq")), "sk-mine", "auth.json")

    def test_legacy_name_unset_is_literal(self) -> None:
        creds = self.creds({"openai": {"type": "api_key", "key": "MY_KEY"}})
        self.assertCredential(creds.resolve(FakeModel()), "MY_KEY", "auth.json")


class OverlayTest(Base):
    def test_entry_env_supplies_the_provider_variable(self) -> None:
        self.environ["OPENAI_API_KEY"] = "sk-process"
        creds = self.creds({"openai": {"type": "api_key", "env": {"OPENAI_API_KEY": "sk-overlay", "X": "y"}}})
        cred = creds.resolve(FakeModel())
        self.assertCredential(cred, "sk-overlay", "env:OPENAI_API_KEY", env={"OPENAI_API_KEY": "sk-overlay", "X": "y"})

    def test_entry_env_in_key_interpolation(self) -> None:
        self.environ["PART"] = "process"
        creds = self.creds({"openai": {"type": "api_key", "key": "sk-$PART", "env": {"PART": "overlay"}}})
        self.assertCredential(creds.resolve(FakeModel()), "sk-overlay", "auth.json", env={"PART": "overlay"})

    def test_empty_overlay_value_hides_process_value(self) -> None:
        self.environ["OPENAI_API_KEY"] = "sk-process"
        creds = self.creds({"openai": {"type": "api_key", "env": {"OPENAI_API_KEY": ""}}})
        self.assertFalse(creds.configured(FakeModel()))
        self.assert401(creds, FakeModel(), "sk-process")

    def test_overlay_is_per_provider(self) -> None:
        creds = self.creds({"groq": {"type": "api_key", "env": {"OPENAI_API_KEY": "sk-groq-only"}}})
        self.assertFalse(creds.configured(FakeModel()))
        self.assert401(creds, FakeModel(), "sk-groq-only")


class CommandCachingTest(Base):
    def test_auth_json_command_cached_and_not_run_by_configured(self) -> None:
        creds = self.creds({"openai": {"type": "api_key", "key": self.counting("sk-cmd")}})
        self.assertTrue(creds.configured(FakeModel()))
        self.assertEqual(self.runs(), 0)
        self.assertCredential(creds.resolve(FakeModel()), "sk-cmd", "auth.json")
        self.assertCredential(creds.resolve(FakeModel()), "sk-cmd", "auth.json")
        self.assertEqual(self.runs(), 1)

    def test_models_json_command_uncached_and_not_run_by_configured(self) -> None:
        creds = self.creds()
        model = FakeModel(api_key_config=self.counting("sk-cmd"))
        self.assertTrue(creds.configured(model))
        self.assertEqual(self.runs(), 0)
        self.assertCredential(creds.resolve(model), "sk-cmd", "models.json")
        self.assertCredential(creds.resolve(model), "sk-cmd", "models.json")
        self.assertEqual(self.runs(), 2)

    def test_models_json_header_command_uncached(self) -> None:
        self.environ["OPENAI_API_KEY"] = "sk-env"
        model = FakeModel(header_configs={"X-Token": self.counting("tok")})
        creds = self.creds()
        self.assertCredential(creds.resolve(model), "sk-env", "env:OPENAI_API_KEY", headers={"X-Token": "tok"})
        creds.resolve(model)
        self.assertEqual(self.runs(), 2)


class OAuthTest(Base):
    def test_valid_token_is_the_api_key_with_no_fallback(self) -> None:
        self.environ["OPENAI_API_KEY"] = "sk-env"
        creds = self.creds({"openai": oauth()})
        self.assertCredential(creds.resolve(FakeModel(api_key_config="sk-models")), "acc-token", "auth.json oauth")

    def test_expiring_without_refresher_fails_without_fallback(self) -> None:
        self.environ["OPENAI_API_KEY"] = "sk-env"
        creds = self.creds({"openai": oauth("acc-old", expires_in_ms=240000)})
        self.assertTrue(creds.configured(FakeModel()))
        message = self.assert401(creds, FakeModel(), "acc-old", "ref-token", "sk-env")
        self.assertEqual(
            message,
            'The pi login for provider "openai" has expired or expires within 5 minutes; '
            "run `pi` (which refreshes it) or `pi /login openai`.",
        )

    def test_expired_with_refresher(self) -> None:
        calls: List[Any] = []
        old = oauth("acc-old", expires_in_ms=-1000)

        def refresh(provider: str, entry: Dict[str, Any]) -> Dict[str, Any]:
            calls.append((provider, entry))
            return oauth("acc-new")

        creds = self.creds({"anthropic": old}, refreshers={"anthropic": refresh})
        self.assertCredential(creds.resolve(FakeModel("anthropic")), "acc-new", "auth.json oauth")
        self.assertEqual(calls, [("anthropic", old)])

    def test_refresher_not_called_while_valid(self) -> None:
        creds = self.creds({"xai": oauth(expires_in_ms=301000)}, refreshers={"xai": lambda p, e: self.fail("called")})
        self.assertCredential(creds.resolve(FakeModel("xai")), "acc-token", "auth.json oauth")

    def test_kimi_token_goes_in_authorization_header(self) -> None:
        creds = self.creds({"kimi-coding": oauth()})
        cred = creds.resolve(FakeModel("kimi-coding"))
        self.assertCredential(cred, None, "auth.json oauth", headers={"Authorization": "Bearer acc-token"})

    def test_kimi_env_key_is_the_api_key(self) -> None:
        self.environ["KIMI_API_KEY"] = "sk-kimi"
        self.assertCredential(self.creds().resolve(FakeModel("kimi-coding")), "sk-kimi", "env:KIMI_API_KEY")

    def test_api_key_entry_for_oauth_only_provider(self) -> None:
        creds = self.creds({"openai-codex": {"type": "api_key", "key": SECRET}})
        self.assertFalse(creds.configured(FakeModel("openai-codex")))
        self.assertEqual(
            self.assert401(creds, FakeModel("openai-codex")),
            creds.auth_path + ' holds an API key for provider "openai-codex", which needs a pi login: '
            "run `pi /login openai-codex`.",
        )

    def test_oauth_entry_for_key_only_provider(self) -> None:
        self.environ["GROQ_API_KEY"] = "sk-groq"
        creds = self.creds({"groq": oauth(SECRET)})
        self.assertFalse(creds.configured(FakeModel("groq")))
        self.assert401(creds, FakeModel("groq"), "sk-groq")


class TokenModeTest(Base):
    """Claude Pro/Max tokens (``sk-ant-oat``) go as Bearer tokens with Claude Code's identity, from any source."""

    def assertClaude(self, cred: Credential, token: str, source: str) -> None:
        headers = dict(CLAUDE_HEADERS, Authorization="Bearer " + token)
        self.assertCredential(cred, None, source, headers=headers)
        self.assertEqual(cred.system_prefix, CLAUDE_PREFIX)

    def test_oauth_entry(self) -> None:
        creds = self.creds({"anthropic": oauth("sk-ant-oat01-abc")})
        self.assertClaude(creds.resolve(FakeModel("anthropic")), "sk-ant-oat01-abc", "auth.json oauth")

    def test_oauth_token_and_api_key_variables(self) -> None:
        for name in ("ANTHROPIC_OAUTH_TOKEN", "ANTHROPIC_API_KEY"):
            with self.subTest(name=name):
                self.environ.clear()
                self.environ[name] = "sk-ant-oat01-env"
                self.assertClaude(self.creds().resolve(FakeModel("anthropic")), "sk-ant-oat01-env", "env:" + name)

    def test_api_key_entry_with_the_marker(self) -> None:
        creds = self.creds({"anthropic": {"type": "api_key", "key": "sk-ant-oat01-k"}})
        self.assertClaude(creds.resolve(FakeModel("anthropic")), "sk-ant-oat01-k", "auth.json")

    def test_models_json_headers_still_win(self) -> None:
        self.environ["ANTHROPIC_OAUTH_TOKEN"] = "sk-ant-oat01-env"
        cred = self.creds().resolve(FakeModel("anthropic", header_configs={"Anthropic-Beta": "custom"}))
        headers = {"Authorization": "Bearer sk-ant-oat01-env", "user-agent": "claude-cli/2.1.322", "x-app": "cli"}
        self.assertCredential(
            cred, None, "env:ANTHROPIC_OAUTH_TOKEN", headers=dict(headers, **{"Anthropic-Beta": "custom"})
        )

    def test_plain_keys_and_header_owned_tokens_are_untouched(self) -> None:
        self.environ["ANTHROPIC_API_KEY"] = "sk-ant-api03-key"
        cred = self.creds().resolve(FakeModel("anthropic"))
        self.assertCredential(cred, "sk-ant-api03-key", "env:ANTHROPIC_API_KEY")
        self.assertIsNone(cred.system_prefix)
        self.environ["ANTHROPIC_AUTH_TOKEN"] = "sk-ant-oat01-tok"
        cred = self.creds().resolve(FakeModel("anthropic"))
        self.assertCredential(
            cred, None, "env:ANTHROPIC_AUTH_TOKEN", headers={"Authorization": "Bearer sk-ant-oat01-tok"}
        )
        self.assertIsNone(cred.system_prefix)

    def test_only_providers_with_the_mode(self) -> None:
        self.environ["OPENAI_API_KEY"] = "sk-ant-oat01-x"
        self.assertCredential(self.creds().resolve(FakeModel()), "sk-ant-oat01-x", "env:OPENAI_API_KEY")


class HeaderTest(Base):
    def test_anthropic_auth_token_is_a_bearer_header(self) -> None:
        self.environ.update({"ANTHROPIC_AUTH_TOKEN": "tok", "ANTHROPIC_API_KEY": "sk-ant"})
        cred = self.creds().resolve(FakeModel("anthropic"))
        self.assertCredential(cred, None, "env:ANTHROPIC_AUTH_TOKEN", headers={"Authorization": "Bearer tok"})

    def test_cloudflare_gateway_key_header_and_base_url(self) -> None:
        self.environ.update({"CLOUDFLARE_API_KEY": "cf-key", "CLOUDFLARE_GATEWAY_ID": "gw"})
        creds = self.creds({"cloudflare-ai-gateway": {"type": "api_key", "env": {"CLOUDFLARE_ACCOUNT_ID": "acct"}}})
        model = FakeModel(
            "cloudflare-ai-gateway",
            "https://gateway.ai.cloudflare.com/v1/{CLOUDFLARE_ACCOUNT_ID}/{CLOUDFLARE_GATEWAY_ID}/openai",
        )
        self.assertTrue(creds.configured(model))
        self.assertCredential(
            creds.resolve(model),
            None,
            "env:CLOUDFLARE_API_KEY",
            headers={"cf-aig-authorization": "Bearer cf-key"},
            env={"CLOUDFLARE_ACCOUNT_ID": "acct"},
            base_url="https://gateway.ai.cloudflare.com/v1/acct/gw/openai",
        )

    def test_missing_placeholder(self) -> None:
        self.environ["CLOUDFLARE_API_KEY"] = SECRET
        model = FakeModel(
            "cloudflare-workers-ai", "https://api.cloudflare.com/client/v4/accounts/{CLOUDFLARE_ACCOUNT_ID}/ai/v1"
        )
        creds = self.creds()
        self.assertFalse(creds.configured(model))
        self.assertEqual(
            self.assert401(creds, model),
            'Provider "cloudflare-workers-ai" needs CLOUDFLARE_ACCOUNT_ID for its base URL: set it in the '
            'environment or in the "env" of its entry in ' + creds.auth_path + ".",
        )

    def test_lowercase_braces_are_not_placeholders(self) -> None:
        self.environ["GOOGLE_CLOUD_API_KEY"] = "g"
        cred = self.creds().resolve(FakeModel("google-vertex", "https://{location}-aiplatform.googleapis.com"))
        self.assertCredential(cred, "g", "env:GOOGLE_CLOUD_API_KEY")

    def test_models_json_headers_merge_case_insensitively_keeping_last_spelling(self) -> None:
        self.environ["TEAM"] = "blue"
        creds = self.creds({"kimi-coding": oauth()})
        model = FakeModel("kimi-coding", header_configs={"X-Team": "team-$TEAM", "authorization": "Bearer custom"})
        cred = creds.resolve(model)
        self.assertCredential(
            cred, None, "auth.json oauth", headers={"authorization": "Bearer custom", "X-Team": "team-blue"}
        )

    def test_auth_header_adds_bearer_after_provider_headers(self) -> None:
        self.environ["OPENAI_API_KEY"] = "sk-env"
        model = FakeModel(header_configs={"AUTHORIZATION": "Basic x", "X-A": "1"}, auth_header=True)
        cred = self.creds().resolve(model)
        self.assertCredential(
            cred, "sk-env", "env:OPENAI_API_KEY", headers={"X-A": "1", "Authorization": "Bearer sk-env"}
        )

    def test_auth_header_uses_the_key_even_when_it_sits_in_a_header(self) -> None:
        self.environ["CLOUDFLARE_API_KEY"] = "cf-key"
        model = FakeModel("cloudflare-ai-gateway", auth_header=True)
        cred = self.creds().resolve(model)
        headers = {"cf-aig-authorization": "Bearer cf-key", "Authorization": "Bearer cf-key"}
        self.assertCredential(cred, None, "env:CLOUDFLARE_API_KEY", headers=headers)

    def test_auth_header_without_key(self) -> None:
        model = FakeModel("custom", header_configs={"Authorization": "Bearer x"}, auth_header=True)
        self.assert401(self.creds(), model)

    def test_header_only_auth_for_custom_provider(self) -> None:
        self.environ["TOK"] = "t0k"
        model = FakeModel("custom", header_configs={"X-Api-Key": "$TOK"})
        creds = self.creds()
        self.assertTrue(creds.configured(model))
        self.assertCredential(creds.resolve(model), None, "models.json headers", headers={"X-Api-Key": "t0k"})

    def test_unresolved_header_names_the_header_not_the_value(self) -> None:
        self.environ["OPENAI_API_KEY"] = "sk-env"
        model = FakeModel(header_configs={"X-Secret": "Bearer " + SECRET + "$UNSET_VAR"})
        self.assertEqual(
            self.assert401(self.creds(), model, "sk-env"),
            'Header "X-Secret" for provider "openai" in models.json did not resolve: '
            "environment variable UNSET_VAR is unset or empty.",
        )

    def test_failing_header_command_hides_the_command(self) -> None:
        self.environ["OPENAI_API_KEY"] = "sk-env"
        model = FakeModel(header_configs={"X-Secret": "!" + py(f"print('{SECRET}'); raise SystemExit(1)")})
        self.assertEqual(
            self.assert401(self.creds(), model, "sk-env", "raise SystemExit"),
            'Header "X-Secret" for provider "openai" in models.json did not resolve: '
            "its shell command failed, timed out or printed nothing.",
        )


class FailureTest(Base):
    def test_nothing_configured(self) -> None:
        creds = self.creds()
        self.assertFalse(creds.configured(FakeModel()))
        self.assertEqual(
            self.assert401(creds, FakeModel()),
            'No API key for provider "openai". To add one: run `pi /login openai`; or set OPENAI_API_KEY; '
            'or set "apiKey" for "openai" in models.json.',
        )

    def test_nothing_configured_for_key_only_provider(self) -> None:
        self.assertEqual(
            self.assert401(self.creds(), FakeModel("groq")),
            'No API key for provider "groq". To add one: set GROQ_API_KEY; or set "apiKey" for "groq" in models.json.',
        )

    def test_entry_key_resolves_to_nothing(self) -> None:
        creds = self.creds({"groq": {"type": "api_key", "key": SECRET + "$UNSET_VAR"}})
        self.assertFalse(creds.configured(FakeModel("groq")))
        self.assertEqual(
            self.assert401(creds, FakeModel("groq")),
            'No API key for provider "groq": its auth.json entry has no key that resolves. To add one: '
            "set GROQ_API_KEY; or give its entry in " + creds.auth_path + ' a "key" that resolves.',
        )

    def test_models_json_key_command_fails(self) -> None:
        self.environ["OPENAI_API_KEY"] = "sk-env"
        model = FakeModel(api_key_config="!" + py(f"print('{SECRET}'); raise SystemExit(2)"))
        self.assertEqual(
            self.assert401(self.creds(), model, "sk-env", "SystemExit"),
            'The "apiKey" of provider "openai" in models.json did not resolve: '
            "its shell command failed, timed out or printed nothing.",
        )

    def test_models_json_key_template_unset(self) -> None:
        model = FakeModel(api_key_config=SECRET + "${MISSING}")
        creds = self.creds()
        self.assertFalse(creds.configured(model))
        self.assertEqual(
            self.assert401(creds, model),
            'The "apiKey" of provider "openai" in models.json did not resolve: '
            "environment variable MISSING is unset or empty.",
        )

    def test_oauth_without_access(self) -> None:
        creds = self.creds({"openai": oauth("")})
        self.assert401(creds, FakeModel(), "ref-token")


class ConfiguredTest(Base):
    def test_cases(self) -> None:
        self.environ.update({"AWS_PROFILE": "work", "ANTHROPIC_FEDERATION_RULE_ID": "r", "XAI_API_KEY": "x"})
        creds = self.creds(
            {
                "anthropic": oauth(expires_in_ms=-1),
                "groq": {"type": "api_key", "key": "!false"},
                "mistral": {"type": "api_key", "key": "lit"},
                "google-vertex": {"type": "api_key", "env": {"GOOGLE_CLOUD_PROJECT": "p"}},
            }
        )
        expected = {
            "anthropic": True,  # OAuth entry, not refreshed for the check
            "groq": True,  # a command counts without running
            "mistral": True,
            "xai": True,  # env
            "amazon-bedrock": False,  # ambient credentials are not supported yet
            "google-vertex": False,
            "deepseek": False,
            "unknown-custom": False,
        }
        self.assertEqual({p: creds.configured(FakeModel(p)) for p in expected}, expected)
        self.environ["AWS_BEARER_TOKEN_BEDROCK"] = "b"
        self.assertTrue(creds.configured(FakeModel("amazon-bedrock")))


class SubscriptionTest(Base):
    def test_is_subscription_means_an_oauth_entry(self) -> None:
        self.environ["ANTHROPIC_OAUTH_TOKEN"] = "sk-ant-oat01-env"
        creds = self.creds({"openai-codex": oauth(expires_in_ms=-1), "groq": {"type": "api_key", "key": "k"}})
        found = {p: creds.is_subscription(FakeModel(p)) for p in ("openai-codex", "groq", "anthropic", "mistral")}
        self.assertEqual(found, {"openai-codex": True, "groq": False, "anthropic": False, "mistral": False})


class MiscTest(Base):
    def test_repr_masks_secrets(self) -> None:
        cred = Credential(SECRET, {"Authorization": "Bearer " + SECRET}, {"K": SECRET}, None, "auth.json")
        self.assertEqual(
            repr(cred),
            "Credential(source='auth.json', api_key='***', headers=['Authorization'], env=['K'], base_url=None)",
        )
        self.assertNotIn(SECRET, repr(self.creds({"openai": {"type": "api_key", "key": SECRET}})))

    def test_auth_path_and_warnings(self) -> None:
        with open(os.path.join(self.dir, "auth.json"), "w") as f:
            f.write('{"openai": "' + SECRET)
        creds = Credentials(self.dir, {})
        self.assertEqual(creds.auth_path, os.path.join(self.dir, "auth.json"))
        self.assertEqual(
            creds.warnings(), [creds.auth_path + ": invalid JSON at line 1 column 12; using no stored credentials"]
        )

    def test_data_file_schema(self) -> None:
        table = json.loads(pkgutil.get_data("pigw", "data/provider_auth.json") or b"")
        self.assertEqual(len(table), 43)
        for provider, rules in table.items():
            self.assertLessEqual(set(rules), SCHEMA_KEYS, provider)
            self.assertLessEqual(set(rules.get("bearerEnv", [])), set(rules.get("env", [])), provider)
        for provider, rules in table.items():
            if "oauthRefresh" in rules:
                self.assertTrue(rules.get("oauth"), provider)
            for mode in rules.get("tokenModes", []):
                self.assertEqual(set(mode), {"marker", "headers", "systemPrefix"}, provider)
        self.assertEqual(table["openai-codex"]["apiKey"], False)


if __name__ == "__main__":
    unittest.main()
