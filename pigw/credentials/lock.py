"""pi's lock on auth.json, taken the way pi's ``proper-lockfile`` takes it (reference/credentials.md section 6).

The lock is the directory ``<realpath(auth.json)>.lock``, created with ``os.mkdir`` (atomic on every
platform; an existing directory means another pi or pigw holds it). A contender backs off (10 ms
doubling to 1 s, with jitter) for up to ``wait`` seconds; a directory whose mtime is older than
``stale`` seconds belongs to a holder that died, so it is removed and the ``mkdir`` retried once.
While held, a keep-alive thread touches the directory every ``touch_every`` seconds so that no
reader breaks a slow refresh as stale; if the directory vanished or its mtime changed under us,
someone else broke the lock and it is "compromised": ``check`` raises and release leaves the
directory alone. auth.json is created first (``{}``, mode 0600) when missing, because the lock
path is derived from its resolved path.
"""

import os
import random
import threading
import time
from typing import Any, Optional

from pigw.credentials.auth_file import create_if_missing

WAIT = 30.0  # seconds a contender keeps trying, as pi's refresh loop
STALE = 30.0  # seconds after which a lock nobody touches is broken, as pi's async lock
TOUCH_EVERY = 5.0  # keep-alive period: pi's sync readers break locks older than 10 s


class LockError(Exception):
    """The lock could not be taken or kept; the message names paths only."""


class LockTimeout(LockError):
    """Another process held the lock for the whole wait."""


class LockCompromised(LockError):
    """The lock directory vanished or was touched by someone else while we held it."""


class AuthLock:
    """pi's lock on one auth.json, as a context manager; ``target`` is the resolved file to write."""

    def __init__(
        self, auth_path: str, wait: float = WAIT, stale: float = STALE, touch_every: float = TOUCH_EVERY
    ) -> None:
        self.auth_path = auth_path
        self.wait = wait
        self.stale = stale
        self.touch_every = touch_every
        self.target = ""
        self.path = ""
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._mtime = 0
        self._compromised = False
        self._keeper: Optional[threading.Thread] = None

    def __enter__(self) -> "AuthLock":
        try:
            create_if_missing(self.auth_path)
        except OSError as exc:
            raise LockError(f"cannot create {self.auth_path}: {exc.strerror}") from exc
        self.target = os.path.realpath(self.auth_path)
        self.path = self.target + ".lock"
        self._acquire()
        self._keeper = threading.Thread(target=self._keep_alive, name="pigw-auth-lock", daemon=True)
        self._keeper.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join()
        with self._mutex:
            if self._compromised or not self._unchanged():
                return
            try:
                os.rmdir(self.path)
            except OSError:
                pass

    def check(self) -> None:
        """Raise ``LockCompromised`` unless the lock is still ours; call it right before writing."""
        with self._mutex:
            if self._compromised or not self._unchanged():
                self._compromised = True
                raise LockCompromised(f"the lock {self.path} was taken over while pigw held it")

    def _acquire(self) -> None:
        deadline = time.monotonic() + self.wait
        attempt = 0
        while not self._try():
            left = deadline - time.monotonic()
            if left <= 0:
                raise LockTimeout(f"{self.path} stayed locked by another process for {self.wait:g} s")
            time.sleep(min(min(0.01 * 2**attempt, 1.0) * (1 + random.random()), left))
            attempt += 1

    def _try(self) -> bool:
        """One attempt: mkdir; on contention break a stale lock and mkdir once more."""
        if self._mkdir():
            return True
        try:
            mtime = os.stat(self.path).st_mtime
        except FileNotFoundError:
            return self._mkdir()  # released between our mkdir and stat
        except OSError:
            return False
        if mtime >= time.time() - self.stale:
            return False
        try:
            os.rmdir(self.path)
        except FileNotFoundError:
            pass
        except OSError:
            return False
        return self._mkdir()

    def _mkdir(self) -> bool:
        try:
            os.mkdir(self.path)
        except FileExistsError:
            return False
        except PermissionError as exc:
            if os.name == "nt":  # Windows reports a directory being removed as access denied
                return False
            raise LockError(f"cannot create the lock {self.path}: {exc.strerror}") from exc
        except OSError as exc:
            raise LockError(f"cannot create the lock {self.path}: {exc.strerror}") from exc
        try:
            self._mtime = os.stat(self.path).st_mtime_ns
        except OSError:
            return False  # broken as stale by someone else the instant it was made
        return True

    def _keep_alive(self) -> None:
        while not self._stop.wait(self.touch_every):
            with self._mutex:
                if self._stop.is_set():
                    return
                if not self._unchanged():
                    self._compromised = True
                    return
                try:
                    os.utime(self.path)
                    self._mtime = os.stat(self.path).st_mtime_ns
                except OSError:
                    self._compromised = True
                    return

    def _unchanged(self) -> bool:
        """Whether the lock directory still exists with the mtime we last gave it (caller holds the mutex)."""
        try:
            return os.stat(self.path).st_mtime_ns == self._mtime
        except OSError:
            return False
