"""Pooled keep-alive upstream connections: proxies, CA bundle, timeouts, safe reuse and abort."""

import base64
import contextvars
import http.client
import io
import os
import re
import select
import socket
import ssl
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple
from urllib.parse import unquote, urlsplit

from pigw.net import headers as header_block
from pigw.net import timeouts

__all__ = ["ConnectError", "Pool", "ReadError", "Response", "UpstreamTimeout", "before_wait"]

# Run by a response body's reader right before a read that may wait for the upstream (on plain
# sockets, only when nothing has arrived yet). A streaming server sets it for its thread to flush
# what it holds for its client: frames made from what arrived together go out in one write, and
# nothing is held while pigw waits.
before_wait: "contextvars.ContextVar[Optional[Callable[[], None]]]" = contextvars.ContextVar(
    "pigw_before_wait", default=None
)


class ConnectError(OSError):
    """No response: DNS, refused, TLS or proxy failure, or the connection closed before a status line."""


class UpstreamTimeout(OSError):
    """The connect timeout ran out, or no data arrived within the read timeout."""


class ReadError(OSError):
    """The body could not be read to its end: reset, truncated, or aborted by ``Response.close()``."""


class Pool:
    """Keep-alive connections per (scheme, host, port, proxy), shared by many threads.

    Three timeouts, none of them a cap on the whole answer: ``connect_timeout`` to connect (TLS and
    proxy tunnel included), ``read_timeout`` for each read from the request sent until the body is
    read whole (``Response.read``: the head and an answer that comes in one piece), ``idle_timeout``
    for each read of a body read as it arrives (``Response.chunks``: silence between chunks). A
    socket's timeout is only changed when it differs (each change is a system call).
    """

    def __init__(
        self,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        environ: Optional[Mapping[str, str]] = None,
        ca_file: Optional[str] = None,
        max_idle_per_host: int = 16,
        idle_timeout: Optional[float] = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.idle_timeout = read_timeout if idle_timeout is None else idle_timeout
        self.max_idle_per_host = max_idle_per_host
        self._ca_file = ca_file or env.get("SSL_CERT_FILE") or None
        self._ca_dir = None if ca_file else env.get("SSL_CERT_DIR") or None
        self._proxies = {"http": _read_proxy(env, "http_proxy"), "https": _read_proxy(env, "https_proxy")}
        self._no_proxy = _NoProxy(_env(env, "no_proxy")[1])
        self._routes: Dict[Tuple[str, str], _Route] = {}
        self._idle: Dict[Tuple[Any, ...], List[Tuple[http.client.HTTPConnection, float]]] = {}
        self._lock = threading.Lock()
        self._ssl_context: Optional[ssl.SSLContext] = None

    def request(
        self,
        method: str,
        url: str,
        headers: Dict[str, str],
        body: Optional[bytes] = None,
        read_timeout: Optional[float] = None,
        on_waiting: Optional[Callable[[Callable[[], None]], None]] = None,
    ) -> "Response":
        """Send one request and return once the status line and headers have arrived.

        A reused connection that turns out to have been closed by the server while idle is replaced
        by a fresh one, once. ``on_waiting`` receives an abort function, valid while this call waits
        for the response (another thread may call it to give up: ``ConnectError`` follows). Raises
        ``ConnectError``, ``UpstreamTimeout``, or ``ValueError`` for a URL or header http.client
        refuses (the message never shows header values).
        """
        route, target = self._route(url)
        timeout = self.read_timeout if read_timeout is None else read_timeout
        conn = self._take(route.key)
        if conn is not None:
            try:
                return self._exchange(route, conn, method, target, headers, body, timeout, True, on_waiting)
            except _Stale:
                pass
        return self._exchange(route, self._connect(route), method, target, headers, body, timeout, False, on_waiting)

    def proxy_for(self, url: str) -> Optional[str]:
        """The proxy a request to ``url`` would go through, as ``http://host:port``, or None for direct."""
        proxy = self._route(url)[0].proxy
        if proxy is None:
            return None
        if proxy.error:
            raise ConnectError(proxy.error)
        return proxy.url

    def close(self) -> None:
        """Close every idle connection; connections in use are closed when their response ends."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn, _since in conns:
                conn.close()

    def _route(self, url: str) -> Tuple["_Route", str]:
        parts = urlsplit(url)
        route = self._routes.get((parts.scheme, parts.netloc))
        if route is None:
            route = self._routes[(parts.scheme, parts.netloc)] = self._make_route(parts)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        if route.proxy is not None and route.scheme == "http":
            target = route.origin + target
        return route, target

    def _make_route(self, parts: Any) -> "_Route":
        scheme = parts.scheme
        if scheme not in _DEFAULT_PORTS:
            raise ValueError(f"unsupported URL scheme {scheme!r}: only http and https")
        host = parts.hostname
        if not host:
            raise ValueError("URL has no host")
        port = parts.port or _DEFAULT_PORTS[scheme]
        proxy = None if self._no_proxy.bypasses(host, port) else self._proxies[scheme]
        return _Route(scheme, host, port, proxy)

    def _take(self, key: Tuple[Any, ...]) -> Optional[http.client.HTTPConnection]:
        while True:
            with self._lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                conn, since = idle.pop()
            if time.monotonic() - since < _FRESH_IDLE_S or not _dropped(conn.sock):
                return conn
            conn.close()

    def _put(self, key: Tuple[Any, ...], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.max_idle_per_host:
                idle.append((conn, time.monotonic()))
                return
        conn.close()

    def _connect(self, route: "_Route") -> http.client.HTTPConnection:
        proxy = route.proxy
        if proxy is not None and proxy.error:
            raise ConnectError(proxy.error)
        host, port = (route.host, route.port) if proxy is None else (proxy.host, proxy.port)
        conn: http.client.HTTPConnection
        if route.scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=self.connect_timeout, context=self._context())
            if proxy is not None:
                conn.set_tunnel(route.host, route.port, dict(proxy.tunnel_headers))
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.connect_timeout)
        where = route.label if proxy is None else f"{route.label} through proxy {proxy.label}"
        try:
            conn.connect()
        except socket.timeout as exc:
            conn.close()
            raise UpstreamTimeout(f"connecting to {where} timed out after {self.connect_timeout:g} s") from exc
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise ConnectError(f"cannot connect to {where}: {_describe(exc)}") from exc
        return conn

    def _context(self) -> ssl.SSLContext:
        with self._lock:
            if self._ssl_context is None:
                try:
                    self._ssl_context = ssl.create_default_context(cafile=self._ca_file, capath=self._ca_dir)
                except (OSError, ValueError) as exc:
                    raise ConnectError(f"cannot load CA certificates: {_describe(exc)}") from exc
            return self._ssl_context

    def _exchange(
        self,
        route: "_Route",
        conn: http.client.HTTPConnection,
        method: str,
        target: str,
        headers: Dict[str, str],
        body: Optional[bytes],
        timeout: float,
        reused: bool,
        on_waiting: Optional[Callable[[Callable[[], None]], None]],
    ) -> "Response":
        sock = conn.sock
        try:
            data = _request_head(method, target, headers, body, route)
        except ValueError:
            conn.close()
            raise
        abort = _Abort(sock)
        if on_waiting is not None:
            on_waiting(abort.fire)
        try:
            timeouts.set_timeout(sock, timeout)
            resp = _send_and_begin(sock, data + body if body else data, method)
        except socket.timeout as exc:
            conn.close()
            raise UpstreamTimeout(f"no response from {route.label} within {timeout:g} s") from exc
        except _STALE_ERRORS as exc:
            conn.close()
            if reused:
                raise _Stale from exc
            raise ConnectError(f"{route.label} closed the connection before responding: {_describe(exc)}") from exc
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            if abort.fired:
                raise ConnectError(f"request to {route.label} aborted") from exc
            raise ConnectError(f"request to {route.label} failed: {_describe(exc)}") from exc
        finally:
            abort.disarm()
        if abort.fired:
            conn.close()
            raise ConnectError(f"request to {route.label} aborted")
        return Response(self, route, conn, sock, resp, timeout)


class Response:
    """One upstream response: status and headers now, the body read once, then the connection is reused."""

    def __init__(
        self,
        pool: Pool,
        route: "_Route",
        conn: http.client.HTTPConnection,
        sock: socket.socket,
        resp: http.client.HTTPResponse,
        timeout: float,
    ) -> None:
        self.status: int = resp.status
        self.reason: str = resp.reason
        self.headers: header_block.Headers = resp.msg  # type: ignore[assignment]
        self._pool = pool
        self._route = route
        self._conn = conn
        self._sock = sock
        self._resp = resp
        self._timeout = timeout  # what one read waits at most
        self._lock = threading.Lock()
        self._busy = False  # a read() or chunks() is under way
        self._open = True  # neither released nor closed yet
        self._broken = False  # closed, or a read failed: further reads raise

    def read(self) -> bytes:
        """The whole body (b"" once it has been read); then the connection goes back to the pool."""
        resp = self._begin()
        if resp is None:
            return b""
        complete = False
        try:
            try:
                data = resp.read()
            except socket.timeout as exc:
                raise self._timed_out() from exc
            except (OSError, http.client.HTTPException, ValueError) as exc:
                raise self._failed(exc) from exc
            complete = self._at_end(resp)
            return data
        finally:
            self._finish(complete)

    def chunks(self, size: int = 65536) -> Iterator[bytes]:
        """Body bytes as they arrive: what one read brought (at most ``size``), without the chunked framing.

        Before each read that may wait, the thread's ``before_wait`` hook runs. Each read waits at most
        the pool's ``idle_timeout``. At the end of the body the connection goes back to the pool.
        """
        resp = self._begin()
        if resp is None:
            return
        complete = False
        try:
            self._timeout = self._pool.idle_timeout
            timeouts.set_timeout(self._sock, self._timeout)
            pieces = _chunked_pieces(resp, size) if resp.chunked else _plain_pieces(resp, size)
            while True:
                try:
                    data = next(pieces, None)
                except socket.timeout as exc:
                    raise self._timed_out() from exc
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    raise self._failed(exc) from exc
                if data is None:
                    break
                yield data
            complete = self._at_end(resp)
        except GeneratorExit:  # the consumer stopped early, maybe right after the last byte
            complete = _body_done(resp)
            raise
        finally:
            self._finish(complete)

    def close(self) -> None:
        """Abort: the connection is shut down and never reused. Safe from any thread, even mid-read."""
        with self._lock:
            if not self._open:
                return
            self._open = False
            self._broken = True
            busy = self._busy
        try:
            # The plain-socket shutdown, even for TLS: SSLSocket.shutdown would also drop the SSL
            # object under a reader blocked in another thread.
            socket.socket.shutdown(self._sock, socket.SHUT_RDWR)
        except OSError:
            pass
        if not busy:
            self._drop()

    def release(self) -> None:
        """Normal end: the connection goes back to the pool if the body was read to its end, else it is closed."""
        with self._lock:
            idle = self._open and not self._busy
            if idle:
                self._open = False
        if not idle:
            self.close()
        elif _body_done(self._resp):
            self._recycle()
        else:
            self._broken = True
            self._drop()

    def __enter__(self) -> "Response":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.release()

    def _begin(self) -> Optional[http.client.HTTPResponse]:
        with self._lock:
            if self._busy:
                raise RuntimeError("the body of this response is already being read")
            if self._broken:
                raise ReadError(f"the response from {self._route.label} was closed")
            if not self._open:
                return None
            self._busy = True
        return self._resp

    def _at_end(self, resp: http.client.HTTPResponse) -> bool:
        if self._broken:
            raise ReadError(f"the response from {self._route.label} was closed while reading")
        if resp.length:
            raise ReadError(f"the body from {self._route.label} ended {resp.length} bytes short")
        resp.close()
        return True

    def _finish(self, complete: bool) -> None:
        with self._lock:
            self._busy = False
            self._open = False
            complete = complete and not self._broken  # close() may have run after the last read
            self._broken = not complete
        if complete:
            self._recycle()
        else:
            self._drop()

    def _drop(self) -> None:
        """Close the connection for good, and the response's reader with it (else the socket stays open until
        the reader is garbage-collected)."""
        self._resp.close()
        self._conn.close()

    def _recycle(self) -> None:
        if self._resp.will_close or self._conn.sock is None:
            self._conn.close()
        else:
            self._pool._put(self._route.key, self._conn)

    def _timed_out(self) -> UpstreamTimeout:
        return UpstreamTimeout(f"no data from {self._route.label} within {self._timeout:g} s")

    def _failed(self, exc: Exception) -> ReadError:
        if self._broken:
            return ReadError(f"the response from {self._route.label} was closed while reading")
        return ReadError(f"reading the body from {self._route.label} failed: {_describe(exc)}")


# A connection idle for less than this is reused without checking that the server kept it open:
# a server closing it that soon is rare, and a request that meets a closed connection is retried.
_FRESH_IDLE_S = 1.0
# Failures of a reused connection that mean the server closed it while it sat idle.
_STALE_ERRORS = (
    http.client.BadStatusLine,  # includes RemoteDisconnected
    BrokenPipeError,
    ConnectionResetError,
    ConnectionAbortedError,
    ssl.SSLEOFError,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MAX_CHUNK_LINE = 65536
_BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))
# http.client's own rules: control characters or spaces in the request line; header names are
# tokens without colon or whitespace; a CR or LF in a value only as obsolete line folding.
_BAD_REQUEST_LINE = re.compile("[\x00-\x20\x7f]").search
_HEADER_NAME = re.compile(r"[^:\s][^:\r\n]*").fullmatch
_BAD_HEADER_VALUE = re.compile(r"\n(?![ \t])|\r(?![ \t\n])").search
_LOOPBACK = frozenset(("localhost", "127.0.0.1", "::1"))


class _Abort:
    """Shuts a connection's socket down from another thread, but only while its request waits for an answer."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = threading.Lock()
        self._armed = True
        self.fired = False

    def fire(self) -> None:
        with self._lock:
            if not self._armed:
                return
            self.fired = True
        try:
            socket.socket.shutdown(self._sock, socket.SHUT_RDWR)
        except OSError:
            pass

    def disarm(self) -> None:
        with self._lock:
            self._armed = False


