"""One ``Config``, layered: defaults < <auth dir>/gateway.json < --config file < environment < flags.

Config files are JSON objects with camelCase keys (``port``, ``bind``, ``logLevel``,
``modelAllowlist``, ``modelDenylist``, ``upstreamTimeoutMs`` (alias ``firstByteTimeoutMs``),
``streamIdleTimeoutMs``, ``connectTimeoutMs``,
``maxBodyBytes``, ``allowedHosts``, ``apiKey``, ``caBundle``, ``demo``, ``strictParams``,
``keepaliveSeconds``, ``idleTimeoutSeconds``, ``maxConnections``, ``upstreamRetries``, ``rateLimit``,
``providerConcurrency``, ``clientProfiles``, ``allowOrigins``, ``requireKeyOnLoopback``, ``logFile``,
``logBodies``, ``readOnlyAuth``, ``exposeOAuthSubscriptions``, ``allowRemoteImages``,
``remoteImageMaxBytes``). The gateway's own API key comes only from files or the environment
(``PIGW_API_KEY``, ``PI_GATEWAY_API_KEY``), never argv.
The auth dir is ``--auth-dir``, else ``$PI_CODING_AGENT_DIR``, else ``~/.pi/agent``.
"""

import functools
import ipaddress
import json
import os
from typing import Any, Dict, List, Mapping, Optional

from pigw.log import LEVELS

_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")
REASONING_FIELDS = ("reasoning_content", "reasoning", "both")  # client profiles (api/client_profiles.py)
KEEPALIVE_STYLES = ("delta", "comment", "off")


class ConfigError(Exception):
    """A setting that cannot be used; the message says which and why."""


# key in files -> (attribute, type check, description for errors)
_FIELDS = {
    "port": ("port", "port", "an integer from 0 to 65535"),
    "bind": ("bind", "str", "a host name or address"),
    "logLevel": ("log_level", "level", "one of " + ", ".join(LEVELS)),
    "modelAllowlist": ("model_allowlist", "strlist", "an array of model ids"),
    "modelDenylist": ("model_denylist", "strlist", "an array of model ids"),
    "upstreamTimeoutMs": ("upstream_timeout_ms", "posint", "a positive integer"),
    "firstByteTimeoutMs": ("upstream_timeout_ms", "posint", "a positive integer"),
    "streamIdleTimeoutMs": ("stream_idle_timeout_ms", "posint", "a positive integer"),
    "connectTimeoutMs": ("connect_timeout_ms", "posint", "a positive integer"),
    "maxBodyBytes": ("max_body_bytes", "posint", "a positive integer"),
    "allowedHosts": ("allowed_hosts", "strlist", "an array of host names"),
    "apiKey": ("api_key", "str", "a string"),
    "caBundle": ("ca_bundle", "str", "a file path"),
    "demo": ("demo", "bool", "true or false"),
    "strictParams": ("strict_params", "bool", "true or false"),
    "keepaliveSeconds": ("keepalive_seconds", "nonneg", "a number of seconds (0 turns keepalives off)"),
    "idleTimeoutSeconds": ("idle_timeout_seconds", "positive", "a positive number of seconds"),
    "maxConnections": ("max_connections", "posint", "a positive integer"),
    "upstreamRetries": ("upstream_retries", "count", "a whole number (0 turns retries off)"),
    "rateLimit": ("rate_limit", "posint", "a positive number of requests a minute per client key"),
    "providerConcurrency": ("provider_concurrency", "limits", 'an object like {"anthropic": 2, "*": 8}'),
    "clientProfiles": (
        "client_profiles",
        "profiles",
        'an object like {"my-app": {"userAgent": ["myapp/"], "reasoningField": "reasoning", "keepalive": "comment"}}'
        " (reasoningField: %s; keepalive: %s)" % (" | ".join(REASONING_FIELDS), " | ".join(KEEPALIVE_STYLES)),
    ),
    "allowOrigins": ("allow_origins", "strlist", 'an array of origins such as "http://localhost:3000" or "*"'),
    "requireKeyOnLoopback": ("require_key_on_loopback", "bool", "true or false"),
    "logFile": ("log_file", "str", "a file path"),
    "logBodies": ("log_bodies", "bool", "true or false"),
    "readOnlyAuth": ("read_only_auth", "bool", "true or false"),
    "exposeOAuthSubscriptions": ("expose_oauth_subscriptions", "bool", "true or false"),
    "allowRemoteImages": ("allow_remote_images", "bool", "true or false"),
    "remoteImageMaxBytes": ("remote_image_max_bytes", "posint", "a positive integer"),
}
_ENV = (
    ("PIGW_PORT", "port"),
    ("PIGW_BIND", "bind"),
    ("PIGW_LOG_LEVEL", "logLevel"),
    ("PIGW_UPSTREAM_TIMEOUT_MS", "upstreamTimeoutMs"),
    ("PI_GATEWAY_API_KEY", "apiKey"),
    ("PIGW_API_KEY", "apiKey"),
)


