"""Which key, headers, env and base URL a request to a model's provider uses, found the way pi does.

Order (reference/credentials.md section 4): the provider's ``auth.json`` entry; else the models.json
provider ``apiKey`` (uncached); else the provider's environment variables, first non-empty wins.
An ``api_key`` entry whose key is absent or resolves to nothing falls through to the variables,
with the entry's ``env`` over the process environment; an ``oauth`` entry never falls through.
Then the models.json headers are resolved and merged over the auth headers, and ``authHeader``
adds ``Authorization: Bearer <key>`` (models-json.md section 3 step 6). Values like
``<authenticated>`` count as no key.

Per-provider facts are data, ``pigw/data/provider_auth.json``: an object keyed by provider id whose
values may hold (absent keys take the default; providers not listed take all defaults)::

    "env":         [NAME, ...]  variables holding a key, in order (default [])
    "bearerEnv":   [NAME, ...]  those of "env" sent as "Authorization: Bearer <value>", not as the key
    "keyHeader":   "name"       every key of the provider goes in this header as "Bearer <key>"
    "oauth":       true         the provider has a pi OAuth login (default false)
    "oauthHeader": "name"       the OAuth access token goes in this header as "Bearer <token>"
    "apiKey":      false        the provider takes no API key, only its OAuth login (default true)
    "ambientEnv":  [NAME, ...]  ambient-credential variables (AWS chain, Google ADC, Anthropic
                                federation), recorded for later; they make nothing configured yet
    "oauthRefresh": {...}       how the provider's OAuth login is refreshed (see ``oauth``)
    "tokenModes":  [{"marker": "sk-ant-oat", "headers": {name: value}, "systemPrefix": text}, ...]
                                a key or token containing "marker" is sent in these headers
                                ("{token}" is replaced by it) instead of as the API key, and
                                "systemPrefix" must open the system prompt (Claude Pro/Max)

A key that goes in a header leaves ``Credential.api_key`` None. OAuth tokens within five minutes of
``expires`` are refreshed by the provider's refresher (``oauth.refreshers``) under pi's lock
(``refresh``); with ``read_only`` nothing is written and such a token is a 401 instead.
"""

import functools
import json
import os
import pkgutil
import re
from collections import ChainMap
from typing import Any, Dict, List, Mapping, Optional, Tuple

from pigw.credentials import values
from pigw.credentials.auth_file import AuthFile, Entry
from pigw.credentials.refresh import Refresher, Refreshing, expiring
from pigw.errors import GatewayError, unauthorized

# Headers that carry auth on their own, so a request without a key can still go (providers.md 0.8).
_AUTH_HEADERS = ("authorization", "x-api-key", "cf-aig-authorization")
_PLACEHOLDER = re.compile(r"\{([A-Z_][A-Z0-9_]*)\}")


class Credential:
    """What a provider needs to authenticate one request; every value is already resolved."""

    __slots__ = ("api_key", "headers", "env", "base_url", "source", "system_prefix")

    def __init__(
        self,
        api_key: Optional[str] = None,
        headers: Optional[Dict[str, str]] = None,
        env: Optional[Dict[str, str]] = None,
        base_url: Optional[str] = None,
        source: str = "",
        system_prefix: Optional[str] = None,
    ) -> None:
        self.api_key = api_key
        self.headers = headers if headers is not None else {}
        self.env = env if env is not None else {}
        self.base_url = base_url
        self.source = source
        self.system_prefix = system_prefix  # text a credential kind requires as the first system block

    def __repr__(self) -> str:
        return "Credential(source={!r}, api_key={}, headers={!r}, env={!r}, base_url={!r})".format(
            self.source,
            "'***'" if self.api_key else None,
            sorted(self.headers),
            sorted(self.env),
            self.base_url,
        )


