"""pigw's log: JSON lines on stderr (or a file), filtered by level. Callers pass only secret-free fields."""

import json
import re
import sys
import threading
import time
from typing import Any, Iterable, List, Optional, TextIO

LEVELS = {"debug": 10, "info": 20, "warn": 30, "error": 40}
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)  # made once: json.dumps with options makes one per call


class Log:
    def __init__(self, level: str = "info", stream: Optional[TextIO] = None) -> None:
        self.threshold = LEVELS[level]
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()

    def enabled(self, level: str) -> bool:
        return LEVELS[level] >= self.threshold

    def write(self, level: str, event: str, **fields: Any) -> None:
        """One JSON line: time, level, event, then the fields in the order given."""
        if LEVELS[level] < self.threshold:
            return
        record = {"time": _now(), "level": level, "event": event}
        record.update(fields)
        line = _ENCODER.encode(record) + "\n"
        with self._lock:
            try:
                self.stream.write(line)
                self.stream.flush()
            except (OSError, ValueError):
                pass

    def debug(self, event: str, **fields: Any) -> None:
        self.write("debug", event, **fields)

    def info(self, event: str, **fields: Any) -> None:
        self.write("info", event, **fields)

    def warn(self, event: str, **fields: Any) -> None:
        self.write("warn", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self.write("error", event, **fields)


def _now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % (int(now * 1000) % 1000)


BODY_CAP = 65536  # characters of one logged body
_SECRET_NAME = re.compile(r"(?i)(api[_-]?key|authorization|token|secret|password|credential|cookie)")


def scrub_body(raw: bytes, secrets: Iterable[Optional[str]]) -> Any:
    """A body for --log-bodies: JSON with secret-named fields and every known secret replaced by ***, capped."""
    known = [secret for secret in secrets if secret and len(secret) >= 4]
    text = raw.decode("utf-8", "replace")
    try:
        value = _scrub_value(json.loads(text), known)
    except ValueError:
        value = _scrub_text(text, known)
    dumped = json.dumps(value, ensure_ascii=False, default=str)
    if len(dumped) > BODY_CAP:
        return {"truncated": True, "start": dumped[:BODY_CAP]}
    return value


def _scrub_value(value: Any, known: List[str]) -> Any:
    if isinstance(value, dict):
        return {
            key: "***" if _SECRET_NAME.search(key) and isinstance(item, str) else _scrub_value(item, known)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_scrub_value(item, known) for item in value]
    return _scrub_text(value, known) if isinstance(value, str) else value


def _scrub_text(text: str, known: List[str]) -> str:
    for secret in known:
        if secret in text:
            text = text.replace(secret, "***")
    return text
