"""Pooled upstream connections against loopback servers: reuse, retry, timeouts, abort, proxies and TLS."""

import base64
import os
import socket
import ssl
import threading
import time
import traceback
import unittest
from typing import Any, BinaryIO, Callable, Dict, List, NamedTuple, Optional, Tuple
from unittest import mock

from pigw.net import http
from pigw.net.http import ConnectError, Pool, ReadError, Response, UpstreamTimeout
from tests.support.tls import server_certificate

SECRET = "sk-test-secret-0123456789"


class Request(NamedTuple):
    line: str
    headers: List[Tuple[str, str]]
    body: bytes

    def header(self, name: str) -> Optional[str]:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return values[0] if values else None


Handler = Callable[["Server", socket.socket, int], None]


class Server:
    """A loopback TCP server running ``handler(server, sock, n)`` for the n-th connection in its own thread."""

    def __init__(self, handler: Handler, tls: Optional[ssl.SSLContext] = None) -> None:
        self.handler = handler
        self.tls = tls
        self.connections = 0
        self.requests: List[Request] = []
        self.stopped = threading.Event()
        self._socks: List[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(32)
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "/") -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    def read_request(self, rfile: BinaryIO) -> Optional[Request]:
        line = rfile.readline()
        if not line:
            return None
        headers = []
        while True:
            raw = rfile.readline()
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers.append((name, value.strip()))
        request = Request(line.decode("latin-1").rstrip("\r\n"), headers, b"")
        length = int(request.header("Content-Length") or 0)
        request = request._replace(body=rfile.read(length))
        with self._lock:
            self.requests.append(request)
        return request

    def close(self) -> None:
        self.stopped.set()
        self._listener.close()
        with self._lock:
            socks = list(self._socks)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._socks.append(sock)
                number = self.connections
            threading.Thread(target=self._serve, args=(sock, number), daemon=True).start()

    def _serve(self, sock: socket.socket, number: int) -> None:
        sock.settimeout(5)
        try:
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_side=True)
            self.handler(self, sock, number)
        except OSError:
            pass
        finally:
            sock.close()


def answer(sock: socket.socket, body: bytes, *headers: str, status: str = "200 OK") -> None:
    head = "".join(f"{header}\r\n" for header in (f"Content-Length: {len(body)}",) + headers)
    sock.sendall(f"HTTP/1.1 {status}\r\n{head}\r\n".encode("latin-1") + body)


def keep_alive(body: bytes = b"hello", *headers: str) -> Handler:
    """Answer every request on the connection with ``body``."""

    def handler(server: Server, sock: socket.socket, number: int) -> None:
        rfile = sock.makefile("rb")
        while server.read_request(rfile) is not None:
            answer(sock, body, *headers)

    return handler


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


class PoolTest(unittest.TestCase):
    def serve(self, handler: Handler, tls: Optional[ssl.SSLContext] = None) -> Server:
        server = Server(handler, tls)
        self.addCleanup(server.close)
        return server

    def pool(self, **kwargs: Any) -> Pool:
        kwargs.setdefault("environ", {})
        pool = Pool(**kwargs)
        self.addCleanup(pool.close)
        return pool

    def assert_close_unblocks(self, response: Response, read: Callable[[Response], Any]) -> None:
        outcome: List[BaseException] = []

        def reader() -> None:
            try:
                read(response)
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=reader)
        thread.start()
        time.sleep(0.1)
        started = time.monotonic()
        response.close()
        thread.join(1.0)
        self.assertFalse(thread.is_alive())
        self.assertLess(time.monotonic() - started, 1.0)
        self.assertEqual([type(exc) for exc in outcome], [ReadError])
        self.assertIn("was closed while reading", str(outcome[0]))
        response.close()
        response.release()


