"""remote_image: the address policy as a pure function, and real fetches from a loopback http.server."""

import ipaddress
import socket
import time
import unittest

from pigw.net.remote_image import Fetcher, RemoteImageError, public_address, sniff
from tests.support.image_server import GIF, JPEG, PNG, WEBP, ImageServer, loopback_or_public
from tests.support.tls import server_certificate


class AddressPolicy(unittest.TestCase):
    def test_refused_address_classes(self) -> None:
        refused = {
            "private": ["10.0.0.1", "172.16.5.4", "192.168.1.1", "fd00::1", "fc00::1"],
            "shared (CGNAT)": ["100.64.0.1"],
            "loopback": ["127.0.0.1", "127.255.0.2", "::1"],
            "link-local (cloud metadata)": ["169.254.169.254", "fe80::1"],
            "multicast": ["224.0.0.1", "239.1.2.3", "ff02::1"],
            "reserved / broadcast": ["240.0.0.1", "255.255.255.255"],
            "unspecified": ["0.0.0.0", "::"],
            "documentation": ["192.0.2.1", "2001:db8::1"],
            "IPv4-mapped IPv6": ["::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254"],
            "IPv4-compatible IPv6": ["::127.0.0.1"],
            "6to4 of a private IPv4": ["2002:7f00:1::1", "2002:a00:1::"],
            "NAT64 of a private IPv4": ["64:ff9b::a00:1", "64:ff9b::7f00:1"],
            "Teredo": ["2001:0:4136:e378:8000:63bf:3fff:fdd2"],
        }
        for kind, addresses in refused.items():
            for text in addresses:
                with self.subTest(kind=kind, address=text):
                    self.assertFalse(public_address(ipaddress.ip_address(text)))

    def test_public_addresses_pass(self) -> None:
        for text in (
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::",
        ):
            with self.subTest(address=text):
                self.assertTrue(public_address(ipaddress.ip_address(text)))

    def test_sniffed_types(self) -> None:
        self.assertEqual(
            [sniff(data) for data in (PNG, JPEG, GIF, b"GIF87a", WEBP, b"RIFF\x00\x00\x00\x00WAVE", b"<svg/>", b"")],
            ["image/png", "image/jpeg", "image/gif", "image/gif", "image/webp", None, None, None],
        )

    def test_urls_refused_before_any_connection(self) -> None:
        cases = [
            ("ftp://example.com/a.png", "must be an http:// or https:// URL with a host"),
            ("file:///etc/passwd", "must be an http:// or https:// URL with a host"),
            ("http:///a.png", "must be an http:// or https:// URL with a host"),
            ("http://user:secret@example.com/a.png", "must not carry a user name or password"),
            ("http://example.com:99999/a.png", "is not a valid URL"),
            ("http://" + "a" * 70 + ".com/", "host is not a valid name"),
        ]
        for url, message in cases:
            with self.subTest(url=url):
                with self.assertRaises(RemoteImageError) as caught:
                    Fetcher(allow_address=lambda address: False).fetch(url)
                self.assertIn(message, str(caught.exception))
                self.assertNotIn("secret", str(caught.exception))


