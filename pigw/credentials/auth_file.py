"""Read-only view of pi's ``auth.json``: parsed once, re-parsed only when the file changes.

Shape (reference/credentials.md section 2): an object keyed by provider id whose entries are
``{"type": "api_key", "key"?: str, "env"?: {str: str}}`` or
``{"type": "oauth", "access": str, "refresh": str, "expires": epoch ms, ...}``. A missing file is
empty. Unreadable or invalid JSON reads as empty; malformed entries are left out. Each problem
becomes one warning naming the file and where, never the content.
"""

import json
import math
import os
import threading
from typing import Any, Dict, List, Optional, Tuple

Entry = Dict[str, Any]


class AuthFile:
    """The entries of one auth.json, checked with one ``stat`` per call."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: Optional[Tuple[int, int, int]] = None
        self._entries: Dict[str, Entry] = {}
        self._warnings: List[str] = []

    def entries(self) -> Dict[str, Entry]:
        """Provider id -> valid entry, as of the file's current version."""
        try:
            st = os.stat(self.path)
            stamp: Optional[Tuple[int, int, int]] = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._reload()
            return self._entries

    def warnings(self) -> List[str]:
        """Problems seen in the current version of the file."""
        self.entries()
        with self._lock:
            return list(self._warnings)

    def _reload(self) -> None:
        self._entries, self._warnings, self._stamp = {}, [], None
        try:
            with open(self.path, "rb") as f:
                st = os.fstat(f.fileno())
                self._stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
                raw = f.read()
        except FileNotFoundError:
            return
        except OSError as exc:
            self._warnings.append(f"{self.path}: cannot read ({exc.strerror}); using no stored credentials")
            return
        data = self._parse(raw)
        if data is None:
            return
        for provider, entry in data.items():
            problem = _entry_problem(entry)
            if problem:
                self._warnings.append(f"{self.path}: entry {provider!r} {problem}; ignored")
            else:
                self._entries[provider] = entry

    def _parse(self, raw: bytes) -> Optional[Dict[str, Any]]:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self._warnings.append(f"{self.path}: not UTF-8 at byte {exc.start}; using no stored credentials")
            return None
        if text.startswith("\ufeff"):
            text = text[1:]
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            self._warnings.append(
                f"{self.path}: invalid JSON at line {exc.lineno} column {exc.colno}; using no stored credentials"
            )
            return None
        if not isinstance(data, dict):
            self._warnings.append(f"{self.path}: top level is not a JSON object; using no stored credentials")
            return None
        return data


def _entry_problem(entry: Any) -> Optional[str]:
    if not isinstance(entry, dict):
        return "is not an object"
    kind = entry.get("type")
    if kind == "api_key":
        if "key" in entry and not isinstance(entry["key"], str):
            return "has a non-string key"
        env = entry.get("env", {})
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            return "has an env that is not a map of strings"
        return None
    if kind == "oauth":
        expires = entry.get("expires")
        if not (isinstance(entry.get("access"), str) and isinstance(entry.get("refresh"), str)):
            return "lacks string access/refresh tokens"
        if isinstance(expires, bool) or not isinstance(expires, (int, float)) or not math.isfinite(expires):
            return "lacks a numeric expires"
        return None
    return "has an unknown type"