class ReuseTest(PoolTest):
    def test_sequential_requests_share_one_connection(self) -> None:
        server = self.serve(keep_alive(b"hello"))
        pool = self.pool()
        for i in range(5):
            response = pool.request("GET", server.url(f"/v1/x?i={i}"), {})
            self.assertEqual((response.status, response.reason), (200, "OK"))
            self.assertEqual(response.headers.get("content-length"), "5")
            self.assertEqual(response.read(), b"hello")
        self.assertEqual(server.connections, 1)
        self.assertEqual([r.line for r in server.requests], [f"GET /v1/x?i={i} HTTP/1.1" for i in range(5)])

    def test_request_is_sent_verbatim(self) -> None:
        server = self.serve(keep_alive(b"{}"))
        pool = self.pool()
        headers = {"x-api-key": "k1", "Content-Type": "application/json"}
        pool.request("POST", server.url("/v1/messages"), headers, b'{"a":1}').read()
        pool.request("GET", server.url(), {}).read()
        pool.request("POST", server.url(), {}).read()
        pool.request("GET", server.url(), {"host": "api.example.test"}).read()
        host = f"127.0.0.1:{server.port}"
        self.assertEqual(
            [(r.line, r.headers, r.body) for r in server.requests],
            [
                (
                    "POST /v1/messages HTTP/1.1",
                    [
                        ("Host", host),
                        ("x-api-key", "k1"),
                        ("Content-Type", "application/json"),
                        ("Content-Length", "7"),
                    ],
                    b'{"a":1}',
                ),
                ("GET / HTTP/1.1", [("Host", host)], b""),
                ("POST / HTTP/1.1", [("Host", host), ("Content-Length", "0")], b""),
                ("GET / HTTP/1.1", [("host", "api.example.test")], b""),
            ],
        )

    def test_head_and_body_go_out_in_one_write(self) -> None:
        """http.client writes them separately: two system calls, and the body may wait on Nagle's algorithm."""
        server = self.serve(keep_alive(b"ok"))
        body = b'{"model": "m", "messages": []}'
        pool = self.pool()
        pool.request("GET", server.url(), {}).read()  # connected outside the count
        sent: List[bytes] = []
        sendall = socket.socket.sendall
        client_thread = threading.get_ident()

        def spy(sock: socket.socket, data: bytes, *flags: int) -> None:
            if threading.get_ident() == client_thread:  # not the server's answers
                sent.append(bytes(data))
            sendall(sock, data, *flags)

        with mock.patch.object(socket.socket, "sendall", spy):
            self.assertEqual(pool.request("POST", server.url("/v1/x"), {"a": "1"}, body).read(), b"ok")
        host = f"127.0.0.1:{server.port}"
        expected = f"POST /v1/x HTTP/1.1\r\nHost: {host}\r\na: 1\r\nContent-Length: {len(body)}\r\n\r\n"
        self.assertEqual(sent, [expected.encode() + body])
        self.assertEqual(server.requests[-1].body, body)

    def test_body_read_by_chunks_then_reused(self) -> None:
        server = self.serve(keep_alive(b"0123456789"))
        pool = self.pool()
        self.assertEqual(list(pool.request("GET", server.url(), {}).chunks(4)), [b"0123", b"4567", b"89"])
        with pool.request("GET", server.url(), {}) as response:
            self.assertEqual(b"".join(response.chunks()), b"0123456789")
        self.assertEqual(pool.request("GET", server.url(), {}).read(), b"0123456789")
        self.assertEqual(server.connections, 1)

    def test_consumer_stopping_after_last_byte_keeps_connection(self) -> None:
        server = self.serve(keep_alive(b"0123456789"))
        pool = self.pool()
        with pool.request("GET", server.url(), {}) as response:
            for piece in response.chunks(5):
                if piece == b"56789":
                    break
        self.assertEqual(pool.request("GET", server.url(), {}).read(), b"0123456789")
        self.assertEqual(server.connections, 1)

    def test_unread_body_is_not_reused(self) -> None:
        server = self.serve(keep_alive(b"hello"))
        pool = self.pool()
        pool.request("GET", server.url(), {}).release()
        with pool.request("GET", server.url(), {}) as response:
            self.assertEqual(response.status, 200)
        partly = pool.request("GET", server.url(), {})
        self.assertEqual(next(partly.chunks(2)), b"he")
        partly.release()
        self.assertEqual(pool.request("GET", server.url(), {}).read(), b"hello")
        self.assertEqual(server.connections, 4)

    def test_released_response_reads_fail(self) -> None:
        server = self.serve(keep_alive(b"hello"))
        response = self.pool().request("GET", server.url(), {})
        response.release()
        response.release()
        with self.assertRaises(ReadError):
            response.read()

    def test_read_twice_gives_empty_second_time(self) -> None:
        server = self.serve(keep_alive(b"hello"))
        response = self.pool().request("GET", server.url(), {})
        self.assertEqual(response.read(), b"hello")
        self.assertEqual(response.read(), b"")
        self.assertEqual(list(response.chunks()), [])
        response.release()
        response.close()

    def test_empty_body_reused_without_reading(self) -> None:
        server = self.serve(keep_alive(b""))
        pool = self.pool()
        for _ in range(3):
            with pool.request("GET", server.url(), {}) as response:
                self.assertEqual(response.status, 200)
        self.assertEqual(server.connections, 1)

    def test_connection_close_is_not_reused(self) -> None:
        def handler(server: Server, sock: socket.socket, number: int) -> None:
            server.read_request(sock.makefile("rb"))
            answer(sock, b"bye", "Connection: close")

        server = self.serve(handler)
        pool = self.pool()
        self.assertEqual(pool.request("GET", server.url(), {}).read(), b"bye")
        self.assertEqual(pool.request("GET", server.url(), {}).read(), b"bye")
        self.assertEqual(server.connections, 2)

    def test_body_until_close(self) -> None:
        def handler(server: Server, sock: socket.socket, number: int) -> None:
            server.read_request(sock.makefile("rb"))
            sock.sendall(b"HTTP/1.1 200 OK\r\n\r\nall of it")

        server = self.serve(handler)
        pool = self.pool()
        self.assertEqual(pool.request("GET", server.url(), {}).read(), b"all of it")
        self.assertEqual(b"".join(pool.request("GET", server.url(), {}).chunks()), b"all of it")
        self.assertEqual(server.connections, 2)

    def test_pool_close_drops_idle_connections(self) -> None:
        server = self.serve(keep_alive())
        pool = self.pool()
        pool.request("GET", server.url(), {}).read()
        pool.close()
        pool.request("GET", server.url(), {}).read()
        self.assertEqual(server.connections, 2)

    def test_idle_connections_per_host_are_capped(self) -> None:
        server = self.serve(keep_alive())
        pool = self.pool(max_idle_per_host=1)
        first, second = pool.request("GET", server.url(), {}), pool.request("GET", server.url(), {})
        first.read()
        second.read()
        third, fourth = pool.request("GET", server.url(), {}), pool.request("GET", server.url(), {})
        third.read()
        fourth.read()
        self.assertEqual(server.connections, 3)

    def test_threads_share_a_pool(self) -> None:
        server = self.serve(keep_alive(b"shared"))
        pool = self.pool()
        bodies: List[bytes] = []

        def work() -> None:
            for _ in range(5):
                bodies.append(pool.request("GET", server.url(), {}).read())

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
        self.assertEqual(bodies, [b"shared"] * 40)
        self.assertLessEqual(server.connections, 8)


