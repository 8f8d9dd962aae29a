"""One gateway per auth dir: `gateway.pid` next to auth.json, created exclusively, holding the pid and URL.

A file left by a process that no longer runs is stale and taken over. Portable: exclusive create
(`O_CREAT | O_EXCL`), and a liveness check that never signals the other process.
"""

import json
import os
from typing import Optional


class AlreadyRunning(Exception):
    """Another live pigw holds this auth dir; the message says where it runs."""


class PidFile:
    def __init__(self, auth_dir: str) -> None:
        self.path = os.path.join(auth_dir, "gateway.pid")
        self._held = False

    def acquire(self) -> None:
        """Create the file for this process; take over a stale one; raise AlreadyRunning for a live one."""
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        for _attempt in range(2):
            try:
                descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                holder = self._read() or {}
                pid = holder.get("pid")
                if isinstance(pid, int) and pid != os.getpid() and _alive(pid):
                    raise AlreadyRunning(
                        "another pigw (pid %d) already serves %s at %s; stop it first, or use another --auth-dir."
                        % (pid, os.path.dirname(self.path), holder.get("url") or "an unknown address")
                    ) from None
                try:
                    os.remove(self.path)
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(descriptor, "w") as handle:
                json.dump({"pid": os.getpid()}, handle)
            self._held = True
            return
        raise AlreadyRunning("could not create %s (another pigw is starting?)" % self.path)

    def record_url(self, url: str) -> None:
        """Add the URL once the server listens, so a second start can say where the first one runs."""
        if self._held:
            temporary = self.path + ".tmp"
            with open(temporary, "w") as handle:
                json.dump({"pid": os.getpid(), "url": url}, handle)
            os.replace(temporary, self.path)

    def release(self) -> None:
        """Remove the file if it is still this process's."""
        if not self._held:
            return
        self._held = False
        holder = self._read()
        if holder is not None and holder.get("pid") == os.getpid():
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass

    def _read(self) -> Optional[dict]:
        try:
            with open(self.path) as handle:
                value = json.load(handle)
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None


def _alive(pid: int) -> bool:
    if os.name == "nt":
        return _alive_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _alive_windows(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    code = ctypes.c_ulong()
    running = kernel32.GetExitCodeProcess(handle, ctypes.byref(code)) and code.value == 259  # STILL_ACTIVE
    kernel32.CloseHandle(handle)
    return bool(running)
