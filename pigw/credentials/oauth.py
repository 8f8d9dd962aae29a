"""The token-endpoint calls that refresh pi's OAuth logins, built from data (reference/credentials.md section 5.1).

``refreshers(pool)`` gives one refresher per provider whose ``pigw/data/provider_auth.json`` rules
hold ``"oauthRefresh"``; ``Credentials`` calls it inside pi's lock (see ``refresh``) and writes what
it returns. ``"oauthRefresh": "none"`` marks a permanent token (the entry is returned unchanged);
otherwise it is an object::

    "url":      token endpoint; "{field}" / "{field|default}" take values of the stored entry
    "method":   "POST" (default) or "GET"
    "body":     "json" (compact) or "form" (urlencoded) made of "fields"; absent: no body
    "fields":   {name: template}, in the order sent ("{refresh}" is the stored refresh token)
    "headers":  {name: template}; Content-Type follows "body"
    "access":   response field holding the new access token (a non-empty string)
    "refresh":  response field holding the new refresh token; without it the stored one is kept
    "refreshOptional": true  keep the stored refresh token when the response has none
    "expiresIn": response field of the lifetime in seconds ("expiresInDefault" when absent),
    "expiresAt": response field of the expiry in epoch seconds, or
    "lifetimeMs": a fixed lifetime; "expires" = that instant minus "marginMs" (default 0)
    "keep":     stored fields carried into the new entry when present
    "claims":   {field: [path...]} strings read from the new access token's JWT payload (required)
    "scope":    {"require": scope the response's "scope" must grant, "store": field to store it in,
                 "list": store it split on spaces}
    "retryDelays": seconds to wait before each retry after a 429, a 5xx or a network failure

Token URLs can be replaced per provider with ``token_urls`` (tests point them at a loopback mock).
Every failure is a GatewayError 401 telling the user to run ``pi /login <provider>``; messages and
log lines name the provider, HTTP status and OAuth error code, never a token.
"""

import base64
import json
import math
import re
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlencode, urlsplit

from pigw.credentials import provider_table
from pigw.credentials.auth_file import Entry
from pigw.credentials.refresh import Refresher
from pigw.errors import unauthorized
from pigw.log import Log
from pigw.net.http import Pool

TIMEOUT = 30.0  # seconds per token request

_CONTENT_TYPES = {"json": "application/json", "form": "application/x-www-form-urlencoded"}
_FIELD = re.compile(r"\{([A-Za-z_]+)(?:\|([^}]*))?\}")
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")