class StaleConnectionTest(PoolTest):
    def test_idle_connection_closed_by_server_is_replaced(self) -> None:
        def handler(server: Server, sock: socket.socket, number: int) -> None:
            server.read_request(sock.makefile("rb"))
            answer(sock, b"one-shot %d" % number)

        for checked in (False, True):  # reused at once (a retry finds it closed), or after a check once idle
            with self.subTest(checked=checked), mock.patch.object(http, "_FRESH_IDLE_S", 0.0 if checked else 60.0):
                server = self.serve(handler)
                pool = self.pool()
                self.assertEqual(pool.request("GET", server.url(), {}).read(), b"one-shot 1")
                time.sleep(0.05)
                self.assertEqual(pool.request("GET", server.url(), {}).read(), b"one-shot 2")
                self.assertEqual(server.connections, 2)
                self.assertEqual(len(server.requests), 2)

    def test_retry_once_when_reused_connection_closes_before_status(self) -> None:
        def handler(server: Server, sock: socket.socket, number: int) -> None:
            rfile = sock.makefile("rb")
            server.read_request(rfile)
            if number == 1:  # answer once, then drop the next request as a server timing out would
                answer(sock, b"first")
                server.read_request(rfile)
                return
            answer(sock, b"fresh")

        server = self.serve(handler)
        pool = self.pool()
        self.assertEqual(pool.request("POST", server.url(), {}, b"1").read(), b"first")
        self.assertEqual(pool.request("POST", server.url(), {}, b"2").read(), b"fresh")
        self.assertEqual(server.connections, 2)
        self.assertEqual([r.body for r in server.requests], [b"1", b"2", b"2"])

    def test_fresh_connection_closed_before_status_is_connect_error(self) -> None:
        def handler(server: Server, sock: socket.socket, number: int) -> None:
            rfile = sock.makefile("rb")
            server.read_request(rfile)
            if number == 1:
                answer(sock, b"first")
                server.read_request(rfile)

        server = self.serve(handler)
        pool = self.pool()
        self.assertEqual(pool.request("GET", server.url(), {}).read(), b"first")
        with self.assertRaises(ConnectError) as caught:
            pool.request("GET", server.url(), {"Authorization": SECRET})
        self.assertEqual(server.connections, 2)
        self.assertIn(f"127.0.0.1:{server.port} closed the connection before responding", str(caught.exception))
        with self.assertRaises(ConnectError):
            pool.request("GET", server.url(), {})
        self.assertEqual(server.connections, 3)