class _Stale(Exception):
    """A reused connection failed before the status line: retry on a fresh one."""


class _Proxy:
    """One proxy setting: where to connect and how to authenticate, or why it cannot be used."""

    __slots__ = ("host", "port", "url", "label", "authorization", "tunnel_headers", "error")

    def __init__(self, host: str = "", port: int = 0, authorization: Optional[str] = None, error: str = "") -> None:
        self.host = host
        self.port = port
        self.label = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.url = "http://" + self.label
        self.authorization = authorization
        self.tunnel_headers = {"Proxy-Authorization": authorization} if authorization else {}
        self.error = error


class _Route:
    """Where requests for one scheme://host:port go, and under which pool key."""

    __slots__ = ("scheme", "host", "port", "proxy", "label", "origin", "host_header", "key", "proxy_authorization")

    def __init__(self, scheme: str, host: str, port: int, proxy: Optional[_Proxy]) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.proxy = proxy
        self.label = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        netloc = self.label if port != _DEFAULT_PORTS[scheme] else self.label.rpartition(":")[0]
        self.origin = f"{scheme}://{netloc}"
        try:
            netloc.encode("ascii")
            self.host_header = netloc
        except UnicodeEncodeError:
            self.host_header = netloc.encode("idna").decode("ascii")
        self.key = (scheme, host, port, None if proxy is None else proxy.url)
        # Sent with each request through a plain HTTP proxy; HTTPS sends it once, with CONNECT.
        self.proxy_authorization = proxy.authorization if proxy is not None and scheme == "http" else None


