"""pigw's log: JSON lines on stderr (or a file), filtered by level. Callers pass only secret-free fields.

With ``hold_s``, debug and info lines (the access log) are held for up to that long and written
together by a background thread: one write for many requests instead of one per request, each a
system call that under load hands the GIL to another thread. Holding a line takes no lock, so a
request never waits for a write in progress. A warn or error line goes out at once, after the lines
held before it; ``flush`` writes what is held (at shutdown).
"""

import collections
import json
import re
import sys
import threading
import time
from typing import Any, Deque, Iterable, List, Optional, TextIO

LEVELS = {"debug": 10, "info": 20, "warn": 30, "error": 40}
_AT_ONCE = LEVELS["warn"]  # lines at this level and above are never held
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)  # made once: json.dumps with options makes one per call


class Log:
    def __init__(self, level: str = "info", stream: Optional[TextIO] = None, hold_s: float = 0.0) -> None:
        self.threshold = LEVELS[level]
        self.stream = stream or sys.stderr
        self._hold_s = hold_s
        self._held: Deque[str] = collections.deque()  # append and popleft are atomic: no lock to hold a line
        self._holding = threading.Event()  # set while lines are held
        self._writing = threading.Lock()  # one write at a time, each with the lines held before it
        self._writer: Optional[threading.Thread] = None
        self._starting = threading.Lock()

    def enabled(self, level: str) -> bool:
        return LEVELS[level] >= self.threshold

    def write(self, level: str, event: str, **fields: Any) -> None:
        """One JSON line: time, level, event, then the fields in the order given."""
        rank = LEVELS[level]
        if rank < self.threshold:
            return
        record = {"time": _now(), "level": level, "event": event}
        record.update(fields)
        line = _ENCODER.encode(record) + "\n"
        if self._hold_s and rank < _AT_ONCE:
            self._held.append(line)
            if not self._holding.is_set():
                self._start_holding()
            return
        with self._writing:
            self._emit(self._take_held() + line)

    def flush(self) -> None:
        """Write the lines held so far."""
        with self._writing:
            held = self._take_held()
            if held:
                self._emit(held)

    def _start_holding(self) -> None:
        self._holding.set()
        if self._writer is None:
            with self._starting:
                if self._writer is None:
                    self._writer = threading.Thread(target=self._write_held, name="pigw-log", daemon=True)
                    self._writer.start()

    def _write_held(self) -> None:
        while True:
            self._holding.wait()
            time.sleep(self._hold_s)
            self._holding.clear()  # before taking the lines: one held after this sets it again
            self.flush()

    def _take_held(self) -> str:
        held = self._held
        return "".join([held.popleft() for _ in range(len(held))])

    def _emit(self, text: str) -> None:
        try:
            self.stream.write(text)
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
    millis = int(time.time() * 1000)
    second, text = _SECOND[0]
    if millis // 1000 != second:
        second = millis // 1000
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _SECOND[0] = (second, text)  # one tuple swapped whole: threads see an old second or the new one
    return text + ".%03dZ" % (millis % 1000)


_SECOND = [(-1, "")]  # the last second _now formatted, and its text


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