class FailureTest(PoolTest):
    def test_refused_port_is_connect_error(self) -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        with self.assertRaises(ConnectError) as caught:
            self.pool().request("GET", f"http://127.0.0.1:{port}/v1?key={SECRET}", {"Authorization": SECRET})
        message = str(caught.exception)
        self.assertTrue(message.startswith(f"cannot connect to 127.0.0.1:{port}: "), message)
        self.assertNotIn(SECRET, message)
        self.assertIsInstance(caught.exception, OSError)

    def test_silent_server_times_out(self) -> None:
        def handler(server: Server, sock: socket.socket, number: int) -> None:
            server.read_request(sock.makefile("rb"))
            server.stopped.wait(5)

        server = self.serve(handler)
        started = time.monotonic()
        with self.assertRaises(UpstreamTimeout) as caught:
            self.pool(read_timeout=0.3).request("GET", server.url(), {})
        self.assertGreaterEqual(time.monotonic() - started, 0.25)
        self.assertLess(time.monotonic() - started, 1.0)
        self.assertEqual(str(caught.exception), f"no response from 127.0.0.1:{server.port} within 0.3 s")
        started = time.monotonic()
        with self.assertRaises(UpstreamTimeout):
            self.pool(read_timeout=30).request("GET", server.url(), {}, read_timeout=0.2)
        self.assertLess(time.monotonic() - started, 1.0)

    def test_idle_timeout_between_chunks(self) -> None:
        def handler(server: Server, sock: socket.socket, number: int) -> None:
            server.read_request(sock.makefile("rb"))
            sock.sendall(CHUNKED_HEAD + chunk(b"first"))
            server.stopped.wait(5)

        server = self.serve(handler)
        response = self.pool(read_timeout=5, idle_timeout=0.2).request("GET", server.url(), {})
        chunks = response.chunks()
        self.assertEqual(next(chunks), b"first")
        started = time.monotonic()
        with self.assertRaises(UpstreamTimeout) as caught:
            next(chunks)
        self.assertLess(time.monotonic() - started, 1.0)
        self.assertEqual(str(caught.exception), f"no data from 127.0.0.1:{server.port} within 0.2 s")
        with self.assertRaises(ReadError):
            response.read()

    def test_first_byte_and_idle_timeouts_are_separate(self) -> None:
        """A slow first byte within read_timeout is fine; then each read gets idle_timeout, however long the body."""

        def handler(server: Server, sock: socket.socket, number: int) -> None:
            server.read_request(sock.makefile("rb"))
            time.sleep(0.4)
            sock.sendall(CHUNKED_HEAD + chunk(b"a"))
            for piece in (b"b", b"c", b"d"):
                time.sleep(0.15)
                sock.sendall(chunk(piece))
            server.stopped.wait(5)

        server = self.serve(handler)
        response = self.pool(read_timeout=2, idle_timeout=0.3).request("GET", server.url(), {})
        chunks = response.chunks()
        self.assertEqual([next(chunks) for _ in range(4)], [b"a", b"b", b"c", b"d"])  # 0.45 s in all, > idle
        with self.assertRaises(UpstreamTimeout) as caught:
            next(chunks)
        self.assertEqual(str(caught.exception), f"no data from 127.0.0.1:{server.port} within 0.3 s")

    def test_whole_body_reads_wait_up_to_the_first_byte_timeout(self) -> None:
        """read() awaits an answer as a whole: a body that follows its head after more than idle_timeout is fine,
        also on a connection whose previous body was read by chunks."""

        def handler(server: Server, sock: socket.socket, number: int) -> None:
            rfile = sock.makefile("rb")
            server.read_request(rfile)
            sock.sendall(CHUNKED_HEAD + chunk(b"streamed") + b"0\r\n\r\n")
            server.read_request(rfile)
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
            time.sleep(0.4)
            sock.sendall(b"whole")
            server.stopped.wait(5)

        server = self.serve(handler)
        pool = self.pool(read_timeout=2, idle_timeout=0.2)
        self.assertEqual(list(pool.request("GET", server.url(), {}).chunks()), [b"streamed"])
        self.assertEqual(pool.request("GET", server.url(), {}).read(), b"whole")
        self.assertEqual(server.connections, 1)

    def test_truncated_bodies_are_read_errors(self) -> None:
        def handler(server: Server, sock: socket.socket, number: int) -> None:
            server.read_request(sock.makefile("rb"))
            if number % 2:
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd")
            else:
                sock.sendall(CHUNKED_HEAD + chunk(b"abcd"))

        server = self.serve(handler)
        pool = self.pool()
        for number in range(1, 5):
            response = pool.request("GET", server.url(), {})
            got: List[bytes] = []
            with self.assertRaises(ReadError):
                if number <= 2:
                    got.append(response.read())
                else:
                    got.extend(response.chunks())
            self.assertEqual(got, [] if number <= 2 else [b"abcd"])
        self.assertEqual(server.connections, 4)

    def test_invalid_header_value_is_not_shown(self) -> None:
        server = self.serve(keep_alive())
        pool = self.pool()
        with self.assertRaises(ValueError) as caught:
            pool.request("GET", server.url(), {"Authorization": f"Bearer {SECRET}\n"})
        self.assertEqual(str(caught.exception), "invalid request header 'Authorization' (value not shown)")
        self.assertNotIn(SECRET, "".join(traceback.format_exception(ValueError, caught.exception, None)))
        with self.assertRaises(ValueError) as caught:
            pool.request("GET", server.url(f"/v1?key={SECRET} x"), {})
        self.assertEqual(
            str(caught.exception), f"invalid request method or URL for 127.0.0.1:{server.port} (value not shown)"
        )
        self.assertEqual(pool.request("GET", server.url(), {}).read(), b"hello")

    def test_request_head_rules(self) -> None:
        """The head pigw writes follows http.client's rules: Host from the route, IDNA, bad names and values refused."""
        route = http._Route("https", "b\u00fccher.example", 443, None)
        self.assertEqual(route.host_header, "xn--bcher-kva.example")
        head = http._request_head("POST", "/v1", {"X-Fold": "a\r\n b"}, b"{}", route)
        self.assertEqual(
            head, b"POST /v1 HTTP/1.1\r\nHost: xn--bcher-kva.example\r\nX-Fold: a\r\n b\r\nContent-Length: 2\r\n\r\n"
        )
        self.assertEqual(
            http._request_head("GET", "/", {}, None, http._Route("http", "::1", 8080, None)),
            b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
        )
        for headers in (
            {" X": SECRET},
            {"X:Y": SECRET},
            {":x": SECRET},
            {"X\r\nY": SECRET},
            {"X": SECRET + "\r\nInjected: 1"},
            {"X": SECRET + "\n"},
            {"X": SECRET + "\u20ac"},
        ):
            with self.subTest(headers=headers), self.assertRaises(ValueError) as caught:
                http._request_head("GET", "/", headers, None, route)
            self.assertIn("value not shown", str(caught.exception))
            self.assertNotIn(SECRET, str(caught.exception))
        for method, target in (("GET", "/a b"), ("GET\n", "/"), ("GET", "/\x7f"), ("GET", "/\u00e9")):
            with self.subTest(target=target), self.assertRaises(ValueError):
                http._request_head(method, target, {}, None, route)

    def test_unsupported_url_scheme(self) -> None:
        with self.assertRaises(ValueError):
            self.pool().request("GET", "ftp://example.test/", {})


