"""OAuth refresh end to end: token requests per provider, the stored entry, pi's lock, failures, read-only, races."""

import base64
import io
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from typing import Any, Dict, List, Optional, Tuple
from unittest import mock

from pigw.credentials import Credential, Credentials, oauth
from pigw.credentials.lock import AuthLock, LockCompromised, LockTimeout
from pigw.errors import GatewayError
from pigw.log import Log
from pigw.net.http import Pool
from tests.credentials.token_server import Call, Reply, TokenServer

NOW = float(int(time.time()))  # the patched clock: a whole second near the real time
NOW_MS = int(NOW * 1000)
PROVIDERS = ("anthropic", "openai-codex", "openai", "github-copilot", "xai", "kimi-coding", "meta", "radius")
PRIVATE = ("refresh-0", "old-access", "gho_github_token", "identity-token")  # tokens no message may show
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pi_like_refresh.py")
CLAUDE_PREFIX = "You are Claude Code, Anthropic's official CLI for Claude."
# Entries that must survive every refresh untouched (pi format, unknown fields and all).
OTHERS = {
    "openai": {"type": "api_key", "key": "sk-other", "env": {"A": "b"}, "x-unknown": [1.5, None, {"deep": True}]},
    "groq": {"type": "api_key"},
    "google-gemini-cli": {"type": "oauth", "refresh": "r", "access": "a", "expires": 1, "projectId": "p"},
}


def jwt(payload: Dict[str, Any]) -> str:
    encoded = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    return "eyJhbGciOiJub25lIn0." + encoded + ".c2ln"


def expired(**extra: Any) -> Dict[str, Any]:
    entry = {"type": "oauth", "refresh": "refresh-0", "access": "old-access", "expires": NOW_MS + 299999}
    entry.update(extra)
    return entry


class FakeModel:
    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.base_url = "https://api.example.com"
        self.api_key_config: Optional[str] = None
        self.header_configs: Dict[str, str] = {}
        self.auth_header = False


