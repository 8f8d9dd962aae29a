"""A loopback image server for remote-image tests: good, oversized, mistyped, redirecting and slow answers."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pigw.net.remote_image import public_address

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(40))
GIF = b"GIF89a" + bytes(20)
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(20)
JPEG = b"\xff\xd8\xff\xe0" + bytes(20)


def loopback_or_public(address) -> bool:
    """The default policy plus this machine's loopback, which the tests serve from."""
    return address.is_loopback or public_address(address)


class ImageServer(ThreadingHTTPServer):
    """Serves the routes of ImageHandler on 127.0.0.1 and records every request's path and headers."""

    daemon_threads = True

    def __init__(self, tls=None) -> None:
        super().__init__(("127.0.0.1", 0), ImageHandler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.seen = []
        self.stopping = threading.Event()
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return "http://%s:%d%s" % (host, self.port, path)

    def handle_error(self, request, client_address) -> None:
        pass  # clients that stop reading (too big, timed out) break the connection on purpose

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


class ImageHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append((self.path, {name.lower(): value for name, value in self.headers.items()}))
        path = self.path.split("?", 1)[0]
        if path.startswith("/redirect/"):
            left = int(path.rsplit("/", 1)[1])
            return self.answer(302, {"Location": "/redirect/%d" % (left - 1) if left > 1 else "/ok.png"})
        routes = {
            "/ok.png": lambda: self.answer(200, {"Content-Type": "image/png"}, PNG),
            "/mislabelled": lambda: self.answer(200, {"Content-Type": "image/jpeg; charset=binary"}, PNG),
            "/big": lambda: self.answer(200, {"Content-Type": "image/png"}, PNG + bytes(5000)),
            "/big-chunked": self.big_chunked,
            "/html": lambda: self.answer(200, {"Content-Type": "text/html"}, b"<html>hi</html>"),
            "/lying": lambda: self.answer(200, {"Content-Type": "image/png"}, b"<html>not an image</html>"),
            "/missing": lambda: self.answer(404, {"Content-Type": "text/plain"}, b"no"),
            "/no-location": lambda: self.answer(302, {}),
            "/to-metadata": lambda: self.answer(302, {"Location": "http://169.254.169.254/latest/meta-data/"}),
            "/to-ftp": lambda: self.answer(302, {"Location": "ftp://example.com/a.png"}),
            "/slow-head": self.slow_head,
            "/slow-body": self.slow_body,
            "/drip": self.drip,
        }
        routes[path]()

    def answer(self, status: int, headers: dict, body: bytes = b"") -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def big_chunked(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for piece in [PNG] + [bytes(500)] * 10:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        self.wfile.write(b"0\r\n\r\n")

    def slow_head(self) -> None:
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        self.wfile.flush()
        self.server.stopping.wait(5)

    def slow_body(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(PNG[:10])
        self.wfile.flush()
        self.server.stopping.wait(5)

    def drip(self) -> None:
        """A byte every 50 ms: every read is quick, the whole answer is not."""
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        for byte in (PNG + bytes(1000))[:1000]:
            if self.server.stopping.wait(0.05):
                return
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return