class StreamingTest(PoolTest):
    def test_chunked_body_streams_incrementally(self) -> None:
        go = threading.Event()

        def handler(server: Server, sock: socket.socket, number: int) -> None:
            rfile = sock.makefile("rb")
            server.read_request(rfile)
            sock.sendall(CHUNKED_HEAD + chunk(b"data: 1\n\n"))
            go.wait(5)
            sock.sendall(chunk(b"data: 2\n\n") + b"0\r\n\r\n")
            server.read_request(rfile)
            answer(sock, b"again")

        server = self.serve(handler)
        pool = self.pool()
        response = pool.request("GET", server.url(), {})
        self.assertEqual(response.headers.get("transfer-encoding"), "chunked")
        chunks = response.chunks()
        self.assertEqual(next(chunks), b"data: 1\n\n")
        self.assertFalse(go.is_set())
        go.set()
        self.assertEqual(list(chunks), [b"data: 2\n\n"])
        self.assertEqual(pool.request("GET", server.url(), {}).read(), b"again")
        self.assertEqual(server.connections, 1)

    def test_close_from_another_thread_unblocks_chunks(self) -> None:
        def handler(server: Server, sock: socket.socket, number: int) -> None:
            server.read_request(sock.makefile("rb"))
            sock.sendall(CHUNKED_HEAD + chunk(b"first"))
            server.stopped.wait(5)

        server = self.serve(handler)
        self.assert_close_unblocks(self.pool().request("GET", server.url(), {}), lambda r: list(r.chunks()))

    def test_close_from_another_thread_unblocks_read(self) -> None:
        def handler(server: Server, sock: socket.socket, number: int) -> None:
            server.read_request(sock.makefile("rb"))
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst")
            server.stopped.wait(5)

        server = self.serve(handler)
        self.assert_close_unblocks(self.pool().request("GET", server.url(), {}), lambda r: r.read())


