"""pi's config-value resolution (``resolveConfigValue``) for keys and header values.

A value is one of (reference/credentials.md section 3):

* ``!command`` -- run through the shell (stdin closed, stderr dropped, ``COMMAND_TIMEOUT`` seconds);
  the value is stdout stripped; a non-zero exit, a timeout or empty output give no value.
* a template -- any text containing ``$``: ``$NAME`` and ``${NAME}`` are replaced by the variable
  from the lookup mapping (the auth.json entry's ``env`` over the process environment); ``$$`` is
  ``$``, ``$!`` is ``!``, any other ``$`` stays literal; a referenced variable that is unset or
  empty gives no value for the whole template.
* anything else -- a literal, with one backward-compatible exception: older pi versions documented
  a key that is just the NAME of an environment variable (``"key": "OPENAI_API_KEY"``). A plain
  value matching ``^[A-Z][A-Z0-9_]*$`` whose variable is set and non-empty resolves to that
  variable's value; otherwise it stays the literal text.

"No value" is ``None``; an empty result is also ``None``.
"""

import re
import threading
from typing import Dict, List, Mapping, Optional

COMMAND_TIMEOUT = 10.0  # seconds, as pi's execSync

_REFERENCE = re.compile(r"\$(?:(\$)|(!)|\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_LEGACY_NAME = re.compile(r"[A-Z][A-Z0-9_]*\Z")


def resolve(value: str, lookup: Mapping[str, str], commands: Optional["CommandCache"] = None) -> Optional[str]:
    """The value ``value`` stands for, or None; commands go through ``commands`` when given (cached)."""
    if is_command(value):
        command = value[1:]
        return commands.run(command) if commands is not None else run_command(command)
    if "$" in value:
        return _expand(value, lookup)
    if _LEGACY_NAME.match(value) and lookup.get(value):
        return lookup[value]
    return value or None


def is_command(value: str) -> bool:
    """Whether ``value`` is a ``!command`` (which counts as configured without being run)."""
    return value.startswith("!")


def why_unresolved(value: str, lookup: Mapping[str, str]) -> str:
    """A secret-free reason why ``value`` gave nothing (names variables, never the command text)."""
    if is_command(value):
        return "its shell command failed, timed out or printed nothing"
    missing = _missing_names(value, lookup)
    if missing:
        return "environment variable {} is unset or empty".format(", ".join(missing))
    return "it is empty"


def run_command(command: str) -> Optional[str]:
    """Run ``command`` through the shell; stdout stripped, or None on failure, timeout or no output."""
    import subprocess  # here: most gateways never run a key command, and the module costs memory

    try:
        done = subprocess.run(
            command,
            shell=True,
            stdin=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            timeout=COMMAND_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "replace").strip() or None


class CommandCache:
    """Command results (failures included) kept per exact command; each command runs at most once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: Dict[str, Optional[str]] = {}
        self._running: Dict[str, threading.Lock] = {}

    def run(self, command: str) -> Optional[str]:
        with self._lock:
            if command in self._results:
                return self._results[command]
            command_lock = self._running.setdefault(command, threading.Lock())
        with command_lock:
            with self._lock:
                if command in self._results:
                    return self._results[command]
            result = run_command(command)
            with self._lock:
                self._results[command] = result
                self._running.pop(command, None)
            return result


def _expand(template: str, lookup: Mapping[str, str]) -> Optional[str]:
    parts: List[str] = []
    end = 0
    for match in _REFERENCE.finditer(template):
        parts.append(template[end : match.start()])
        end = match.end()
        dollar, bang, braced, bare = match.groups()
        if dollar or bang:
            parts.append(dollar or bang)
            continue
        found = lookup.get(braced or bare)
        if not found:
            return None
        parts.append(found)
    parts.append(template[end:])
    return "".join(parts) or None


def _missing_names(template: str, lookup: Mapping[str, str]) -> List[str]:
    names = [m.group(3) or m.group(4) for m in _REFERENCE.finditer(template) if m.group(3) or m.group(4)]
    return [name for name in names if not lookup.get(name)]