class _NoProxy:
    """Hosts that bypass the proxy: the NO_PROXY entries, plus loopback always."""

    def __init__(self, value: str) -> None:
        self.everything = False
        self.domains: List[Tuple[str, str, Optional[int]]] = []  # (name, ".name", port or None)
        self.networks: List[Any] = []
        for entry in value.split(","):
            entry = entry.strip().lower()
            if entry == "*":
                self.everything = True
            elif "/" in entry:
                self._add_network(entry)
            elif entry:
                host, port_text = split_host_port(entry)
                port = int(port_text) if port_text.isdigit() else None
                host = host.lstrip("*.")
                if host:
                    self.domains.append((host, "." + host, port))

    def bypasses(self, host: str, port: int) -> bool:
        if self.everything or host in _LOOPBACK:
            return True
        for name, suffix, only_port in self.domains:
            if (only_port is None or only_port == port) and (host == name or host.endswith(suffix)):
                return True
        return bool(self.networks) and self._in_networks(host)

    def _add_network(self, entry: str) -> None:
        import ipaddress

        try:
            self.networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            pass

    def _in_networks(self, host: str) -> bool:
        import ipaddress

        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


def _request_head(method: str, target: str, headers: Dict[str, str], body: Optional[bytes], route: "_Route") -> bytes:
    """The request line and headers, as http.client would write them; ValueError names a bad part, never a value.

    http.client connects (TLS, proxy tunnel); pigw writes each request in one write and reads its
    response with ``header_block.Response``: http.client's own request path validates and buffers
    header by header, and writes the head and the body separately.
    """
    if _BAD_REQUEST_LINE(method) or _BAD_REQUEST_LINE(target) or not target.isascii():
        raise ValueError(f"invalid request method or URL for {route.label} (value not shown)")
    lines = [f"{method} {target} HTTP/1.1"]
    has_host = has_length = False
    for name, value in headers.items():
        lower = name.lower()
        if lower == "host":
            has_host = True
        elif lower == "content-length":
            has_length = True
        lines.append(f"{name}: {value}")
        if not _HEADER_NAME(name) or _BAD_HEADER_VALUE(value):
            raise ValueError(f"invalid request header {name!r} (value not shown)")
    if not has_host:
        lines.insert(1, "Host: " + route.host_header)
    if route.proxy_authorization:
        lines.append("Proxy-Authorization: " + route.proxy_authorization)
    if not has_length:
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        elif method in _BODY_METHODS:
            lines.append("Content-Length: 0")
    lines.append("\r\n")
    try:
        return "\r\n".join(lines).encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError("invalid request: a header or the URL is not Latin-1 (value not shown)") from None