def relay(source: socket.socket, target: socket.socket) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    try:
        target.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def tunnel_proxy(target_port: int, status: str = "200 Connection established") -> Handler:
    """A CONNECT proxy that records the request and pipes the tunnel to 127.0.0.1:target_port."""

    def handler(server: Server, sock: socket.socket, number: int) -> None:
        server.read_request(sock.makefile("rb"))
        sock.sendall(f"HTTP/1.1 {status}\r\n\r\n".encode())
        if not status.startswith("200"):
            return
        upstream = socket.create_connection(("127.0.0.1", target_port))
        back = threading.Thread(target=relay, args=(upstream, sock), daemon=True)
        back.start()
        relay(sock, upstream)
        back.join(5)
        upstream.close()

    return handler


def echo(server: Server, sock: socket.socket, number: int) -> None:
    received = b""
    while True:
        data = sock.recv(65536)
        if not data:
            break
        received += data
        server.requests.append(Request("echo", [], received))  # recorded before the client can see the echo
        sock.sendall(data)


class ProxyTest(PoolTest):
    def test_http_through_proxy_uses_absolute_url(self) -> None:
        proxy = self.serve(keep_alive(b"via proxy"))
        pool = self.pool(environ={"HTTP_PROXY": f"http://us%40er:p%3Ass@127.0.0.1:{proxy.port}"})
        url = "http://api.example.test:8080/v1/models?x=1"
        self.assertEqual(pool.request("GET", url, {"Authorization": "Bearer k"}).read(), b"via proxy")
        self.assertEqual(pool.request("GET", "http://api.example.test/", {}).read(), b"via proxy")
        auth = "Basic " + base64.b64encode(b"us@er:p:ss").decode()
        self.assertEqual(
            [(r.line, r.headers) for r in proxy.requests],
            [
                (
                    "GET http://api.example.test:8080/v1/models?x=1 HTTP/1.1",
                    [("Host", "api.example.test:8080"), ("Authorization", "Bearer k"), ("Proxy-Authorization", auth)],
                ),
                (
                    "GET http://api.example.test/ HTTP/1.1",
                    [("Host", "api.example.test"), ("Proxy-Authorization", auth)],
                ),
            ],
        )
        self.assertEqual(proxy.connections, 2)

    def test_https_through_connect_tunnel(self) -> None:
        target = self.serve(echo)
        proxy = self.serve(tunnel_proxy(target.port))
        pool = self.pool(environ={"https_proxy": f"http://user:{SECRET}@127.0.0.1:{proxy.port}"}, connect_timeout=2)
        with self.assertRaises(ConnectError) as caught:  # the echo target answers the TLS hello with itself
            pool.request("GET", "https://api.example.test/v1", {})
        message = str(caught.exception)
        self.assertTrue(
            message.startswith(f"cannot connect to api.example.test:443 through proxy 127.0.0.1:{proxy.port}: "),
            message,
        )
        self.assertNotIn(SECRET, message)
        (connect,) = proxy.requests
        self.assertIn(connect.line, ("CONNECT api.example.test:443 HTTP/1.0", "CONNECT api.example.test:443 HTTP/1.1"))
        auth = "Basic " + base64.b64encode(f"user:{SECRET}".encode()).decode()
        self.assertEqual(connect.header("Proxy-Authorization"), auth)
        self.assertEqual(target.requests[0].body[:2], b"\x16\x03")  # a TLS handshake record went through

    def test_refused_tunnel_is_connect_error(self) -> None:
        proxy = self.serve(tunnel_proxy(0, "407 Proxy Authentication Required"))
        pool = self.pool(environ={"HTTPS_PROXY": f"http://user:{SECRET}@127.0.0.1:{proxy.port}"})
        with self.assertRaises(ConnectError) as caught:
            pool.request("GET", "https://api.example.test/v1", {})
        self.assertIn("407 Proxy Authentication Required", str(caught.exception))
        self.assertNotIn(SECRET, str(caught.exception))

    def test_unsupported_proxy_scheme_fails_only_where_used(self) -> None:
        server = self.serve(keep_alive())
        pool = self.pool(environ={"all_proxy": f"socks5://u:{SECRET}@proxy.test:1080", "NO_PROXY": "direct.test"})
        with self.assertRaises(ConnectError) as caught:
            pool.request("GET", "https://api.example.test/", {})
        self.assertEqual(
            str(caught.exception), "all_proxy uses the proxy scheme 'socks5'; only http:// proxies are supported"
        )
        self.assertEqual(pool.request("GET", server.url(), {}).read(), b"hello")
        self.assertIsNone(pool.proxy_for("https://direct.test/"))

    def test_proxy_selection(self) -> None:
        cases: List[Tuple[Dict[str, str], str, Optional[str]]] = [
            ({}, "https://api.example.test/", None),
            ({"HTTPS_PROXY": "http://upper:2", "https_proxy": "http://lower:1"}, "https://a.test/", "http://lower:1"),
            ({"HTTPS_PROXY": "upper:2"}, "https://a.test/", "http://upper:2"),
            ({"HTTPS_PROXY": "http://p"}, "https://a.test/", "http://p:80"),
            ({"HTTPS_PROXY": "http://u:pw@p:8/"}, "https://a.test/", "http://p:8"),
            ({"HTTPS_PROXY": "http://[fd00::1]:8"}, "https://a.test/", "http://[fd00::1]:8"),
            ({"HTTP_PROXY": "http://h:4"}, "https://a.test/", None),
            ({"HTTP_PROXY": "http://h:4"}, "http://a.test/", "http://h:4"),
            ({"HTTPS_PROXY": "http://s:5"}, "http://a.test/", None),
            ({"ALL_PROXY": "http://all:3"}, "https://a.test/", "http://all:3"),
            ({"ALL_PROXY": "http://all:3"}, "http://a.test/", "http://all:3"),
            ({"ALL_PROXY": "http://all:3", "HTTPS_PROXY": "http://s:5"}, "https://a.test/", "http://s:5"),
            ({"https_proxy": "", "ALL_PROXY": "http://all:3"}, "https://a.test/", "http://all:3"),
            ({"HTTPS_PROXY": "http://s:5", "no_proxy": "", "NO_PROXY": "*"}, "https://a.test/", "http://s:5"),
            ({"HTTPS_PROXY": "http://s:5", "no_proxy": "a.test", "NO_PROXY": "*"}, "https://a.test/", None),
        ]
        for environ, url, expected in cases:
            with self.subTest(environ=environ, url=url):
                self.assertEqual(Pool(environ=environ).proxy_for(url), expected)

    def test_no_proxy(self) -> None:
        proxied = "http://proxy.corp:3128"
        cases = [
            ("", "https://api.openai.com/v1", proxied),
            ("", "http://localhost:11434/", None),
            ("", "http://127.0.0.1:8080/", None),
            ("", "http://[::1]:8080/", None),
            ("*", "https://api.openai.com/", None),
            ("openai.com", "https://api.openai.com/", None),
            ("openai.com", "https://openai.com/", None),
            ("openai.com", "https://notopenai.com/", proxied),
            ("openai.com", "https://openai.com.evil.test/", proxied),
            (".openai.com", "https://api.openai.com/", None),
            (".openai.com", "https://openai.com/", None),
            ("*.openai.com", "https://api.openai.com/", None),
            ("OpenAI.COM", "https://API.openai.com/", None),
            (" a.test , openai.com ,", "https://api.openai.com/", None),
            ("a.test,b.test", "https://api.openai.com/", proxied),
            ("openai.com:8443", "https://api.openai.com:8443/", None),
            ("openai.com:8443", "https://api.openai.com/", proxied),
            ("openai.com:443", "https://api.openai.com/", None),
            ("10.0.0.0/8", "http://10.1.2.3:11434/", None),
            ("10.0.0.0/8", "http://11.1.2.3/", proxied),
            ("10.0.0.0/8", "http://ten.example/", proxied),
            ("fd00::/8", "http://[fd00::5]/", None),
            ("not/a-network,openai.com", "https://api.openai.com/", None),
            ("192.168.1.5", "http://192.168.1.5/", None),
            ("192.168.1.5", "http://192.168.1.50/", proxied),
            ("[fd00::1]:8080", "http://[fd00::1]:8080/", None),
            ("[fd00::1]:8080", "http://[fd00::1]:8081/", proxied),
            ("fd00::1", "http://[fd00::1]/", None),
        ]
        for no_proxy, url, expected in cases:
            with self.subTest(no_proxy=no_proxy, url=url):
                pool = Pool(environ={"ALL_PROXY": "http://proxy.corp:3128", "NO_PROXY": no_proxy})
                self.assertEqual(pool.proxy_for(url), expected)


