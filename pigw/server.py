"""The HTTP server: keep-alive HTTP/1.1 on a ThreadingHTTPServer, the route table, guards, and response writing.

Responses go out in one write (status line, headers and body together) with Nagle off, and
streams as one HTTP chunk per SSE frame, so nothing waits on delayed ACKs. When a client goes
away mid-stream, the reply's iterator is closed, which closes the upstream request behind it.
"""

import http.client
import re
import socket
import socketserver
import threading
import time
from _operator import _compare_digest as compare_digest  # hmac's, without hashlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import unquote

from pigw import __version__
from pigw.api import Incoming, Reply, json_reply, openai_error
from pigw.api import models as models_api
from pigw.api.client_profiles import Profiles
from pigw.client_watch import ClientWatcher, Watch
from pigw.config import is_loopback
from pigw.errors import GatewayError
from pigw.ids import new_id
from pigw.limits import RateLimiter
from pigw.log import scrub_body
from pigw.net import timeouts
from pigw.net.headers import HeaderError, read_headers
from pigw.net.http import before_wait, split_host_port

_REASONS = {code: phrase for code, phrase in BaseHTTPRequestHandler.responses.items()}
_HEADER_LIST = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$")
Route = Callable[["Handler", Incoming], Reply]


class Server(ThreadingHTTPServer):
    """One listening socket serving the gateway; each connection gets a daemon thread."""

    daemon_threads = True

    def __init__(self, listener: socket.socket, gateway, config, log) -> None:
        """Serve on `listener`, a socket from pigw.listener.listen (it is closed with the server)."""
        self.watcher = ClientWatcher(config.keepalive_seconds)
        self.rate_limiter = RateLimiter(config.rate_limit) if config.rate_limit else None
        self.profiles = Profiles(config.client_profiles)
        self.active = 0  # connections being served
        self._count_lock = threading.Lock()
        self.gateway = gateway
        # BaseServer's, not TCPServer's: that one would make and bind a socket of its own.
        socketserver.BaseServer.__init__(self, listener.getsockname()[:2], Handler)
        self.socket = listener
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])
        self.config = config
        self.log = log
        gateway.log = log
        self.started = time.monotonic()
        self.loopback = is_loopback(self.server_name)
        self.port = self.server_port

    def process_request(self, request, client_address) -> None:
        """A thread per connection, up to maxConnections; beyond that a quick 503 and close."""
        with self._count_lock:
            full = self.active >= self.config.max_connections
            if not full:
                self.active += 1
        if full:
            _refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self._done_with_connection()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._done_with_connection()

    def server_close(self) -> None:
        """Stop listening and watching, and close the idle upstream connections."""
        self.watcher.stop()
        super().server_close()
        self.gateway.pool.close()

    def _done_with_connection(self) -> None:
        with self._count_lock:
            self.active -= 1

    def url(self) -> str:
        host = str(self.server_address[0])
        return "http://%s:%d" % ("[%s]" % host if ":" in host else host, self.port)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pigw/" + __version__
    server: Server
    raw_requestline: bytes  # set by BaseHTTPRequestHandler.handle_one_request

    def setup(self) -> None:
        """Nagle off; a client idle or stalled for idleTimeout loses its connection (and its thread)."""
        self.connection = self.request
        timeouts.set_timeout(self.connection, self.server.config.idle_timeout_seconds)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = timeouts.reader(self.connection)
        self.wfile = timeouts.Writer(self.connection)

    def parse_request(self) -> bool:
        """The request line and headers (without http.client's email-based header parser); False after an error."""
        self.command = None  # type: ignore[assignment]
        self.request_version = self.default_request_version
        self.close_connection = True
        line = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = line.split()
        if not words:
            return False
        if len(words) != 3:
            self.send_error(400, "Bad request syntax (%r)." % line[:200])
            return False
        command, path, version = words
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            unsupported = version.startswith("HTTP/") and version[5:6].isdigit() and version[5:6] != "0"
            self.send_error(505 if unsupported else 400, "Unsupported HTTP version (%r)." % version[:40])
            return False
        if path.startswith("//"):
            path = "/" + path.lstrip("/")
        self.command, self.path, self.request_version = command, path, version
        try:
            self.headers = read_headers(self.rfile)  # type: ignore[assignment]
        except HeaderError as error:
            self.send_error(431 if error.too_large else 400, str(error))
            return False
        connection = (self.headers.get("Connection") or "").lower()
        self.close_connection = "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection)
        if version == "HTTP/1.1" and (self.headers.get("Expect") or "").lower() == "100-continue":
            return self.handle_expect_100()
        return True

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_GET

    def log_message(self, format: str, *args) -> None:
        """Silence http.server's own lines; pigw writes its access log itself."""

    def send_error(self, code: int, message: Optional[str] = None, explain: Optional[str] = None) -> None:
        """Protocol-level errors (bad request line, oversized headers) as JSON, then close."""
        self.close_connection = True
        error = GatewayError(code, message or _REASONS.get(code, ("Error",))[0], "invalid_request_error")
        try:
            self._write(json_reply(error.openai_body(), code), None)
        except OSError:
            pass

    def _dispatch(self) -> None:
        path, _, query = self.path.partition("?")
        incoming = Incoming(self.command, path, query, self.headers, b"")
        request_id = _request_id(self.headers)
        self._body_pending = bool(
            self.headers.get("Content-Length", "0").strip("0 ") or self.headers.get("Transfer-Encoding")
        )
        watch = self.server.watcher.watch(self.connection, incoming.cancel) if self.command == "POST" else None
        try:
            reply = self._route(incoming)
        except GatewayError as error:
            reply = error_reply(path, error)
        except Exception:
            import traceback  # only ever needed here

            self.server.log.error("internal_error", id=request_id, path=path, traceback=traceback.format_exc())
            reply = error_reply(path, GatewayError(500, "Internal error in pigw; see its log.", "api_error"))
        if self._body_pending:
            self.close_connection = True  # an unread body would be taken for the next request
        reply.headers["x-request-id"] = request_id
        origin = self.headers.get("Origin")
        if origin and self.server.config.allow_origins:
            allowed = _allowed_origin(origin, self.server.config.allow_origins)
            if allowed is not None:
                reply.headers["Access-Control-Allow-Origin"] = allowed
                reply.headers["Access-Control-Expose-Headers"] = "x-request-id, x-pigw-dropped-params, Retry-After"
                reply.headers["Vary"] = "Origin"
        status = 499 if incoming.cancel.cancelled else reply.status
        sent: Optional[List[bytes]] = [] if self.server.config.log_bodies else None
        try:
            if self._write(reply, watch, sent):
                status = 499  # the client left in the middle of the stream
        except OSError:
            self.close_connection = True
            status = 499
        finally:
            if watch is not None:
                self.server.watcher.unwatch(watch)
            if reply.chunks is not None:
                reply.chunks.close()
        log = self.server.log
        if log.enabled("info"):
            log.info(
                "request",
                id=request_id,
                method=self.command,
                path=path,
                status=status,
                ms=round((time.monotonic() - incoming.started) * 1000, 2),
                headers={name: value[:256] for name, value in _logged_headers(self.headers)},
                **incoming.notes,
            )
            if sent is not None:
                secrets = (self.server.config.api_key, _presented_key(self.headers))
                log.info(
                    "bodies",
                    id=request_id,
                    request=scrub_body(incoming.body, secrets),
                    response=scrub_body(reply.body if reply.chunks is None else b"".join(sent), secrets),
                )

    def _route(self, incoming: Incoming) -> Reply:
        path = incoming.path
        self._check_host()
        methods = ROUTES.get(path)
        if methods is None and path.startswith(("/v1/models/", "/models/")):
            methods = {"GET": _retrieve_model}
        if methods is None:
            raise GatewayError(
                404,
                "Unknown path %s. pigw serves /v1/chat/completions, /v1/messages and /v1/models." % path,
                "invalid_request_error",
                "unknown_url",
            )
        route = methods.get(self.command)
        if route is None and self.command == "OPTIONS" and self.headers.get("Origin"):
            return self._preflight(methods)
        if route is None:
            allowed = ", ".join(sorted(methods))
            error = GatewayError(
                405,
                "%s is not allowed on %s; use %s." % (self.command, path, allowed),
                "invalid_request_error",
                "method_not_allowed",
            )
            error.headers["Allow"] = allowed
            raise error
        if route is not _health:
            key = self._check_key()
            if self.server.rate_limiter is not None:
                self.server.rate_limiter.check(key or self.client_address[0])
        if self.command in ("POST", "PUT", "PATCH"):
            try:
                incoming.body = self._read_body()
            except socket.timeout:
                self.close_connection = True
                raise GatewayError(
                    408, "The request body did not arrive within idleTimeoutSeconds.", "invalid_request_error"
                ) from None
        if route is not _health:
            incoming.profile = self.server.profiles.pick(self.headers)
            incoming.notes["client"] = incoming.profile.name
        return route(self, incoming)

    def _check_host(self) -> None:
        """Loopback binds answer only to loopback Host names (a defence against DNS rebinding)."""
        if not self.server.loopback:
            return
        host = self.headers.get("Host")
        if host is None:
            return
        name, port = _split_host(host)
        if port is not None and port != self.server.port:
            raise GatewayError(403, "Host header %r does not name this gateway." % host, "permission_error")
        if is_loopback(name) or name.lower() in self.server.config.allowed_hosts:
            return
        raise GatewayError(
            403,
            "Host header %r is not a loopback name; pigw refuses it (DNS rebinding)." % host,
            "permission_error",
            "forbidden_host",
        )

    def _preflight(self, methods: Dict[str, Route]) -> Reply:
        """A CORS preflight: allowed origins get the methods and the headers their browser asked for."""
        origin = self.headers.get("Origin") or ""
        allowed = _allowed_origin(origin, self.server.config.allow_origins)
        if allowed is None:
            raise GatewayError(403, "Origin %r is not allowed (see --allow-origin)." % origin, "permission_error")
        headers = {
            "Access-Control-Allow-Methods": ", ".join(sorted(set(methods) | {"OPTIONS"})),
            "Access-Control-Max-Age": "600",
        }
        asked = self.headers.get("Access-Control-Request-Headers")
        if asked and _HEADER_LIST.match(asked):
            headers["Access-Control-Allow-Headers"] = asked
        return Reply(204, headers)

    def _check_key(self) -> str:
        """The key the client presented; a 401 unless it is the gateway's key (when one is set)."""
        given = _presented_key(self.headers)
        expected = self.server.config.api_key
        if not expected:
            return given
        if not compare_digest(given.encode(), expected.encode()):
            raise GatewayError(
                401,
                "Missing or wrong API key for this gateway (send Authorization: Bearer <key>).",
                "authentication_error",
                "invalid_api_key",
            )
        return given

    def _read_body(self) -> bytes:
        self._body_pending = False
        cap = self.server.config.max_body_bytes
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked(cap)
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return b""
        try:
            length = int(length_header)
        except ValueError:
            self.close_connection = True
            raise GatewayError(400, "Content-Length is not a number.", "invalid_request_error") from None
        if length < 0:
            self.close_connection = True
            raise GatewayError(400, "Content-Length is negative.", "invalid_request_error")
        if length > cap:
            self.close_connection = True
            raise _too_large(cap)
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            raise GatewayError(400, "The request body ended early.", "invalid_request_error")
        return body

    def _read_chunked(self, cap: int) -> bytes:
        pieces: List[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise GatewayError(400, "Malformed chunked request body.", "invalid_request_error") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(pieces)
            total += size
            if total > cap:
                self.close_connection = True
                raise _too_large(cap)
            pieces.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _write(self, reply: Reply, watch: Optional[Watch], sent: Optional[List[bytes]] = None) -> bool:
        """The reply in as few writes as possible; a stream's first frames also go to ``sent`` when given.

        True when the client went away before the stream's end.
        """
        head = ["HTTP/1.1 %d %s\r\nServer: %s\r\n" % (reply.status, _reason(reply.status), self.server_version)]
        for name, value in reply.headers.items():
            head.append("%s: %s\r\n" % (name, value))
        if self.close_connection:
            head.append("Connection: close\r\n")
        write: Callable[[bytes], Any] = self.wfile.write
        if reply.chunks is None:
            head.append("Content-Length: %d\r\n\r\n" % len(reply.body))
            write("".join(head).encode("latin-1") + (b"" if self.command == "HEAD" else reply.body))
            return False
        head.append("Transfer-Encoding: chunked\r\n\r\n")
        keepalive = None
        if watch is not None:
            write = watch.write
            if reply.keepalive:
                keepalive = b"%x\r\n%s\r\n" % (len(reply.keepalive), reply.keepalive)
        # Frames are held until the upstream reader would wait (before_wait), a FLUSH comes (after the
        # first token) or the stream ends, then written as one HTTP chunk: one write per upstream read
        # instead of one per frame.
        pending = ["".join(head).encode("latin-1")]  # ready to write: the head, then framed chunks
        held: List[bytes] = []  # frames not yet framed

        def flush(end: bool = False) -> None:
            nonlocal keepalive
            if held:
                body = b"".join(held)
                held.clear()
                pending.extend((b"%x\r\n" % len(body), body, b"\r\n"))
            if end:
                pending.append(b"0\r\n\r\n")
            if pending:
                data = b"".join(pending)
                pending.clear()
                try:
                    write(data)
                except OSError as exc:
                    raise _ClientGone() from exc
                if keepalive is not None:  # keepalives may follow once the head is out
                    watch.keepalive, keepalive = keepalive, None  # type: ignore[union-attr]

        token = before_wait.set(flush)
        try:
            for chunk in reply.chunks:
                if not chunk:  # FLUSH (and a frame of nothing)
                    flush()
                    continue
                held.append(chunk)
                if sent is not None and len(sent) < _MAX_LOGGED_FRAMES:
                    sent.append(chunk)
            # Gone before the stream's end (a client closing right after the last byte is not).
            left_early = watch is not None and watch.cancel.cancelled
            flush(end=True)
            return left_early
        except _ClientGone as gone:
            raise ConnectionAbortedError("the client went away") from gone.__cause__
        finally:
            before_wait.reset(token)


class _ClientGone(Exception):
    """Raised through the upstream reader when a write to the client failed, so the upstream is closed at once.

    Not an OSError: the layers in between take OSErrors for upstream failures.
    """


# Sent before the request is read, so its path is unknown: one body both error shapes accept
# (OpenAI's `error` object, Anthropic's top-level `type`).
_BUSY_BODY = (
    b'{"type":"error","error":{"type":"overloaded_error",'
    b'"message":"pigw is serving its maximum number of connections; retry shortly.","param":null,"code":null}}'
)
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)
)