class Credentials:
    """Resolves credentials for models from pi's agent dir and an environment."""

    def __init__(
        self,
        agent_dir: str,
        environ: Optional[Mapping[str, str]] = None,
        refreshers: Optional[Mapping[str, Refresher]] = None,
        read_only: bool = False,
        auth_recheck_s: float = 0.0,
    ) -> None:
        self._auth = AuthFile(os.path.join(agent_dir, "auth.json"), auth_recheck_s)
        self._environ = environ if environ is not None else os.environ
        self._refreshing = Refreshing(self._auth, refreshers or {})
        self._read_only = read_only
        self._commands = values.CommandCache()

    @property
    def auth_path(self) -> str:
        return self._auth.path

    def warnings(self) -> List[str]:
        """Secret-free problems seen in auth.json, for the CLI to print."""
        return self._auth.warnings()

    def configured(self, model: Any) -> bool:
        """Whether the model's provider has a usable credential now; runs no command, refreshes nothing."""
        rules = _rules(model.provider)
        entry = self._auth.entries().get(model.provider)
        overlay = _overlay(entry)
        lookup = _lookup(overlay, self._environ)
        if _fill_placeholders(model.base_url, lookup)[1]:
            return False
        if entry is not None and entry["type"] == "oauth":
            return bool(rules.get("oauth"))
        if entry is not None and rules.get("apiKey") is False:
            return False
        if entry is None and model.api_key_config is not None:
            return _counts(model.api_key_config, lookup)
        if entry is not None and "key" in entry and _counts(entry["key"], lookup):
            return True
        if any(_usable(lookup.get(name)) for name in rules.get("env", ())):
            return True
        return any(
            name.lower() in _AUTH_HEADERS and _counts(config, lookup) for name, config in model.header_configs.items()
        )

    def is_subscription(self, model: Any) -> bool:
        """Whether the model's provider is used through a pi login (an ``oauth`` entry in auth.json)."""
        entry = self._auth.entries().get(model.provider)
        return entry is not None and entry["type"] == "oauth"

    def resolve(self, model: Any) -> Credential:
        """The credential for one request to ``model``; GatewayError 401 when there is none."""
        rules = _rules(model.provider)
        entry = self._auth.entries().get(model.provider)
        overlay = _overlay(entry)
        lookup = _lookup(overlay, self._environ)
        key, source, key_header = self._find_key(model, rules, entry, lookup)
        headers: Dict[str, str] = {}
        api_key = key
        system_prefix = None
        if key is not None and key_header:
            headers[key_header] = "Bearer " + key
            api_key = None
        elif key is not None:
            mode = _token_mode(rules, key)
            if mode is not None:
                headers = {name: value.replace("{token}", key) for name, value in mode["headers"].items()}
                system_prefix = mode["systemPrefix"]
                api_key = None
        for name, config in model.header_configs.items():
            value = values.resolve(config, lookup)
            if value is None:
                why = values.why_unresolved(config, lookup)
                raise unauthorized(
                    f'Header "{name}" for provider "{model.provider}" in models.json did not resolve: {why}.'
                )
            _put(headers, name, value)
        if key is None:
            if model.auth_header or not any(name.lower() in _AUTH_HEADERS for name in headers):
                raise self._no_credential(model, rules, entry)
            source = "models.json headers"
        elif model.auth_header:
            _put(headers, "Authorization", "Bearer " + key)
        base_url, missing = _fill_placeholders(model.base_url, lookup)
        if missing:
            raise unauthorized(
                f'Provider "{model.provider}" needs {" and ".join(missing)} for its base URL: '
                f'set it in the environment or in the "env" of its entry in {self.auth_path}.'
            )
        return Credential(api_key, headers, overlay, base_url, source, system_prefix)

    def _find_key(
        self, model: Any, rules: Dict[str, Any], entry: Optional[Entry], lookup: Mapping[str, str]
    ) -> Tuple[Optional[str], str, Optional[str]]:
        """(key, source, header the key goes in) from auth.json, models.json or the environment."""
        provider = model.provider
        key_header = rules.get("keyHeader")
        if entry is not None and entry["type"] == "oauth":
            if not rules.get("oauth"):
                raise unauthorized(
                    f'{self.auth_path} holds a pi login (OAuth) for provider "{provider}", which takes only API keys; '
                    "replace that entry with an API key."
                )
            return self._oauth_access(provider, entry), "auth.json oauth", rules.get("oauthHeader")
        if entry is not None:
            if rules.get("apiKey") is False:
                raise unauthorized(
                    f'{self.auth_path} holds an API key for provider "{provider}", which needs a pi login: '
                    f"run `pi /login {provider}`."
                )
            key = _usable(values.resolve(entry["key"], lookup, self._commands)) if "key" in entry else None
            if key is not None:
                return key, "auth.json", key_header
        elif model.api_key_config is not None:
            key = _usable(values.resolve(model.api_key_config, lookup))
            if key is None:
                why = values.why_unresolved(model.api_key_config, lookup)
                raise unauthorized(f'The "apiKey" of provider "{provider}" in models.json did not resolve: {why}.')
            return key, "models.json", key_header
        for name in rules.get("env", ()):
            key = _usable(lookup.get(name))
            if key is not None:
                bearer = "Authorization" if name in rules.get("bearerEnv", ()) else None
                return key, "env:" + name, key_header or bearer
        return None, "", None

    def _oauth_access(self, provider: str, entry: Entry) -> str:
        if expiring(entry):
            if self._read_only or not self._refreshing.has(provider):
                why = " and pigw does not write auth.json (--read-only-auth)" if self._read_only else ""
                raise unauthorized(
                    f'The pi login for provider "{provider}" has expired or expires within 5 minutes{why}; '
                    f"run `pi` (which refreshes it) or `pi /login {provider}`."
                )
            entry = self._refreshing.fresh(provider)
        access = _usable(entry.get("access"))
        if access is None:
            raise unauthorized(
                f'The pi login for provider "{provider}" holds no access token; run `pi /login {provider}`.'
            )
        return access

    def _no_credential(self, model: Any, rules: Dict[str, Any], entry: Optional[Entry]) -> GatewayError:
        provider = model.provider
        ways = []
        if rules.get("oauth"):
            ways.append(f"run `pi /login {provider}`")
        if rules.get("env"):
            ways.append("set {}".format(" or ".join(rules["env"])))
        if entry is not None:
            ways.append(f'give its entry in {self.auth_path} a "key" that resolves')
            lead = f'No API key for provider "{provider}": its auth.json entry has no key that resolves'
        else:
            ways.append(f'set "apiKey" for "{provider}" in models.json')
            lead = f'No API key for provider "{provider}"'
        return unauthorized("{}. To add one: {}.".format(lead, "; or ".join(ways)))