class Base(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.path = os.path.join(self.dir, "auth.json")
        self.server = TokenServer()
        self.addCleanup(self.server.close)
        self.pool = Pool(environ={})
        self.addCleanup(self.pool.close)
        self.log_stream = io.StringIO()
        self.sleeps: List[float] = []
        self.timeout = 5.0

    def creds(self, read_only: bool = False) -> Credentials:
        urls = {provider: self.server.url(provider) for provider in PROVIDERS}
        log = Log("debug", self.log_stream)
        refreshers = oauth.refreshers(self.pool, urls, self.timeout, log, self.sleeps.append)
        return Credentials(self.dir, {}, refreshers=refreshers, read_only=read_only)

    def write(self, data: Dict[str, Any], mode: int = 0o600) -> bytes:
        content = json.dumps(data, indent=2).encode()
        with open(self.path, "wb") as f:
            f.write(content)
        os.chmod(self.path, mode)
        return content

    def read(self) -> bytes:
        with open(self.path, "rb") as f:
            return f.read()

    def stored(self) -> Dict[str, Any]:
        data: Dict[str, Any] = json.loads(self.read())
        return data

    def resolve(self, provider: str, creds: Optional[Credentials] = None) -> Credential:
        with mock.patch("time.time", return_value=NOW):
            return (creds or self.creds()).resolve(FakeModel(provider))

    def assertFails(self, provider: str, message: str, creds: Optional[Credentials] = None) -> None:
        """A 401 with exactly ``message``, naming no token in it or in the log; file and lock untouched."""
        before = self.read()
        with self.assertRaises(GatewayError) as caught:
            self.resolve(provider, creds)
        error = caught.exception
        self.assertEqual((error.status, error.type), (401, "authentication_error"))
        self.assertEqual(error.message, message)
        self.assertIn(f"`pi /login {provider}`", message)
        for secret in PRIVATE:
            self.assertNotIn(secret, message)
            self.assertNotIn(secret, self.log_stream.getvalue())
        self.assertEqual(self.read(), before)
        self.assertEqual(sorted(os.listdir(self.dir)), ["auth.json"])


class ProviderRefreshTest(Base):
    """One refresh per provider: the exact request, the exact stored entry, every other entry byte-identical."""

    def refresh(self, provider: str, entry: Dict[str, Any], reply: Reply) -> Tuple[Call, Dict[str, Any], Credential]:
        original = dict(OTHERS)
        original[provider] = entry
        self.write(original)
        self.server.reply = lambda n, call: reply
        credential = self.resolve(provider)
        self.assertEqual(len(self.server.calls), 1)
        stored = self.stored()[provider]
        original[provider] = stored
        self.assertEqual(self.read(), json.dumps(original, indent=2).encode())
        if os.name != "nt":
            self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o600)
        self.assertEqual(sorted(os.listdir(self.dir)), ["auth.json"])
        log = self.log_stream.getvalue()
        self.assertIn('"event": "oauth_refreshed", "provider": "%s"' % provider, log)
        for secret in PRIVATE + (stored["access"], stored["refresh"]):
            self.assertNotIn(secret, log)
        return self.server.calls[0], stored, credential

    def assertRequest(self, call: Call, method: str, body: bytes, **headers: str) -> None:
        self.assertEqual((call.method, call.body), (method, body))
        for name, value in headers.items():
            self.assertEqual(call.headers.get(name.replace("_", "-")), value, name)

    def test_anthropic_json_body_rotation_and_claude_identity(self) -> None:
        reply = {"access_token": "sk-ant-oat01-new", "refresh_token": "sk-ant-ort01-new", "expires_in": 28800}
        call, stored, credential = self.refresh("anthropic", expired(), (200, reply))
        self.assertEqual(call.path, "/token/anthropic")
        self.assertRequest(
            call,
            "POST",
            b'{"grant_type":"refresh_token","client_id":"9d1c250a-e61b-44d9-88ed-5944d1962f5e",'
            b'"refresh_token":"refresh-0"}',
            content_type="application/json",
            accept="application/json",
        )
        self.assertEqual(
            stored,
            {
                "type": "oauth",
                "refresh": "sk-ant-ort01-new",
                "access": "sk-ant-oat01-new",
                "expires": NOW_MS + 28800000 - 300000,
            },
        )
        self.assertEqual(
            (credential.api_key, credential.headers, credential.system_prefix),
            (
                None,
                {
                    "Authorization": "Bearer sk-ant-oat01-new",
                    "anthropic-beta": "claude-code-20250219,oauth-2025-04-20",
                    "user-agent": "claude-cli/2.1.322",
                    "x-app": "cli",
                },
                CLAUDE_PREFIX,
            ),
        )

    def test_openai_codex_form_body_and_account_id_from_the_new_jwt(self) -> None:
        access = jwt({"https://api.openai.com/auth": {"chatgpt_account_id": "acct-new"}, "exp": 1})
        reply = {"access_token": access, "refresh_token": "refresh-1", "expires_in": 864000, "id_token": "x"}
        call, stored, credential = self.refresh("openai-codex", expired(accountId="acct-old"), (200, reply))
        self.assertRequest(
            call,
            "POST",
            b"grant_type=refresh_token&refresh_token=refresh-0&client_id=app_EMoamEEZ73f0CkXaXp7hrann",
            content_type="application/x-www-form-urlencoded",
        )
        self.assertEqual(
            stored,
            {
                "type": "oauth",
                "refresh": "refresh-1",
                "access": access,
                "expires": NOW_MS + 864000000,
                "accountId": "acct-new",
            },
        )
        self.assertEqual((credential.api_key, credential.headers), (access, {}))

    def test_openai_sign_in_with_chatgpt_keeps_client_id_and_stores_scopes(self) -> None:
        scope = "openid offline_access resource.invoke chatgpt.tokens.use.direct"
        reply = {"access_token": "oai-new", "refresh_token": "refresh-1", "expires_in": 3600, "scope": scope}
        entry = expired(clientId="oaiapp_123", scopes=["old"], junk="not carried over")
        call, stored, credential = self.refresh("openai", entry, (200, reply))
        self.assertRequest(
            call,
            "POST",
            b"grant_type=refresh_token&client_id=oaiapp_123&refresh_token=refresh-0"
            b"&resource=https%3A%2F%2Fapi.openai.com%2Fv1",
            content_type="application/x-www-form-urlencoded",
            accept="application/json",
        )
        self.assertEqual(
            stored,
            {
                "type": "oauth",
                "refresh": "refresh-1",
                "access": "oai-new",
                "expires": NOW_MS + 3600000 - 180000,
                "clientId": "oaiapp_123",
                "scopes": ["openid", "offline_access", "resource.invoke", "chatgpt.tokens.use.direct"],
            },
        )
        self.assertEqual(credential.api_key, "oai-new")

    def test_github_copilot_get_exchange_keeps_enterprise_and_models(self) -> None:
        token = "tid=1;exp=2;proxy-ep=proxy.enterprise.githubcopilot.com;sig=3"
        entry = expired(refresh="gho_github_token", enterpriseUrl="ghe.example.com", availableModelIds=["gpt-5", "c"])
        call, stored, credential = self.refresh(
            "github-copilot", entry, (200, {"token": token, "expires_at": int(NOW) + 1500, "refresh_in": 1200})
        )
        self.assertRequest(
            call,
            "GET",
            b"",
            accept="application/json",
            authorization="Bearer gho_github_token",
            user_agent="GitHubCopilotChat/0.35.0",
            editor_version="vscode/1.107.0",
            editor_plugin_version="copilot-chat/0.35.0",
            copilot_integration_id="vscode-chat",
        )
        self.assertNotIn("content-type", call.headers)
        self.assertEqual(
            stored,
            {
                "type": "oauth",
                "refresh": "gho_github_token",
                "access": token,
                "expires": (int(NOW) + 1500) * 1000 - 300000,
                "enterpriseUrl": "ghe.example.com",
                "availableModelIds": ["gpt-5", "c"],
            },
        )
        self.assertEqual(credential.api_key, token)

    def test_xai_keeps_the_refresh_token_and_defaults_the_lifetime(self) -> None:
        call, stored, _ = self.refresh("xai", expired(), (200, {"access_token": "xai-new"}))
        self.assertRequest(
            call,
            "POST",
            b"grant_type=refresh_token&client_id=b1a00492-073a-47ea-816f-4c329264a828&refresh_token=refresh-0",
            accept="application/json",
        )
        self.assertEqual(
            stored,
            {"type": "oauth", "refresh": "refresh-0", "access": "xai-new", "expires": NOW_MS + 3600000 - 300000},
        )

    def test_kimi_form_body_no_margin_and_bearer_header(self) -> None:
        reply = {"access_token": "kimi-new", "refresh_token": "refresh-1", "expires_in": 900}
        call, stored, credential = self.refresh("kimi-coding", expired(), (200, reply))
        self.assertRequest(
            call,
            "POST",
            b"client_id=17e5f671-d194-4dfb-9706-5516cb48c098&grant_type=refresh_token&refresh_token=refresh-0",
        )
        self.assertEqual(
            stored, {"type": "oauth", "refresh": "refresh-1", "access": "kimi-new", "expires": NOW_MS + 900000}
        )
        self.assertEqual((credential.api_key, credential.headers), (None, {"Authorization": "Bearer kimi-new"}))

    def test_meta_mints_a_key_with_the_identity_token(self) -> None:
        entry = expired(refresh="identity-token")
        call, stored, _ = self.refresh("meta", entry, (200, {"api_key": "meta-key-new"}))
        self.assertRequest(
            call,
            "POST",
            b"{}",
            authorization="Bearer identity-token",
            content_type="application/json",
            accept="application/json",
            x_api_version="1.0.0",
        )
        self.assertEqual(
            stored,
            {"type": "oauth", "refresh": "identity-token", "access": "meta-key-new", "expires": NOW_MS + 86400000},
        )

    def test_radius_stores_the_scope(self) -> None:
        reply = {"access_token": "rad-new", "refresh_token": "refresh-1", "expires_in": 600, "scope": "gateway x"}
        call, stored, _ = self.refresh("radius", expired(gatewayConfig={"old": 1}), (200, reply))
        self.assertRequest(call, "POST", b"grant_type=refresh_token&client_id=pi-gateway&refresh_token=refresh-0")
        self.assertEqual(
            stored,
            {
                "type": "oauth",
                "refresh": "refresh-1",
                "access": "rad-new",
                "expires": NOW_MS + 600000 - 60000,
                "scope": "gateway x",
            },
        )

    def test_openrouter_key_is_permanent(self) -> None:
        entry = {"type": "oauth", "refresh": "", "access": "sk-or-key", "expires": 9007199254740991}
        self.assertIs(oauth.refreshers(self.pool)["openrouter"]("openrouter", entry), entry)
        self.write({"openrouter": entry})
        self.assertEqual(self.resolve("openrouter").api_key, "sk-or-key")
        self.assertEqual(self.server.calls, [])