def _send_and_begin(sock: socket.socket, data: bytes, method: str) -> header_block.Response:
    timeouts.sendall(sock, data)
    resp = header_block.Response(sock, method=method)
    try:
        resp.begin()
    except BaseException:
        resp.close()
        raise
    return resp


def _plain_pieces(resp: http.client.HTTPResponse, size: int) -> Iterator[bytes]:
    read1 = resp.read1
    while True:
        hook = before_wait.get()
        if hook is not None and timeouts.may_wait(resp.fp):
            hook()
        data = read1(size)
        if not data:
            return
        yield data


def _chunked_pieces(resp: http.client.HTTPResponse, size: int) -> Iterator[bytes]:
    """The payload of a chunked body: per read, every chunk's payload it completed or began, joined.

    One upstream read usually carries several SSE events, each in its own HTTP chunk; they come
    out as one piece, so the layers above handle them in one go. After the last chunk the trailer
    is skipped and the response closed (so the connection is known to be reusable) before the
    last piece is given out.
    """
    fp = resp.fp
    assert fp is not None
    # Reads land in one buffer per response: a fresh 64 KiB bytes object per read, shrunk to what
    # came, fragments the heap of a busy many-threaded process (RSS grew under the soak test).
    # Not larger than the reader's own buffer: readinto1 would then wait for a second raw read.
    landing = memoryview(bytearray(min(size, io.DEFAULT_BUFFER_SIZE)))
    buffer = b""
    left = 0  # payload bytes of the current chunk still to come
    crlf_due = False  # the CRLF after a chunk's payload
    while True:
        hook = before_wait.get()
        if hook is not None and timeouts.may_wait(fp):
            hook()
        count = fp.readinto1(landing)
        if not count:
            raise http.client.IncompleteRead(b"")
        data = bytes(landing[:count])
        buffer = buffer + data if buffer else data
        out: List[bytes] = []
        at = 0
        end = len(buffer)
        while True:
            if left:
                piece = buffer[at : at + left]
                if piece:
                    out.append(piece)
                    at += len(piece)
                    left -= len(piece)
                if left:
                    break
                crlf_due = True
            if crlf_due:
                if end - at < 2:
                    break
                if buffer[at : at + 2] != b"\r\n":
                    raise http.client.IncompleteRead(b"", 2)
                at += 2
                crlf_due = False
            line_end = buffer.find(b"\n", at)
            if line_end < 0:
                if end - at > _MAX_CHUNK_LINE:
                    raise http.client.LineTooLong("chunk size")
                break
            left = int(buffer[at:line_end].split(b";", 1)[0].strip(), 16)  # ValueError: malformed
            at = line_end + 1
            if left == 0:
                _skip_trailer(fp, buffer[at:])
                resp.close()
                if out:
                    yield b"".join(out)
                return
        buffer = buffer[at:]
        if out:
            yield out[0] if len(out) == 1 else b"".join(out)


