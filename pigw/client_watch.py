"""Watching the clients of requests in flight: one thread notices a client that went away and cancels
its request (closing the upstream socket), and writes keepalives into streams that have been silent.

A handler registers its connection for the length of one request (``watch``) and writes every
stream frame through ``Watch.write`` so keepalives never land in the middle of a frame.
"""

import selectors
import socket
import threading
import time
from typing import Dict, Optional, Set

from pigw.core import Cancel

_TICK = 0.25  # seconds between looks: disconnects are noticed within about this
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)  # the peek must not wait, also on a blocking socket


class Watch:
    """One request's connection as the watcher sees it."""

    __slots__ = ("sock", "cancel", "keepalive", "interval", "lock", "last_write", "streaming", "done")

    def __init__(self, sock: socket.socket, cancel: Cancel, interval: float) -> None:
        self.sock = sock
        self.cancel = cancel
        self.keepalive: Optional[bytes] = None  # an already-framed HTTP chunk, set once a stream started
        self.interval = interval
        self.lock = threading.Lock()
        self.last_write = time.monotonic()
        self.streaming = False
        self.done = False

    def write(self, data: bytes) -> None:
        """Write to the client between keepalives (raises OSError when the client is gone)."""
        with self.lock:
            self.sock.sendall(data)
            self.last_write = time.monotonic()


class ClientWatcher:
    def __init__(self, keepalive_interval: float) -> None:
        self.keepalive_interval = keepalive_interval  # 0: no keepalives
        self._selector = selectors.DefaultSelector()
        self._watches: Dict[int, Watch] = {}
        self._added: Dict[int, Watch] = {}
        self._live: Set[Watch] = set()  # requests in flight
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._stopping = threading.Event()

    def watch(self, sock: socket.socket, cancel: Cancel) -> Watch:
        """Start watching this request's client; call ``unwatch`` when the response is complete."""
        watch = Watch(sock, cancel, self.keepalive_interval)
        with self._lock:
            self._added[sock.fileno()] = watch
            self._live.add(watch)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pigw-client-watch", daemon=True)
                self._thread.start()
        return watch

    def unwatch(self, watch: Watch) -> None:
        watch.done = True
        with self._lock:
            self._live.discard(watch)

    def cancel_all(self, reason: str) -> None:
        """Cancel every request in flight (shutting down): their streams end with an error frame."""
        with self._lock:
            live = list(self._live)
        for watch in live:
            watch.cancel.cancel(reason)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is in flight; False when timeout passed first."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if not self._live:
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def stop(self) -> None:
        self._stopping.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._sync()
            if self._watches:
                for key, _events in self._selector.select(_TICK):
                    self._readable(key.fileobj, key.data)
            else:
                time.sleep(_TICK)
            self._keep_alive()

    def _sync(self) -> None:
        """Take in new watches and drop finished ones (only this thread touches the selector)."""
        with self._lock:
            added, self._added = self._added, {}
        for fd, watch in list(self._watches.items()):
            if watch.done or fd in added:
                self._forget(fd)
        for fd, watch in added.items():
            if watch.done:
                continue
            try:
                self._selector.register(watch.sock, selectors.EVENT_READ, watch)
            except (ValueError, OSError):
                continue
            self._watches[fd] = watch

    def _readable(self, sock, watch: Watch) -> None:
        if watch.done:
            return
        try:
            gone = sock.recv(1, socket.MSG_PEEK | _DONTWAIT) == b""
        except BlockingIOError:
            return
        except OSError:
            gone = True
        if gone:
            watch.cancel.cancel()
        self._forget(sock.fileno())  # gone, or a pipelined next request: nothing more to watch for

    def _keep_alive(self) -> None:
        if not self.keepalive_interval:
            return
        now = time.monotonic()
        for fd, watch in list(self._watches.items()):
            if watch.keepalive is None or watch.done or now - watch.last_write < watch.interval:
                continue
            if not watch.lock.acquire(blocking=False):
                continue
            try:
                if not watch.done:
                    watch.sock.sendall(watch.keepalive)
                    watch.last_write = now
            except OSError:
                watch.cancel.cancel()
                self._forget(fd)
            finally:
                watch.lock.release()

    def _forget(self, fd: int) -> None:
        watch = self._watches.pop(fd, None)
        if watch is not None:
            try:
                self._selector.unregister(watch.sock)
            except (KeyError, ValueError, OSError):
                pass
