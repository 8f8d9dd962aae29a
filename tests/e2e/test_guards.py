"""Guards of the built pigw.pyz, attacked over real sockets: Host, gateway key, body cap, slow and flooding clients."""

import json
import os
import shutil
import socket
import tempfile
import time
import unittest

from tests.support.gateway_process import GatewayProcess

GATEWAY_KEY = "pigw-gateway-canary-93e1"


def read_response(sock: socket.socket, timeout: float = 3.0) -> bytes:
    """Everything the server sends until it closes the connection (or timeout passes)."""
    return read_until_closed(sock, timeout)[0]


def read_until_closed(sock: socket.socket, timeout: float):
    """(bytes received, whether the server closed the connection within timeout)."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            piece = sock.recv(65536)
        except socket.timeout:
            return data, False
        if not piece:
            return data, True
        data += piece


class Guards(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.agent_dir = tempfile.mkdtemp(prefix="pigw-guards-")
        with open(os.path.join(cls.agent_dir, "gateway.json"), "w") as handle:
            json.dump(
                {"maxBodyBytes": 1000, "maxConnections": 3, "idleTimeoutSeconds": 1.2, "allowedHosts": ["pigw.test"]},
                handle,
            )
        env = {"HOME": cls.agent_dir, "PIGW_API_KEY": GATEWAY_KEY}
        cls.gateway = GatewayProcess(["--auth-dir", cls.agent_dir, "--demo"], env).start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.gateway.stop()
        shutil.rmtree(cls.agent_dir, ignore_errors=True)

    def auth(self, **extra):
        headers = {"Authorization": "Bearer " + GATEWAY_KEY}
        headers.update(extra)
        return headers

    def raw(self, data: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", self.gateway.port)) as sock:
            sock.sendall(data)
            return read_response(sock)

    def test_gateway_key_required_and_checked(self) -> None:
        status, _headers, body = self.gateway.request("GET", "/v1/models")
        self.assertEqual(status, 401)
        self.assertEqual(json.loads(body)["error"]["type"], "authentication_error")
        self.assertEqual(self.gateway.request("GET", "/v1/models", headers={"Authorization": "Bearer wrong"})[0], 401)
        self.assertEqual(self.gateway.request("GET", "/v1/models", headers={"x-api-key": GATEWAY_KEY})[0], 200)
        self.assertEqual(self.gateway.request("GET", "/v1/models", headers=self.auth())[0], 200)
        self.assertEqual(self.gateway.request("GET", "/healthz")[0], 200)
        self.assertNotIn(GATEWAY_KEY, self.gateway.stderr_text)

    def test_host_header_must_be_loopback_or_allowed(self) -> None:
        for host, status in (
            ("evil.example", 403),
            ("127.0.0.1:%d" % self.gateway.port, 200),
            ("localhost:%d" % self.gateway.port, 200),
            ("[::1]:%d" % self.gateway.port, 200),
            ("127.0.0.1:1", 403),
            ("pigw.test", 200),
        ):
            with self.subTest(host=host):
                got = self.gateway.request("GET", "/v1/models", headers=self.auth(Host=host))[0]
                self.assertEqual(got, status)

    def test_body_cap_counts_chunked_uploads(self) -> None:
        big = json.dumps({"model": "pigw/demo", "messages": [{"role": "user", "content": "x" * 3000}]}).encode()
        status, _headers, body = self.gateway.request("POST", "/v1/chat/completions", big, self.auth())
        self.assertEqual(status, 413)
        self.assertEqual(json.loads(body)["error"]["code"], "request_too_large")
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(big[i : i + 500]), big[i : i + 500]) for i in range(0, len(big), 500))
        answer = self.raw(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
            + GATEWAY_KEY.encode()
            + b"\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
            + chunks
            + b"0\r\n\r\n"
        )
        self.assertTrue(answer.startswith(b"HTTP/1.1 413 "), answer[:80])
        small = json.dumps({"model": "pigw/demo", "messages": [{"role": "user", "content": "hi"}]}).encode()
        answer = self.raw(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer "
            + GATEWAY_KEY.encode()
            + b"\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(small), small)
        )
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), answer[:80])

    def test_slow_clients_are_cut_and_a_flood_gets_503(self) -> None:
        idle = [socket.create_connection(("127.0.0.1", self.gateway.port)) for _ in range(3)]
        try:
            idle[0].sendall(b"GET /healthz HTTP/1.1\r\nHo")  # a slowloris head that never ends
            time.sleep(0.2)  # all three accepted; idleTimeoutSeconds (1.2) leaves a loaded machine room
            started = time.monotonic()
            with socket.create_connection(("127.0.0.1", self.gateway.port)) as extra:
                answer = read_response(extra)
            self.assertTrue(answer.startswith(b"HTTP/1.1 503 "), answer[:80])
            self.assertLess(time.monotonic() - started, 1.0)
            busy = json.loads(answer.split(b"\r\n\r\n", 1)[1])  # both error shapes: OpenAI's and Anthropic's
            self.assertEqual((busy["type"], busy["error"]["type"]), ("error", "overloaded_error"))
            self.assertEqual(set(busy["error"]), {"type", "message", "param", "code"})
            for sock in idle:
                self.assertTrue(read_until_closed(sock, timeout=3.0)[1])  # idle and slow clients are cut
        finally:
            for sock in idle:
                sock.close()
        time.sleep(0.1)
        self.assertEqual(self.gateway.request("GET", "/healthz")[0], 200)

    def test_a_body_that_stalls_gets_408_and_the_connection_closed(self) -> None:
        with socket.create_connection(("127.0.0.1", self.gateway.port)) as sock:
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                + GATEWAY_KEY.encode()
                + b'\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model": '
            )
            started = time.monotonic()
            answer, closed = read_until_closed(sock, timeout=3.0)
        self.assertGreater(time.monotonic() - started, 1.0)  # idleTimeoutSeconds 1.2
        self.assertTrue(closed)
        self.assertTrue(answer.startswith(b"HTTP/1.1 408 "), answer[:80])
        self.assertEqual(
            json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"],
            {
                "message": "The request body did not arrive within idleTimeoutSeconds.",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            },
        )

    def test_garbage_request_lines_get_json_errors(self) -> None:
        for raw in (
            b"NONSENSE\r\n\r\n",
            b"GET /healthz HTTP/9.9\r\n\r\n",
            b"GET " + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
        ):
            with self.subTest(raw=raw[:20]):
                answer = self.raw(raw)
                self.assertRegex(answer[:12], rb"^HTTP/1\.[01] (400|414|505)")
                self.assertIn(b'"error"', answer)
        self.assertEqual(self.gateway.request("GET", "/healthz")[0], 200)

    def test_malformed_and_oversized_header_blocks(self) -> None:
        cases = (
            (b"GET /healthz HTTP/2.0\r\n\r\n", b"505", b"Unsupported HTTP version ('HTTP/2.0')."),
            (b"GET /healthz HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n", b"400", b"Malformed header line"),
            (b"GET /healthz HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n", b"431", b"longer than 65536 bytes"),
            (b"GET /healthz HTTP/1.1\r\n" + b"X: y\r\n" * 101 + b"\r\n", b"431", b"More than 100 header lines."),
        )
        for raw, status, message in cases:
            with self.subTest(status=status, message=message):
                answer = self.raw(raw)
                self.assertEqual(answer[9:12], status)
                self.assertIn(b"Connection: close\r\n", answer)
                self.assertIn(message, json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["message"].encode())


class BrowserAndRateGuards(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.agent_dir = tempfile.mkdtemp(prefix="pigw-cors-")
        with open(os.path.join(cls.agent_dir, "gateway.json"), "w") as handle:
            json.dump({"rateLimit": 4}, handle)
        cls.log_path = os.path.join(cls.agent_dir, "logs", "pigw.log")
        os.makedirs(os.path.dirname(cls.log_path))
        args = [
            "--auth-dir",
            cls.agent_dir,
            "--demo",
            "--allow-origin",
            "http://localhost:3000",
            "--log-file",
            cls.log_path,
        ]
        cls.gateway = GatewayProcess(args, {"HOME": cls.agent_dir}).start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.gateway.stop()
        shutil.rmtree(cls.agent_dir, ignore_errors=True)

    def test_cors_preflight_and_simple_requests(self) -> None:
        asked = "authorization, content-type, x-stainless-os, x-stainless-retry-count"
        status, headers, body = self.gateway.request(
            "OPTIONS",
            "/v1/chat/completions",
            headers={
                "Origin": "http://localhost:3000",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": asked,
            },
        )
        self.assertEqual((status, body), (204, b""))
        self.assertEqual(headers["Access-Control-Allow-Origin"], "http://localhost:3000")
        self.assertEqual(headers["Access-Control-Allow-Headers"], asked)
        self.assertEqual(headers["Access-Control-Allow-Methods"], "OPTIONS, POST")
        self.assertIsNone(headers["Access-Control-Allow-Credentials"])
        status, _headers, _body = self.gateway.request(
            "OPTIONS",
            "/v1/chat/completions",
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        )
        self.assertEqual(status, 403)
        _status, headers, _body = self.gateway.request("GET", "/healthz", headers={"Origin": "http://evil.example"})
        self.assertIsNone(headers["Access-Control-Allow-Origin"])
        _status, headers, _body = self.gateway.request("GET", "/healthz", headers={"Origin": "http://localhost:3000"})
        self.assertEqual(headers["Access-Control-Allow-Origin"], "http://localhost:3000")
        self.assertEqual(headers["Vary"], "Origin")

    def test_rate_limit_per_key_and_log_file_mode(self) -> None:
        statuses = [
            self.gateway.request("GET", "/v1/models", headers={"Authorization": "Bearer client-a"})[0] for _ in range(5)
        ]
        self.assertEqual(statuses, [200, 200, 200, 200, 429])
        status, headers, body = self.gateway.request("GET", "/v1/models", headers={"Authorization": "Bearer client-a"})
        self.assertEqual((status, headers["Retry-After"]), (429, "15"))
        self.assertEqual(json.loads(body)["error"]["type"], "rate_limit_error")
        self.assertEqual(
            self.gateway.request("GET", "/v1/models", headers={"Authorization": "Bearer client-b"})[0], 200
        )
        self.assertEqual(os.stat(self.log_path).st_mode & 0o777, 0o600)
        deadline = time.monotonic() + 3.0  # access-log lines are written together, up to 0.2 s late
        while True:
            with open(self.log_path) as handle:
                lines = [json.loads(line) for line in handle]
            if 429 in [line.get("status") for line in lines] or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertIn(429, [line.get("status") for line in lines])
        self.assertNotIn("client-a", json.dumps(lines))


class Binding(unittest.TestCase):
    def test_ipv6_loopback(self) -> None:
        if not socket.has_ipv6:
            self.skipTest("no IPv6 on this machine")
        try:
            with socket.socket(socket.AF_INET6) as probe:
                probe.bind(("::1", 0))
        except OSError:
            self.skipTest("::1 cannot be bound here")
        home = tempfile.mkdtemp(prefix="pigw-v6-")
        self.addCleanup(shutil.rmtree, home, True)
        process = GatewayProcess(["--auth-dir", home, "--bind", "::1"], {"HOME": home})
        process.start()
        try:
            self.assertIn("http://[::1]:%d/v1" % process.port, "".join(process.stdout_lines))
            import http.client

            connection = http.client.HTTPConnection("::1", process.port, timeout=5)
            connection.request("GET", "/healthz")
            self.assertEqual(connection.getresponse().status, 200)
            connection.close()
        finally:
            process.stop()


if __name__ == "__main__":
    unittest.main()
