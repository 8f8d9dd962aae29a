"""A loopback OAuth token endpoint for the refresh tests: counts calls, rotates refresh tokens, fails on demand."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple
from urllib.parse import parse_qs

Reply = Tuple[int, Any]  # (status, JSON value or raw bytes)


class Call(NamedTuple):
    method: str
    path: str
    headers: Dict[str, str]  # lower-case names
    body: bytes


class TokenServer:
    """Answers every request on 127.0.0.1 with ``reply(n, call)`` (n counts from 1), after ``delay`` seconds.

    The default reply rotates: call n must present the refresh token of call n-1 (``refresh-<n-1>``,
    or ``initial_refresh`` for the first) in a JSON or form body, and gets ``access-<n>`` and
    ``refresh-<n>`` valid for an hour; any other refresh token gets 400 ``invalid_grant``, so a
    rotated token that was not saved before the next refresh shows up as a failure.
    """

    def __init__(self, initial_refresh: str = "refresh-0") -> None:
        self.calls: List[Call] = []
        self.delay = 0.0
        self.reply: Callable[[int, Call], Reply] = self.rotate
        self.initial_refresh = initial_refresh
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.owner = self  # type: ignore[attr-defined]
        self.base_url = "http://127.0.0.1:%d" % self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()

    def url(self, provider: str) -> str:
        return f"{self.base_url}/token/{provider}"

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(2)

    def hang(self, n: int, call: Call) -> Reply:
        """A reply that never comes (until close)."""
        self._release.wait(10)
        return 500, {}

    def rotate(self, n: int, call: Call) -> Reply:
        expected = self.initial_refresh if n == 1 else f"refresh-{n - 1}"
        if presented_refresh(call) != expected:
            return 400, {"error": "invalid_grant", "error_description": "refresh token reused"}
        return 200, {"access_token": f"access-{n}", "refresh_token": f"refresh-{n}", "expires_in": 3600}

    def _answer(self, call: Call) -> Reply:
        with self._lock:
            self.calls.append(call)
            n = len(self.calls)
        if self.delay:
            time.sleep(self.delay)
        return self.reply(n, call)


def presented_refresh(call: Call) -> Optional[str]:
    """The refresh token a call sent in its JSON or form body."""
    if call.headers.get("content-type") == "application/json":
        value = json.loads(call.body or b"{}").get("refresh_token")
        return value if isinstance(value, str) else None
    values = parse_qs(call.body.decode()).get("refresh_token")
    return values[0] if values else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle and delayed ACKs add 40 ms a call.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        call = Call(self.command, self.path, headers, body)
        status, value = self.server.owner._answer(call)  # type: ignore[attr-defined]
        data = value if isinstance(value, bytes) else json.dumps(value).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (the hang test)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass
