"""pi's ``auth.json``: a cached read-only view, and the atomic one-entry write a refresh makes under pi's lock.

Shape (reference/credentials.md section 2): an object keyed by provider id whose entries are
``{"type": "api_key", "key"?: str, "env"?: {str: str}}`` or
``{"type": "oauth", "access": str, "refresh": str, "expires": epoch ms, ...}``. A missing file is
empty. Unreadable or invalid JSON reads as empty; malformed entries are left out. Each problem
becomes one warning naming the file and where, never the content.

Writing (``write_entry``, called only while holding ``lock.AuthLock``) replaces one provider's entry
and keeps the text of every other entry as it is in the file, so values pigw does not understand
survive exactly. The file is written in pi's format (2-space indent, no trailing newline) to a temp
file next to the resolved target, synced, given the old file's mode and renamed onto the target:
readers see the old file or the new one, never a torn one.
"""

import json
import math
import os
import stat
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

Entry = Dict[str, Any]


class AuthFileError(Exception):
    """auth.json cannot be read or parsed; the message says where, never what."""


class AuthFile:
    """The entries of one auth.json, checked with one ``stat`` per call, or at most every ``recheck_s`` seconds."""

    def __init__(self, path: str, recheck_s: float = 0.0) -> None:
        self.path = path
        self.recheck_s = recheck_s  # the most a change to the file (pi's login or refresh) can go unseen
        self._lock = threading.Lock()
        self._stamp: Optional[Tuple[int, int, int]] = None
        self._checked = -math.inf  # time.monotonic() of the last stat
        self._entries: Dict[str, Entry] = {}
        self._warnings: List[str] = []

    def entries(self) -> Dict[str, Entry]:
        """Provider id -> valid entry, as of the file's version at most ``recheck_s`` seconds ago."""
        now = time.monotonic()
        if now - self._checked < self.recheck_s:
            return self._entries
        try:
            st = os.stat(self.path)
            stamp: Optional[Tuple[int, int, int]] = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._reload()
            self._checked = now
            return self._entries

    def changed(self) -> None:
        """The file was just written: the next call reads it again."""
        self._checked = -math.inf

    def warnings(self) -> List[str]:
        """Problems seen in the current version of the file."""
        self.entries()
        with self._lock:
            return list(self._warnings)

    def _reload(self) -> None:
        """Read the file into new objects, then swap them in: ``entries`` hands them out without the lock."""
        self._stamp = None
        entries: Dict[str, Entry] = {}
        self._entries, self._warnings = entries, self._read(entries)

    def _read(self, entries: Dict[str, Entry]) -> List[str]:
        """Fill ``entries`` from the file; the warnings."""
        try:
            with open(self.path, "rb") as f:
                st = os.fstat(f.fileno())
                self._stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
                raw = f.read()
        except FileNotFoundError:
            return []
        except OSError as exc:
            return [f"{self.path}: cannot read ({exc.strerror}); using no stored credentials"]
        try:
            data = parse(raw)
        except AuthFileError as exc:
            return [f"{self.path}: {exc}; using no stored credentials"]
        warnings = []
        for provider, entry in data.items():
            problem = entry_problem(entry)
            if problem:
                warnings.append(f"{self.path}: entry {provider!r} {problem}; ignored")
            else:
                entries[provider] = entry
        return warnings


def parse(raw: bytes) -> Dict[str, Any]:
    """The top-level object of auth.json content (a leading BOM is ignored); AuthFileError if it is not one."""
    text = _text(raw)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AuthFileError(f"invalid JSON at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict):
        raise AuthFileError("top level is not a JSON object")
    return data


def entry_problem(entry: Any) -> Optional[str]:
    """Why pi would reject this entry, or None when it is well-formed."""
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


def create_if_missing(path: str) -> None:
    """Create auth.json as ``{}`` with mode 0600 (its folder 0700) unless it exists, as pi does before locking."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as f:
        f.write(b"{}")


def read_object(target: str) -> Dict[str, Any]:
    """The whole object in the file at ``target``, read now (no cache); AuthFileError when unusable."""
    try:
        with open(target, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise AuthFileError(f"cannot read ({exc.strerror})") from None
    return parse(raw)


def write_entry(target: str, provider: str, entry: Entry) -> None:
    """Set ``provider``'s entry in the file at ``target`` (a resolved path) atomically, keeping all else.

    The file is re-read here; every other entry keeps its key and value text byte for byte. Raises
    AuthFileError when the file cannot be read or parsed, OSError when it cannot be written; either
    way the file is unchanged.
    """
    try:
        with open(target, "rb") as f:
            mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
            raw = f.read()
    except OSError as exc:
        raise AuthFileError(f"cannot read ({exc.strerror})") from None
    parse(raw)  # the same validity check as every reader
    members = _members(_text(raw))
    key_text = members[provider][0] if provider in members else json.dumps(provider)
    members[provider] = (key_text, json.dumps(entry, indent=2).replace("\n", "\n  "))
    if members:
        text = "{\n" + ",\n".join(f"  {key}: {value}" for key, value in members.values()) + "\n}"
    else:
        text = "{}"
    _replace(target, text.encode("utf-8"), mode)


def _text(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AuthFileError(f"not UTF-8 at byte {exc.start}") from None
    return text[1:] if text.startswith("\ufeff") else text


def _members(text: str) -> Dict[str, Tuple[str, str]]:
    """Key -> (key text, value text) of a valid top-level JSON object, in JSON.parse's order and precedence."""
    decoder = json.JSONDecoder()
    members: Dict[str, Tuple[str, str]] = {}
    at = _skip(text, _skip(text, 0) + 1)  # past "{"
    while text[at] != "}":
        key, key_end = decoder.raw_decode(text, at)
        start = _skip(text, _skip(text, key_end) + 1)  # past ":"
        end = decoder.raw_decode(text, start)[1]
        members[key] = (text[at:key_end], text[start:end])  # a repeated key: the last value, in the first place
        at = _skip(text, end)
        if text[at] == ",":
            at = _skip(text, at + 1)
    return members


def _skip(text: str, at: int) -> int:
    """The index of the first non-whitespace character at or after ``at``."""
    while at < len(text) and text[at] in " \t\n\r":
        at += 1
    return at


def _replace(target: str, data: bytes, mode: int) -> None:
    """Write ``data`` to a temp file beside ``target``, sync it, give it ``mode`` and rename it onto ``target``."""
    folder = os.path.dirname(target)
    fd, temp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    if os.name != "nt":  # make the rename itself durable; Windows cannot open a directory
        try:
            dir_fd = os.open(folder, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        except OSError:
            pass
        finally:
            os.close(dir_fd)
