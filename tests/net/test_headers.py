"""Header blocks: the fast reader against the exact lookups pigw and http.client make, and http.client's own parser."""

import http.client
import io
import random
import unittest

from pigw.net.headers import MAX_HEADERS, MAX_LINE, HeaderError, Headers, Response, read_headers


def parse(block: bytes) -> Headers:
    return read_headers(io.BytesIO(block))


class ReadHeaders(unittest.TestCase):
    def test_lookups_ignore_case_and_keep_order(self) -> None:
        headers = parse(
            b"Host: 127.0.0.1:4000\r\nContent-Type:application/json \r\nX-Dup: one\r\nx-dup: two\r\n\r\nBODY"
        )
        self.assertEqual(headers.get("host"), "127.0.0.1:4000")
        self.assertEqual(headers.get("CONTENT-TYPE"), "application/json")
        self.assertEqual(headers["x-DUP"], "one")
        self.assertEqual(headers.get_all("X-Dup"), ["one", "two"])
        self.assertIsNone(headers.get_all("missing"))
        self.assertEqual(headers.get("missing", "d"), "d")
        self.assertIsNone(headers["missing"])
        self.assertIn("content-type", headers)
        self.assertNotIn("accept", headers)
        self.assertEqual(
            headers.items(),
            [
                ("Host", "127.0.0.1:4000"),
                ("Content-Type", "application/json"),
                ("X-Dup", "one"),
                ("x-dup", "two"),
            ],
        )
        self.assertEqual(list(headers), ["Host", "Content-Type", "X-Dup", "x-dup"])
        self.assertEqual(len(headers), 4)

    def test_stops_at_blank_line_leaving_the_body(self) -> None:
        stream = io.BytesIO(b"A: 1\nB: 2\n\nrest")
        self.assertEqual(read_headers(stream).items(), [("A", "1"), ("B", "2")])
        self.assertEqual(stream.read(), b"rest")
        self.assertEqual(parse(b"A: 1\r\n").items(), [("A", "1")])  # end of input ends the block
        self.assertEqual(parse(b"\r\n").items(), [])

    def test_folded_line_is_joined(self) -> None:
        self.assertEqual(parse(b"X-Long: one\r\n  two\r\n\tthree\r\n\r\n").get("x-long"), "one two three")

    def test_malformed_lines(self) -> None:
        for block in (b"no colon here\r\n\r\n", b": empty name\r\n\r\n", b"Bad Name: x\r\n\r\n", b"Sp : x\r\n\r\n"):
            with self.subTest(block=block), self.assertRaises(HeaderError) as caught:
                parse(block)
            self.assertFalse(caught.exception.too_large)
        with self.assertRaises(HeaderError):
            parse(b" leading continuation\r\n\r\n")

    def test_limits(self) -> None:
        with self.assertRaises(HeaderError) as caught:
            parse(b"X: " + b"a" * MAX_LINE + b"\r\n\r\n")
        self.assertTrue(caught.exception.too_large)
        self.assertEqual(str(caught.exception), "A header line is longer than 65536 bytes.")
        with self.assertRaises(HeaderError) as caught:
            parse(b"".join(b"H%d: v\r\n" % n for n in range(MAX_HEADERS + 1)) + b"\r\n")
        self.assertTrue(caught.exception.too_large)
        self.assertEqual(len(parse(b"".join(b"H%d: v\r\n" % n for n in range(MAX_HEADERS)) + b"\r\n")), MAX_HEADERS)

    def test_agrees_with_http_client_on_random_valid_blocks(self) -> None:
        """Seeded property test: every lookup equals the email-based parser's on well-formed blocks."""
        rng = random.Random(7)
        names = ["Host", "Content-Type", "content-length", "X-Api-Key", "Authorization", "Accept", "X-Y", "te"]
        alphabet = "abcXYZ019 -_/;=,.:\"'()@"
        for _case in range(400):
            lines = []
            for _line in range(rng.randint(0, 12)):
                name = rng.choice(names)
                name = "".join(c.upper() if rng.random() < 0.3 else c for c in name)
                value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20))).strip()
                lines.append("%s:%s%s" % (name, rng.choice(["", " ", "  "]), value))
            block = ("".join(line + "\r\n" for line in lines) + "\r\n").encode("latin-1")
            ours = parse(block)
            theirs = http.client.parse_headers(io.BytesIO(block))
            for name in names:
                self.assertEqual(ours.get(name), theirs.get(name), (block, name))
                self.assertEqual(ours.get_all(name), theirs.get_all(name), (block, name))
            self.assertEqual(ours.items(), list(theirs.items()), block)


class FastResponse(unittest.TestCase):
    def response(self, raw: bytes, method: str = "POST") -> Response:
        class Sock:
            def makefile(self, mode):
                return io.BytesIO(raw)

        response = Response(Sock(), method=method)  # type: ignore[arg-type]
        response.begin()
        return response

    def test_chunked_body_and_headers(self) -> None:
        response = self.response(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n0\r\n\r\n"
        )
        self.assertEqual((response.status, response.reason, response.version), (200, "OK", 11))
        self.assertTrue(response.chunked)
        self.assertFalse(response.will_close)
        self.assertEqual(response.getheader("content-type"), "text/event-stream")
        self.assertEqual(response.read(), b"hello")

    def test_length_close_and_interim_continue(self) -> None:
        response = self.response(
            b"HTTP/1.1 100 Continue\r\nX: 1\r\n\r\nHTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\n"
            b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
        )
        self.assertEqual((response.status, response.length, response.will_close), (429, 2, True))
        self.assertEqual(response.msg.get("retry-after"), "3")
        self.assertEqual(response.read(), b"{}")

    def test_no_length_means_read_to_close_and_head_has_no_body(self) -> None:
        self.assertTrue(self.response(b"HTTP/1.0 200 OK\r\n\r\nall").will_close)
        self.assertEqual(self.response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", "HEAD").length, 0)
        self.assertIsNone(self.response(b"HTTP/1.1 200 OK\r\nContent-Length: -4\r\n\r\n").length)

    def test_unknown_protocol_and_bad_headers(self) -> None:
        with self.assertRaises(http.client.UnknownProtocol):
            self.response(b"HTTP/2.0 200 OK\r\n\r\n")
        with self.assertRaises(http.client.HTTPException):
            self.response(b"HTTP/1.1 200 OK\r\nbroken header\r\n\r\n")


if __name__ == "__main__":
    unittest.main()
