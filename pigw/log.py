"""pigw's log: JSON lines on stderr (or a file), filtered by level. Callers pass only secret-free fields."""

import json
import sys
import threading
import time
from typing import Any, Optional, TextIO

LEVELS = {"debug": 10, "info": 20, "warn": 30, "error": 40}


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
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
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