def _refuse(sock: socket.socket) -> None:
    try:
        sock.settimeout(0.5)
        sock.sendall(_BUSY)
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()


def error_reply(path: str, error: GatewayError) -> Reply:
    """An error in the shape of the API the path belongs to."""
    if path.startswith("/v1/messages"):
        from pigw.api import anthropic_messages

        return anthropic_messages.anthropic_error(error)
    return openai_error(error)


def _allowed_origin(origin: str, allowed: List[str]) -> Optional[str]:
    """The Access-Control-Allow-Origin value for origin, or None. pigw never allows credentials."""
    if origin in allowed:
        return origin
    return "*" if "*" in allowed else None


def _presented_key(headers) -> str:
    given = headers.get("x-api-key") or ""
    authorization = headers.get("Authorization") or ""
    if authorization[:7].lower() == "bearer ":
        given = authorization[7:].strip()
    return given


_MAX_LOGGED_FRAMES = 1024  # of one stream, for --log-bodies
_LOGGED_HEADERS = ("content-type", "content-length", "user-agent", "accept", "accept-encoding", "host")


def _logged_headers(headers) -> List[Tuple[str, str]]:
    """The request headers the access log may show; never a key, cookie or anything else."""
    pairs = [(name, headers.get(name)) for name in _LOGGED_HEADERS]
    return [(name, value) for name, value in pairs if value is not None]