class Fetching(unittest.TestCase):
    def setUp(self) -> None:
        self.server = ImageServer()
        self.addCleanup(self.server.stop)
        self.fetcher = Fetcher(max_bytes=1000, total_timeout=5.0, allow_address=loopback_or_public)

    def refused(self, url: str, fetcher=None) -> str:
        with self.assertRaises(RemoteImageError) as caught:
            (fetcher or self.fetcher).fetch(url)
        return str(caught.exception)

    def test_png_with_exact_request_headers(self) -> None:
        self.assertEqual(self.fetcher.fetch(self.server.url("/ok.png")), (PNG, "image/png"))
        self.assertEqual(
            self.server.seen,
            [
                (
                    "/ok.png",
                    {
                        "host": "127.0.0.1:%d" % self.server.port,
                        "user-agent": "pigw-image-fetch",
                        "accept": "image/png, image/jpeg, image/gif, image/webp",
                        "accept-encoding": "identity",
                        "connection": "close",
                    },
                )
            ],
        )

    def test_host_name_is_sent_while_the_checked_address_is_dialled(self) -> None:
        self.assertEqual(self.fetcher.fetch(self.server.url("/ok.png?size=1", "localhost")), (PNG, "image/png"))
        self.assertEqual(self.server.seen[0][0], "/ok.png?size=1")
        self.assertEqual(self.server.seen[0][1]["host"], "localhost:%d" % self.server.port)

    def test_type_comes_from_the_bytes(self) -> None:
        self.assertEqual(self.fetcher.fetch(self.server.url("/mislabelled")), (PNG, "image/png"))

    def test_too_big(self) -> None:
        for path in ("/big", "/big-chunked"):
            with self.subTest(path=path):
                self.assertEqual(
                    self.refused(self.server.url(path)), "the image is larger than remoteImageMaxBytes (1000 bytes)"
                )

    def test_wrong_type(self) -> None:
        self.assertEqual(
            self.refused(self.server.url("/html")),
            "the URL does not serve an image pigw accepts (Content-Type 'text/html'; accepted: "
            "image/png, image/jpeg, image/gif, image/webp)",
        )
        self.assertEqual(
            self.refused(self.server.url("/lying")), "the URL's content is not a PNG, JPEG, GIF or WebP image"
        )
        self.assertEqual(self.refused(self.server.url("/missing")), "the image server answered HTTP 404")

    def test_redirects_up_to_three(self) -> None:
        self.assertEqual(self.fetcher.fetch(self.server.url("/redirect/3")), (PNG, "image/png"))
        self.assertEqual(
            [path for path, _headers in self.server.seen], ["/redirect/3", "/redirect/2", "/redirect/1", "/ok.png"]
        )
        self.server.seen.clear()
        self.assertEqual(self.refused(self.server.url("/redirect/4")), "the image URL redirects more than 3 times")
        self.assertEqual(
            [path for path, _headers in self.server.seen], ["/redirect/4", "/redirect/3", "/redirect/2", "/redirect/1"]
        )
        self.assertEqual(
            self.refused(self.server.url("/no-location")), "the image server answered a redirect without a Location"
        )

    def test_redirect_to_a_forbidden_address_or_scheme(self) -> None:
        self.assertEqual(
            self.refused(self.server.url("/to-metadata")),
            "the image URL points to a private, local or reserved network address, which pigw does not fetch",
        )
        self.assertEqual(
            self.refused(self.server.url("/to-ftp")), "the image URL must be an http:// or https:// URL with a host"
        )

    def test_default_policy_refuses_loopback_without_connecting(self) -> None:
        for host in ("127.0.0.1", "localhost", "[::1]"):
            with self.subTest(host=host):
                self.assertEqual(
                    self.refused(self.server.url("/ok.png", host), Fetcher()),
                    "the image URL points to a private, local or reserved network address, which pigw does not fetch",
                )
        self.assertEqual(self.server.seen, [])

    def test_slow_servers_time_out_on_one_deadline(self) -> None:
        fetcher = Fetcher(max_bytes=5000, total_timeout=0.4, allow_address=loopback_or_public)
        for path in ("/slow-head", "/slow-body", "/drip"):
            with self.subTest(path=path):
                started = time.monotonic()
                self.assertEqual(
                    self.refused(self.server.url(path), fetcher), "the image server did not answer within 0.4 s"
                )
                self.assertLess(time.monotonic() - started, 1.5)

    def test_nothing_listening(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.assertEqual(self.refused("http://127.0.0.1:%d/ok.png" % port), "could not connect to the image server")


class TlsFetching(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.cert, cls.context = server_certificate(cls, "DNS:localhost")

    def setUp(self) -> None:
        self.names = []
        self.context.sni_callback = lambda _sock, name, _context: self.names.append(name)
        self.server = ImageServer(self.context)
        self.addCleanup(self.server.stop)
        self.fetcher = Fetcher(total_timeout=5.0, ca_file=self.cert, allow_address=loopback_or_public)

    def test_sni_and_certificate_use_the_name(self) -> None:
        self.assertEqual(self.fetcher.fetch("https://localhost:%d/ok.png" % self.server.port), (PNG, "image/png"))
        self.assertEqual(self.names, ["localhost"])
        self.assertEqual(self.server.seen[0][1]["host"], "localhost:%d" % self.server.port)

    def test_certificate_for_another_name_is_refused(self) -> None:
        with self.assertRaises(RemoteImageError) as caught:
            self.fetcher.fetch("https://127.0.0.1:%d/ok.png" % self.server.port)
        self.assertEqual(
            str(caught.exception),
            "the TLS handshake with the image server failed (certificate not valid for its name?)",
        )
        self.assertEqual(self.server.seen, [])


if __name__ == "__main__":
    unittest.main()