class TlsTest(PoolTest):
    cert = ""
    server_context: ssl.SSLContext

    @classmethod
    def setUpClass(cls) -> None:
        cls.cert, cls.server_context = server_certificate(cls, "DNS:localhost,DNS:api.example.test,IP:127.0.0.1")

    def test_ca_file(self) -> None:
        server = self.serve(keep_alive(b"secure"), self.server_context)
        pool = self.pool(ca_file=self.cert)
        for _ in range(3):
            self.assertEqual(pool.request("GET", server.url("/v1"), {}).read(), b"secure")
        self.assertEqual(server.connections, 1)

    def test_ssl_cert_file_from_environ(self) -> None:
        server = self.serve(keep_alive(b"secure"), self.server_context)
        pool = self.pool(environ={"SSL_CERT_FILE": self.cert})
        self.assertEqual(pool.request("GET", server.url(), {}).read(), b"secure")

    def test_untrusted_certificate_is_connect_error(self) -> None:
        server = self.serve(keep_alive(b"secure"), self.server_context)
        with self.assertRaises(ConnectError) as caught:
            self.pool().request("GET", server.url(), {})
        self.assertIn("CERTIFICATE_VERIFY_FAILED", str(caught.exception))

    def test_missing_ca_file_is_connect_error(self) -> None:
        with self.assertRaises(ConnectError) as caught:
            self.pool(ca_file=os.path.join(os.path.dirname(self.cert), "missing.pem")).request(
                "GET", "https://127.0.0.1:9/", {}
            )
        self.assertTrue(str(caught.exception).startswith("cannot load CA certificates: "))

    def test_https_through_connect_tunnel(self) -> None:
        target = self.serve(keep_alive(b"tunnelled"), self.server_context)
        proxy = self.serve(tunnel_proxy(target.port))
        pool = self.pool(ca_file=self.cert, environ={"HTTPS_PROXY": f"127.0.0.1:{proxy.port}"})
        for _ in range(2):
            self.assertEqual(pool.request("GET", "https://api.example.test/v1", {}).read(), b"tunnelled")
        self.assertEqual([r.line for r in target.requests], ["GET /v1 HTTP/1.1"] * 2)
        self.assertEqual(target.requests[0].header("Host"), "api.example.test")
        self.assertEqual(proxy.connections, 1)
        self.assertIsNone(proxy.requests[0].header("Proxy-Authorization"))

    def test_close_from_another_thread_unblocks_tls_reader(self) -> None:
        def handler(server: Server, sock: socket.socket, number: int) -> None:
            server.read_request(sock.makefile("rb"))
            sock.sendall(CHUNKED_HEAD + chunk(b"first"))
            server.stopped.wait(5)

        server = self.serve(handler, self.server_context)
        response = self.pool(ca_file=self.cert).request("GET", server.url(), {})
        self.assert_close_unblocks(response, lambda r: list(r.chunks()))


if __name__ == "__main__":
    unittest.main()