def _request_id(headers) -> str:
    """The client's own request id when it sent a sane one, else a new one."""
    given = headers.get("x-client-request-id") or headers.get("x-request-id")
    if given and len(given) <= 128 and given.isprintable():
        return given
    return new_id("req_")


def _chat(handler: Handler, incoming: Incoming) -> Reply:
    from pigw.api import openai_chat

    return openai_chat.handle(incoming, handler.server.gateway)


def _messages(handler: Handler, incoming: Incoming) -> Reply:
    from pigw.api import anthropic_messages

    return anthropic_messages.handle(incoming, handler.server.gateway)


def _count_tokens(handler: Handler, incoming: Incoming) -> Reply:
    from pigw.api import anthropic_messages

    return anthropic_messages.count_tokens(incoming, handler.server.gateway)


def _models(handler: Handler, incoming: Incoming) -> Reply:
    return models_api.list_models(handler.server.gateway.registry)


def _retrieve_model(handler: Handler, incoming: Incoming) -> Reply:
    model_id = unquote(incoming.path.split("/models/", 1)[1])
    return models_api.retrieve_model(handler.server.gateway.registry, model_id)


def _health(handler: Handler, incoming: Incoming) -> Reply:
    return json_reply({"ok": True, "uptimeMs": int((time.monotonic() - handler.server.started) * 1000)})


ROUTES: Dict[str, Dict[str, Route]] = {
    "/v1/chat/completions": {"POST": _chat},
    "/chat/completions": {"POST": _chat},
    "/v1/messages": {"POST": _messages},
    "/v1/messages/count_tokens": {"POST": _count_tokens},
    "/v1/models": {"GET": _models},
    "/models": {"GET": _models},
    "/healthz": {"GET": _health},
}


def _split_host(host: str) -> Tuple[str, Optional[int]]:
    """The Host header's name and port (None when absent, -1 when not a number)."""
    name, port_text = split_host_port(host)
    if not port_text:
        return name, None
    return name, int(port_text) if port_text.isdigit() else -1


def _reason(status: int) -> str:
    phrase = _REASONS.get(status)
    if phrase:
        return phrase[0]
    return "Client Closed Request" if status == 499 else http.client.responses.get(status, "Unknown")


def _too_large(cap: int) -> GatewayError:
    return GatewayError(
        413, "The request body is larger than %d bytes." % cap, "invalid_request_error", "request_too_large"
    )
