"""Client profiles: the stream details clients disagree on, picked per request.

A profile says which field carries reasoning text (``reasoning_content``, ``reasoning``, or
``both`` with the same text) and how a silent stream is kept alive (``delta``: an empty-delta
chunk; ``comment``: an SSE comment line; ``off``). The ``x-pigw-client`` header names a profile;
else the first profile whose User-Agent substrings match; else ``default``. The headers
``x-pigw-reasoning-field`` and ``x-pigw-keepalive`` override one field each. Built-in profiles are
data (``data/client_profiles.json``); config ``clientProfiles`` adds profiles or replaces them by name.
"""

import json
import pkgutil
from typing import Any, Dict, List, Optional

from pigw.config import KEEPALIVE_STYLES, REASONING_FIELDS
from pigw.errors import invalid_request

__all__ = ["DEFAULT", "Profile", "Profiles"]


class Profile:
    __slots__ = ("name", "user_agent", "reasoning_field", "keepalive")

    def __init__(self, name: str, reasoning_field: str, keepalive: str, user_agent: Optional[List[str]] = None) -> None:
        self.name = name
        self.reasoning_field = reasoning_field
        self.keepalive = keepalive
        self.user_agent = [part.lower() for part in user_agent or ()]

    def with_fields(self, reasoning_field: Optional[str], keepalive: Optional[str]) -> "Profile":
        return Profile(self.name, reasoning_field or self.reasoning_field, keepalive or self.keepalive)


DEFAULT = Profile("default", "reasoning_content", "delta")


class Profiles:
    """The built-in profiles with the configured ones laid over them (configured first, so they match first)."""

    def __init__(self, configured: Optional[Dict[str, Dict[str, Any]]] = None) -> None:
        data = json.loads(pkgutil.get_data("pigw", "data/client_profiles.json") or b"{}")
        builtin = {entry["name"]: entry for entry in data["profiles"]}
        configured = configured or {}
        default = dict(data["default"], name="default", **configured.get("default", {}))
        entries: Dict[str, Dict[str, Any]] = {}
        for name, settings in configured.items():
            if name != "default":
                entries[name] = dict(builtin.get(name, default), name=name, **settings)
        for name, entry in builtin.items():
            entries.setdefault(name, entry)
        self.default = _profile(default)
        self.by_name = {name: _profile(entry) for name, entry in entries.items()}
        self.by_name["default"] = self.default
        self._matching = [profile for profile in self.by_name.values() if profile.user_agent]

    def pick(self, headers) -> Profile:
        """This request's profile; a 400 for an unknown profile name or field value in the override headers."""
        named = headers.get("x-pigw-client")
        if named:
            profile = self.by_name.get(named.strip().lower())
            if profile is None:
                raise invalid_request(
                    "x-pigw-client names no client profile (known: %s)." % ", ".join(sorted(self.by_name)),
                    "x-pigw-client",
                )
        else:
            profile = self._match((headers.get("user-agent") or "").lower())
        reasoning = _override(headers, "x-pigw-reasoning-field", REASONING_FIELDS)
        keepalive = _override(headers, "x-pigw-keepalive", KEEPALIVE_STYLES)
        if reasoning or keepalive:
            return profile.with_fields(reasoning, keepalive)
        return profile

    def _match(self, user_agent: str) -> Profile:
        if user_agent:
            for profile in self._matching:
                for part in profile.user_agent:
                    if part in user_agent:
                        return profile
        return self.default


def _profile(entry: Dict[str, Any]) -> Profile:
    return Profile(entry["name"], entry["reasoningField"], entry["keepalive"], entry.get("userAgent"))


def _override(headers, name: str, allowed) -> Optional[str]:
    value = headers.get(name)
    if value is None:
        return None
    value = value.strip().lower()
    if value not in allowed:
        raise invalid_request("%s must be one of %s." % (name, ", ".join(allowed)), name)
    return value