class Config:
    def __init__(self) -> None:
        self.port = 4000
        self.bind = "127.0.0.1"
        self.auth_dir = ""
        self.log_level = "info"
        self.model_allowlist: List[str] = []
        self.model_denylist: List[str] = []
        # Request sent to the upstream's first byte: a non-stream answer's head comes when it is complete.
        self.upstream_timeout_ms = 600000
        self.stream_idle_timeout_ms = 120000  # the most silence between two reads of an upstream body
        self.connect_timeout_ms = 10000
        self.max_body_bytes = 16 * 1024 * 1024
        self.allowed_hosts: List[str] = []
        self.api_key: Optional[str] = None
        self.ca_bundle: Optional[str] = None
        self.demo = False
        self.strict_params = False
        self.keepalive_seconds = 15.0
        self.idle_timeout_seconds = 30.0  # to send a request's head and body, and between keep-alive requests
        self.max_connections = 256
        self.upstream_retries = 2
        self.rate_limit: Optional[int] = None
        self.provider_concurrency: Dict[str, int] = {}
        self.client_profiles: Dict[str, Dict[str, Any]] = {}  # added to or replacing the built-in profiles
        self.allow_origins: List[str] = []
        self.require_key_on_loopback = False
        self.log_file: Optional[str] = None
        self.log_bodies = False  # request and response bodies in the log, secrets scrubbed, each capped
        self.read_only_auth = False  # never write auth.json (expired OAuth tokens then answer 401)
        self.expose_oauth_subscriptions = False  # serve subscription models on non-loopback binds too
        self.allow_remote_images = False  # fetch http(s) image URLs of requests (public addresses only)
        # 20 MiB: OpenAI's own per-image limit, the largest any provider pigw speaks accepts.
        self.remote_image_max_bytes = 20 * 1024 * 1024
        self.sources: List[str] = []  # the config files that were read, in order

    def __repr__(self) -> str:
        return "Config(port=%r, bind=%r, auth_dir=%r, api_key=%s)" % (
            self.port,
            self.bind,
            self.auth_dir,
            "set" if self.api_key else "unset",
        )


def load(flags: Mapping[str, Any], environ: Optional[Mapping[str, str]] = None) -> Config:
    """Build the Config from every layer. ``flags`` holds only the flags the user gave (file-style keys)."""
    environ = os.environ if environ is None else environ
    config = Config()
    config.auth_dir = agent_dir(flags.get("authDir"), environ)
    _apply_file(config, os.path.join(config.auth_dir, "gateway.json"), required=False)
    if flags.get("config"):
        _apply_file(config, os.path.expanduser(flags["config"]), required=True)
    for name, key in _ENV:
        value = environ.get(name)
        if value:
            _set(config, key, value if key in ("bind", "apiKey") else _env_value(key, value, name), "$" + name)
    for key, value in flags.items():
        if key in _FIELDS:
            _set(config, key, value, "--" + key)
    config.allowed_hosts = [host.lower() for host in config.allowed_hosts]
    return config


@functools.lru_cache(maxsize=256)  # asked for each request's Host header
def is_loopback(host: str) -> bool:
    """Whether a host name or address (IPv6 in brackets or not) is this machine's loopback."""
    host = host.strip("[]")
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def agent_dir(flag: Optional[str], environ: Mapping[str, str]) -> str:
    """pi's agent dir: the flag, else $PI_CODING_AGENT_DIR, else ~/.pi/agent (with ~ expanded)."""
    chosen = flag or environ.get("PI_CODING_AGENT_DIR") or os.path.join("~", ".pi", "agent")
    return os.path.abspath(os.path.expanduser(chosen))


def _apply_file(config: Config, path: str, required: bool) -> None:
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        if required:
            raise ConfigError("Config file %s does not exist." % path) from None
        return
    except OSError as exc:
        raise ConfigError("Cannot read config file %s: %s" % (path, exc.strerror)) from None
    try:
        values = json.loads(raw.decode("utf-8-sig"))
    except ValueError as exc:
        raise ConfigError("Config file %s is not valid JSON: %s" % (path, exc)) from None
    if not isinstance(values, dict):
        raise ConfigError("Config file %s must hold a JSON object." % path)
    for key, value in values.items():
        if key not in _FIELDS:
            continue
        _set(config, key, value, path)
    config.sources.append(path)


def _set(config: Config, key: str, value: Any, source: str) -> None:
    attribute, kind, description = _FIELDS[key]
    if not _valid(kind, value):
        shown = "(hidden)" if key == "apiKey" else json.dumps(value)
        raise ConfigError("%s: %s must be %s, not %s." % (source, key, description, shown))
    if kind == "strlist":
        value = list(value)
    elif kind in ("limits", "profiles"):
        value = dict(value)
    setattr(config, attribute, value)


def _valid(kind: str, value: Any) -> bool:
    if kind == "str":
        return isinstance(value, str) and bool(value)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "strlist":
        return isinstance(value, list) and all(isinstance(item, str) and item for item in value)
    if kind == "level":
        return value in LEVELS
    if kind == "limits":
        return isinstance(value, dict) and all(
            isinstance(number, int) and not isinstance(number, bool) and number > 0 for number in value.values()
        )
    if kind == "profiles":
        return isinstance(value, dict) and all(_valid_profile(entry) for entry in value.values())
    if kind == "count":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if kind in ("nonneg", "positive"):
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return number and (value >= 0 if kind == "nonneg" else value > 0)
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return 0 <= value <= 65535 if kind == "port" else value > 0


def _valid_profile(entry: Any) -> bool:
    if not isinstance(entry, dict) or not set(entry) <= {"userAgent", "reasoningField", "keepalive"}:
        return False
    user_agent = entry.get("userAgent", [])
    return (
        _valid("strlist", user_agent)
        and entry.get("reasoningField", REASONING_FIELDS[0]) in REASONING_FIELDS
        and entry.get("keepalive", KEEPALIVE_STYLES[0]) in KEEPALIVE_STYLES
    )


def _env_value(key: str, value: str, name: str) -> Any:
    kind = _FIELDS[key][1]
    if kind in ("port", "posint"):
        try:
            return int(value)
        except ValueError:
            raise ConfigError("$%s must be an integer, not %r." % (name, value)) from None
    return value