class FakePool:
    """Records requests instead of sending them, answering 200 with ``answer``."""

    def __init__(self, answer: Dict[str, Any]) -> None:
        self.answer = answer
        self.requests: List[Tuple[str, str, Optional[float]]] = []

    def request(self, method: str, url: str, headers: Dict[str, str], body: Any, read_timeout: float) -> Any:
        self.requests.append((method, url, read_timeout))
        return mock.MagicMock(status=200, read=lambda: json.dumps(self.answer).encode())


class DefaultEndpointTest(unittest.TestCase):
    def test_token_urls_and_timeout(self) -> None:
        pool = FakePool(
            {
                "access_token": jwt({"https://api.openai.com/auth": {"chatgpt_account_id": "a"}}),
                "refresh_token": "r",
                "expires_in": 60,
                "scope": "chatgpt.tokens.use.direct",
                "token": "t",
                "expires_at": 2000000000,
                "api_key": "k",
            }
        )
        found = oauth.refreshers(pool)  # type: ignore[arg-type]
        self.assertEqual(sorted(found), sorted(PROVIDERS + ("openrouter",)))
        entry = expired(clientId="c")
        for provider in PROVIDERS:
            found[provider](provider, entry)
        found["github-copilot"]("github-copilot", expired(enterpriseUrl="ghe.example.com"))
        self.assertEqual(
            pool.requests,
            [
                ("POST", "https://platform.claude.com/v1/oauth/token", 30.0),
                ("POST", "https://auth.openai.com/oauth/token", 30.0),
                ("POST", "https://auth.openai.com/api/accounts/oauth/token", 30.0),
                ("GET", "https://api.github.com/copilot_internal/v2/token", 30.0),
                ("POST", "https://auth.x.ai/oauth2/token", 30.0),
                ("POST", "https://auth.kimi.com/api/oauth/token", 30.0),
                ("POST", "https://api.meta.ai/muse-code/key", 30.0),
                ("POST", "https://radius.pi.dev/v1/oauth/token", 30.0),
                ("GET", "https://api.ghe.example.com/copilot_internal/v2/token", 30.0),
            ],
        )