def refreshers(
    pool: Pool,
    token_urls: Optional[Mapping[str, str]] = None,
    timeout: float = TIMEOUT,
    log: Optional[Log] = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Dict[str, Refresher]:
    """Provider id -> refresher for every provider with ``oauthRefresh`` data; ``token_urls`` replace URLs."""
    urls = token_urls or {}
    found: Dict[str, Refresher] = {}
    for provider, rules in provider_table().items():
        spec = rules.get("oauthRefresh")
        if spec == "none":
            found[provider] = _unchanged
        elif spec:
            found[provider] = TokenEndpoint(spec, pool, urls.get(provider), timeout, log, sleep)
    return found


class TokenEndpoint:
    """One provider's refresh call: request from the stored entry, new entry from the response."""

    def __init__(
        self,
        spec: Dict[str, Any],
        pool: Pool,
        url: Optional[str] = None,
        timeout: float = TIMEOUT,
        log: Optional[Log] = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.spec = spec
        self.pool = pool
        self.url = url
        self.timeout = timeout
        self.log = log
        self.sleep = sleep

    def __call__(self, provider: str, entry: Entry) -> Entry:
        """The entry to store after refreshing ``entry``; GatewayError 401 on any failure."""
        try:
            new = self._new_entry(entry, self._call(entry))
        except _Failure as failure:
            if self.log is not None:
                self.log.warn("oauth_refresh_failed", provider=provider, reason=str(failure))
            raise unauthorized(
                f'Refreshing the pi login for provider "{provider}" failed: {failure}. '
                f"Run `pi /login {provider}` to sign in again."
            ) from None
        if self.log is not None:
            self.log.info("oauth_refreshed", provider=provider, expires=new["expires"])
        return new

    def _call(self, entry: Entry) -> Dict[str, Any]:
        """The token endpoint's JSON answer, after the retries the data allows."""
        spec = self.spec
        method = spec.get("method", "POST")
        url = self.url or _fill(spec["url"], entry)
        headers = {name: _fill(value, entry) for name, value in spec.get("headers", {}).items()}
        body = None
        if "body" in spec:
            fields = {name: _fill(value, entry) for name, value in spec["fields"].items()}
            headers["Content-Type"] = _CONTENT_TYPES[spec["body"]]
            if spec["body"] == "json":
                body = json.dumps(fields, separators=(",", ":")).encode()
            else:
                body = urlencode(fields).encode()
        delays: List[float] = spec.get("retryDelays", [])
        attempt = 0
        while True:
            try:
                status, raw = self._exchange(method, url, headers, body)
            except OSError as exc:  # the pool's ConnectError, UpstreamTimeout and ReadError name the host only
                failure, retry = _Failure(str(exc)), True
            else:
                if 200 <= status < 300:
                    return _json_object(raw)
                failure, retry = _Failure(_http_failure(status, raw)), status == 429 or status >= 500
            if not retry or attempt == len(delays):
                raise failure
            self.sleep(delays[attempt])
            attempt += 1

    def _exchange(self, method: str, url: str, headers: Dict[str, str], body: Optional[bytes]) -> Tuple[int, bytes]:
        try:
            response = self.pool.request(method, url, headers, body, read_timeout=self.timeout)
        except ValueError as exc:
            raise _Failure(f"the token URL {_host(url)} is unusable ({exc})") from None
        with response:
            return response.status, response.read()

    def _new_entry(self, entry: Entry, data: Dict[str, Any]) -> Entry:
        spec = self.spec
        access = _string(data, spec["access"])
        if access is None:
            raise _Failure(f'the token endpoint\'s answer lacks "{spec["access"]}"')
        refresh = entry["refresh"]
        if "refresh" in spec:
            new_refresh = _string(data, spec["refresh"])
            if new_refresh is not None:
                refresh = new_refresh
            elif not spec.get("refreshOptional"):
                raise _Failure(f'the token endpoint\'s answer lacks "{spec["refresh"]}"')
        new: Entry = {"type": "oauth", "refresh": refresh, "access": access, "expires": self._expires(data)}
        for name in spec.get("keep", ()):
            if name in entry:
                new[name] = entry[name]
        for name, path in spec.get("claims", {}).items():
            claim = _jwt_claim(access, path)
            if claim is None:
                raise _Failure(f"the new access token carries no {path[-1]}")
            new[name] = claim
        if "scope" in spec:
            self._store_scope(spec["scope"], data, new)
        return new

    def _expires(self, data: Dict[str, Any]) -> int:
        spec = self.spec
        now_ms = int(time.time() * 1000)
        if "lifetimeMs" in spec:
            at = now_ms + spec["lifetimeMs"]
        else:
            field = spec.get("expiresIn") or spec["expiresAt"]
            value = data.get(field, spec.get("expiresInDefault"))
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise _Failure(f'the token endpoint\'s answer lacks a positive "{field}"')
            at = now_ms + round(value * 1000) if "expiresIn" in spec else round(value * 1000)
        return at - spec.get("marginMs", 0)

    def _store_scope(self, rule: Dict[str, Any], data: Dict[str, Any], new: Entry) -> None:
        scope = _string(data, "scope")
        if "require" in rule and rule["require"] not in (scope or "").split():
            raise _Failure(f"the token endpoint did not grant the {rule['require']} scope")
        if scope is not None:
            new[rule["store"]] = scope.split() if rule.get("list") else scope


class _Failure(Exception):
    """Why a refresh failed, in words safe to show and log."""


def _unchanged(provider: str, entry: Entry) -> Entry:
    """The refresher of a permanent token: nothing to do."""
    return entry


def _fill(template: str, entry: Entry) -> str:
    """``template`` with ``{field}`` / ``{field|default}`` replaced by string values of the stored entry."""

    def value(match: "re.Match[str]") -> str:
        found = entry.get(match.group(1))
        if isinstance(found, str) and found:
            return found
        if match.group(2) is not None:
            return match.group(2)
        raise _Failure(f'the stored login lacks "{match.group(1)}"')

    return _FIELD.sub(value, template)


def _json_object(raw: bytes) -> Dict[str, Any]:
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:
        raise _Failure("the token endpoint's answer is not JSON") from None
    if not isinstance(data, dict):
        raise _Failure("the token endpoint's answer is not a JSON object")
    return data


def _http_failure(status: int, raw: bytes) -> str:
    """``the token endpoint answered HTTP 400 (invalid_grant)``: the OAuth error code only when it looks like one."""
    try:
        code = json.loads(raw.decode("utf-8")).get("error")
    except (ValueError, AttributeError):
        code = None
    if isinstance(code, str) and _ERROR_CODE.match(code):
        return f"the token endpoint answered HTTP {status} ({code})"
    return f"the token endpoint answered HTTP {status}"


def _string(data: Dict[str, Any], field: str) -> Optional[str]:
    value = data.get(field)
    return value if isinstance(value, str) and value else None


def _jwt_claim(token: str, path: List[str]) -> Optional[str]:
    """The string at ``path`` in a JWT's payload, or None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        found: Any = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    for key in path:
        found = found.get(key) if isinstance(found, dict) else None
    return found if isinstance(found, str) and found else None


def _host(url: str) -> str:
    return urlsplit(url).netloc or "the token endpoint"