def _skip_trailer(fp: Any, rest: bytes) -> None:
    """Read past the trailer fields and the blank line that end a chunked body (some servers just stop)."""
    while True:
        line_end = rest.find(b"\n")
        if line_end < 0:
            more = fp.readline(_MAX_CHUNK_LINE + 1)
            if not more:
                return
            rest += more
            continue
        if rest[: line_end + 1] in (b"\r\n", b"\n"):
            return
        rest = rest[line_end + 1 :]


def _body_done(resp: http.client.HTTPResponse) -> bool:
    if resp.isclosed():
        return True
    if resp.length == 0:
        resp.close()
        return True
    return False


def _dropped(sock: Optional[socket.socket]) -> bool:
    """True when an idle socket is readable: the server closed it, or sent bytes nobody asked for."""
    if sock is None:
        return True
    try:
        poll = getattr(select, "poll", None)
        if poll is None:
            return bool(select.select([sock], [], [], 0)[0])
        poller = poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


def _env(environ: Mapping[str, str], name: str) -> Tuple[str, str]:
    """(variable used, stripped value) for ``name`` in lower or upper case; lower case wins, as in curl."""
    for variable in (name, name.upper()):
        value = environ.get(variable)
        if value is not None:
            return variable, value.strip()
    return name.upper(), ""


def _read_proxy(environ: Mapping[str, str], name: str) -> Optional[_Proxy]:
    variable, value = _env(environ, name)
    if not value:
        variable, value = _env(environ, "all_proxy")
    if not value:
        return None
    parts = urlsplit(value if "://" in value else "http://" + value)
    if parts.scheme != "http":
        return _Proxy(error=f"{variable} uses the proxy scheme {parts.scheme!r}; only http:// proxies are supported")
    try:
        port = parts.port or 80
    except ValueError:
        return _Proxy(error=f"{variable} has an invalid port")
    if not parts.hostname:
        return _Proxy(error=f"{variable} has no host")
    authorization = None
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        authorization = "Basic " + base64.b64encode(credentials).decode("ascii")
    return _Proxy(parts.hostname, port, authorization)


def split_host_port(entry: str) -> Tuple[str, str]:
    """`host`, `host:port`, `[v6]` or `[v6]:port` as (host, port text); the port text is "" when absent."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else ""
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, port
    return entry, ""


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