class FailureTest(Base):
    """A failed refresh changes nothing on disk and tells the user to log in again, without any token."""

    def setUp(self) -> None:
        super().setUp()
        self.write(dict(OTHERS, anthropic=expired(), **{"openai-codex": expired(), "openai": expired()}))

    def lead(self, provider: str, why: str) -> str:
        return (
            f'Refreshing the pi login for provider "{provider}" failed: {why}. '
            f"Run `pi /login {provider}` to sign in again."
        )

    def test_invalid_grant(self) -> None:
        self.server.reply = lambda n, call: (400, {"error": "invalid_grant", "error_description": "bad refresh-0"})
        self.assertFails("anthropic", self.lead("anthropic", "the token endpoint answered HTTP 400 (invalid_grant)"))
        self.assertIn('"event": "oauth_refresh_failed", "provider": "anthropic"', self.log_stream.getvalue())

    def test_server_error_without_a_code(self) -> None:
        self.server.reply = lambda n, call: (500, {"error": "refresh-0 is not a code"})
        self.assertFails("anthropic", self.lead("anthropic", "the token endpoint answered HTTP 500"))

    def test_hang(self) -> None:
        self.timeout = 0.3
        self.server.reply = self.server.hang
        port = self.server.base_url.rsplit(":", 1)[1]
        self.assertFails("anthropic", self.lead("anthropic", f"no response from 127.0.0.1:{port} within 0.3 s"))

    def test_network_error(self) -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        before = self.read()
        urls = {"anthropic": f"http://127.0.0.1:{port}/token"}
        creds = Credentials(self.dir, {}, refreshers=oauth.refreshers(self.pool, urls))
        with self.assertRaises(GatewayError) as caught:
            self.resolve("anthropic", creds)
        self.assertEqual((caught.exception.status, self.read()), (401, before))
        self.assertTrue(
            caught.exception.message.startswith(
                f'Refreshing the pi login for provider "anthropic" failed: cannot connect to 127.0.0.1:{port}: '
            ),
            caught.exception.message,
        )

    def test_malformed_answers(self) -> None:
        cases = [
            ((200, b"<html>refresh-0</html>"), "the token endpoint's answer is not JSON"),
            ((200, ["refresh-0"]), "the token endpoint's answer is not a JSON object"),
            ((200, {"refresh_token": "r", "expires_in": 60}), 'the token endpoint\'s answer lacks "access_token"'),
            ((200, {"access_token": "a", "expires_in": 60}), 'the token endpoint\'s answer lacks "refresh_token"'),
            (
                (200, {"access_token": "a", "refresh_token": "r"}),
                'the token endpoint\'s answer lacks a positive "expires_in"',
            ),
            (
                (200, {"access_token": "a", "refresh_token": "r", "expires_in": -5}),
                'the token endpoint\'s answer lacks a positive "expires_in"',
            ),
        ]
        for reply, why in cases:
            with self.subTest(why=why):
                self.server.reply = lambda n, call, reply=reply: reply  # type: ignore[misc]
                self.assertFails("anthropic", self.lead("anthropic", why))

    def test_codex_token_without_account(self) -> None:
        reply = {"access_token": jwt({"sub": "x"}), "refresh_token": "r", "expires_in": 60}
        self.server.reply = lambda n, call: (200, reply)
        why = "the new access token carries no chatgpt_account_id"
        self.assertFails("openai-codex", self.lead("openai-codex", why))

    def test_openai_without_the_direct_scope(self) -> None:
        self.write(dict(OTHERS, openai=expired(clientId="c")))
        reply = {"access_token": "a", "refresh_token": "r", "expires_in": 60, "scope": "openid"}
        self.server.reply = lambda n, call: (200, reply)
        why = "the token endpoint did not grant the chatgpt.tokens.use.direct scope"
        self.assertFails("openai", self.lead("openai", why))

    def test_openai_without_client_id_makes_no_call(self) -> None:
        self.assertFails("openai", self.lead("openai", 'the stored login lacks "clientId"'))
        self.assertEqual(self.server.calls, [])

    def test_kimi_retries_429_5xx_and_network_errors(self) -> None:
        self.write(dict(OTHERS, **{"kimi-coding": expired()}))
        replies = [(503, {}), (429, {}), (200, {"access_token": "k", "refresh_token": "r", "expires_in": 60})]
        self.server.reply = lambda n, call: replies[n - 1]
        self.assertEqual(self.resolve("kimi-coding").headers, {"Authorization": "Bearer k"})
        self.assertEqual((len(self.server.calls), self.sleeps), (3, [1, 2]))

    def test_kimi_gives_up_after_three_retries_and_never_retries_a_dead_login(self) -> None:
        self.write(dict(OTHERS, **{"kimi-coding": expired()}))
        self.server.reply = lambda n, call: (500, {})
        self.assertFails("kimi-coding", self.lead("kimi-coding", "the token endpoint answered HTTP 500"))
        self.assertEqual((len(self.server.calls), self.sleeps), (4, [1, 2, 4]))
        self.server.reply = lambda n, call: (401, {"error": "invalid_grant"})
        self.assertFails(
            "kimi-coding", self.lead("kimi-coding", "the token endpoint answered HTTP 401 (invalid_grant)")
        )
        self.assertEqual(len(self.server.calls), 5)

    def test_lock_timeout_is_a_503_and_the_lock_lost_aborts_the_write(self) -> None:
        before = self.read()
        with mock.patch.object(AuthLock, "_acquire", side_effect=LockTimeout("x.lock stayed locked")):
            with self.assertRaises(GatewayError) as caught:
                self.resolve("anthropic")
        self.assertEqual((caught.exception.status, caught.exception.code), (503, "auth_locked"))
        self.assertEqual(self.server.calls, [])
        with mock.patch.object(AuthLock, "check", side_effect=LockCompromised("the lock x was taken over")):
            with self.assertRaises(GatewayError) as caught:
                self.resolve("anthropic")
        self.assertEqual((caught.exception.status, caught.exception.code), (503, "auth_lock_lost"))
        self.assertEqual((len(self.server.calls), self.read()), (1, before))