@functools.lru_cache(maxsize=None)
def provider_table() -> Dict[str, Dict[str, Any]]:
    """The rules of ``pigw/data/provider_auth.json``, provider id -> rules."""
    data = pkgutil.get_data("pigw", "data/provider_auth.json")
    if data is None:
        raise RuntimeError("pigw/data/provider_auth.json cannot be read")
    table: Dict[str, Dict[str, Any]] = json.loads(data.decode("utf-8"))
    return table


def _rules(provider: str) -> Dict[str, Any]:
    return provider_table().get(provider, {})


def _token_mode(rules: Dict[str, Any], key: str) -> Optional[Dict[str, Any]]:
    """The provider's token mode whose marker ``key`` contains, if any."""
    for mode in rules.get("tokenModes", ()):
        if mode["marker"] in key:
            return mode
    return None


def _overlay(entry: Optional[Entry]) -> Dict[str, str]:
    """The provider-scoped variables of an ``api_key`` entry."""
    if entry is None or entry["type"] != "api_key":
        return {}
    return dict(entry.get("env", {}))


def _lookup(overlay: Dict[str, str], environ: Mapping[str, str]) -> Mapping[str, str]:
    """``overlay`` over the process environment."""
    return ChainMap(overlay, environ) if overlay else environ  # type: ignore[arg-type]


def _usable(value: Optional[str]) -> Optional[str]:
    """``value`` unless it is empty or a ``<...>`` sentinel such as ``<authenticated>``."""
    if not value or (value.startswith("<") and value.endswith(">")):
        return None
    return value


def _counts(config: str, lookup: Mapping[str, str]) -> bool:
    """Whether a key config counts as configured: a command (not run), or a value that resolves now."""
    return values.is_command(config) or _usable(values.resolve(config, lookup)) is not None


def _put(headers: Dict[str, str], name: str, value: str) -> None:
    """Set a header, replacing any spelling of the same name; the last spelling is kept."""
    for existing in [n for n in headers if n.lower() == name.lower()]:
        del headers[existing]
    headers[name] = value


def _fill_placeholders(url: str, lookup: Mapping[str, str]) -> Tuple[Optional[str], List[str]]:
    """(url with ``{NAME}`` filled, or None without placeholders; names that are unset or empty)."""
    names = _PLACEHOLDER.findall(url or "")
    if not names:
        return None, []
    missing = sorted({name for name in names if not lookup.get(name)})
    if missing:
        return None, missing
    return _PLACEHOLDER.sub(lambda m: lookup[m.group(1)], url), []