class LockedSectionTest(Base):
    """What happens inside pi's lock: re-read, reuse, logged out, rotation, paths and modes."""

    def held_while(self, change: Any) -> Tuple[List[Any], threading.Thread]:
        """Resolve anthropic in a thread while the lock is held by "pi", which runs ``change`` and releases."""
        os.mkdir(self.path + ".lock")
        results: List[Any] = []

        def run() -> None:
            try:
                results.append(self.creds().resolve(FakeModel("anthropic")))
            except GatewayError as exc:
                results.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(0.2)
        self.assertEqual(results, [])
        change()
        os.rmdir(self.path + ".lock")
        thread.join(5)
        return results, thread

    def test_token_refreshed_by_someone_else_while_waiting_is_used(self) -> None:
        self.write(dict(OTHERS, anthropic=expired()))
        fresh = {"type": "oauth", "refresh": "r9", "access": "by-pi", "expires": int(time.time() * 1000) + 3600000}
        results, _ = self.held_while(lambda: self.write(dict(OTHERS, anthropic=fresh)))
        self.assertEqual(results[0].api_key, "by-pi")
        self.assertEqual(self.server.calls, [])

    def test_logged_out_while_waiting(self) -> None:
        self.write(dict(OTHERS, anthropic=expired()))
        results, _ = self.held_while(lambda: self.write(OTHERS))
        self.assertIsInstance(results[0], GatewayError)
        self.assertEqual(
            results[0].message,
            f'The pi login for provider "anthropic" is gone from {self.path} (logged out); run `pi /login anthropic`.',
        )
        self.assertEqual(self.server.calls, [])

    def test_rotated_refresh_token_is_saved_before_the_access_token_is_used(self) -> None:
        self.write(dict(OTHERS, anthropic=expired()))
        creds = self.creds()
        seen: List[Dict[str, Any]] = []
        self.server.reply = lambda n, call: (seen.append(self.stored()["anthropic"]), self.server.rotate(n, call))[1]
        self.assertEqual(self.resolve("anthropic", creds).api_key, "access-1")
        self.assertEqual(self.stored()["anthropic"]["refresh"], "refresh-1")
        data = self.stored()
        data["anthropic"]["expires"] = NOW_MS
        self.write(data)
        self.assertEqual(self.resolve("anthropic", creds).api_key, "access-2")  # presented refresh-1
        self.assertEqual([entry["refresh"] for entry in seen], ["refresh-0", "refresh-1"])
        self.assertEqual(self.stored()["anthropic"]["refresh"], "refresh-2")

    @unittest.skipIf(not hasattr(os, "symlink") or os.name == "nt", "symlinks")
    def test_symlinked_auth_json_writes_the_target_and_keeps_the_link(self) -> None:
        real_dir = os.path.join(self.dir, "real")
        os.mkdir(real_dir)
        real = os.path.join(real_dir, "auth.json")
        agent = os.path.join(self.dir, "agent")
        os.mkdir(agent)
        with open(real, "w") as f:
            f.write(json.dumps(dict(OTHERS, anthropic=expired()), indent=2))
        os.chmod(real, 0o640)
        os.symlink(real, os.path.join(agent, "auth.json"))
        creds = Credentials(agent, {}, refreshers=oauth.refreshers(self.pool, {"anthropic": self.server.url("x")}))
        self.assertEqual(self.resolve("anthropic", creds).api_key, "access-1")
        self.assertTrue(os.path.islink(os.path.join(agent, "auth.json")))
        self.assertEqual(os.readlink(os.path.join(agent, "auth.json")), real)
        with open(real) as f:
            self.assertEqual(json.loads(f.read())["anthropic"]["access"], "access-1")
        self.assertEqual(stat.S_IMODE(os.stat(real).st_mode), 0o640)
        self.assertEqual((sorted(os.listdir(agent)), sorted(os.listdir(real_dir))), (["auth.json"], ["auth.json"]))

    def test_read_only_never_writes(self) -> None:
        content = self.write(dict(OTHERS, anthropic=expired()))
        creds = self.creds(read_only=True)
        self.assertFails(
            "anthropic",
            'The pi login for provider "anthropic" has expired or expires within 5 minutes and pigw does not '
            "write auth.json (--read-only-auth); run `pi` (which refreshes it) or `pi /login anthropic`.",
            creds,
        )
        self.assertEqual((self.read(), self.server.calls), (content, []))
        self.write(dict(OTHERS, anthropic=dict(expired(), expires=NOW_MS + 300001)))
        self.assertEqual(self.resolve("anthropic", creds).api_key, "old-access")


class RaceTest(Base):
    """8 threads here and a pi-like second process race on an expired token, three expiries in a row."""

    def test_one_refresh_per_expiry_across_threads_and_processes(self) -> None:
        self.server.delay = 0.05
        creds = self.creds()
        self.write(dict(OTHERS, anthropic=expired(expires=0), zz={"type": "api_key", "key": "last"}))
        stop = threading.Event()
        torn: List[bytes] = []
        reads = [0]

        def reader() -> None:
            while not stop.is_set():
                with open(self.path, "rb") as f:
                    raw = f.read()
                try:
                    json.loads(raw)
                except ValueError:
                    torn.append(raw)
                reads[0] += 1

        watcher = threading.Thread(target=reader)
        watcher.start()
        try:
            for expiry in range(1, 4):
                with self.subTest(expiry=expiry):
                    self.race(creds, expiry)
                data = self.stored()
                data["anthropic"]["expires"] = 0
                with open(self.path + ".next", "w") as f:
                    f.write(json.dumps(data, indent=2))
                os.chmod(self.path + ".next", 0o600)
                os.replace(self.path + ".next", self.path)  # the reader must see no torn file of ours either
        finally:
            stop.set()
            watcher.join()
        self.assertEqual(torn, [])
        self.assertGreater(reads[0], 10)

    def race(self, creds: Credentials, expiry: int) -> None:
        go = os.path.join(tempfile.mkdtemp(dir=self.dir), "go")
        process = subprocess.Popen(
            [sys.executable, "-I", SCRIPT, self.path, self.server.url("anthropic"), go],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        self.assertEqual(process.stdout.readline(), "ready\n")
        barrier = threading.Barrier(9)
        results: List[Any] = []

        def worker() -> None:
            barrier.wait()
            try:
                results.append(creds.resolve(FakeModel("anthropic")).api_key)
            except GatewayError as exc:
                results.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        with open(go, "w"):
            pass
        barrier.wait()
        for thread in threads:
            thread.join(10)
        out, _ = process.communicate(timeout=10)
        shutil.rmtree(os.path.dirname(go))
        self.assertEqual(process.returncode, 0)
        self.assertEqual(len(self.server.calls), expiry)  # exactly one refresh for this expiry
        self.assertEqual(results + [out.strip()], [f"access-{expiry}"] * 9)
        data = self.stored()
        self.assertEqual(data["anthropic"]["refresh"], f"refresh-{expiry}")
        self.assertEqual(self.read(), json.dumps(dict(data), indent=2).encode())
        self.assertEqual(list(data), list(OTHERS) + ["anthropic", "zz"])
        self.assertEqual(
            dict(data, anthropic=None), dict(OTHERS, anthropic=None, zz={"type": "api_key", "key": "last"})
        )
        if os.name != "nt":
            self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o600)
        self.assertFalse(os.path.exists(self.path + ".lock"))


if __name__ == "__main__":
    unittest.main()
