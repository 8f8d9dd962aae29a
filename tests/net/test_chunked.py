"""The chunked body reader: framing removed at any read boundary, one piece per read, the wait hook, errors."""

import http.client
import io
import random
import sys
import threading
import time
import unittest

from pigw.net import http as net_http
from pigw.net import timeouts
from pigw.net.headers import Response
from tests.support.sockets import tcp_pair

HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


class Reads(io.RawIOBase):
    """A socket stand-in whose every read returns the next scripted piece (b"" at the end)."""

    def __init__(self, pieces):
        self.pieces = list(pieces)
        self.reads = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        self.reads += 1
        if not self.pieces:
            return 0
        piece = self.pieces[0][: len(buffer)]
        self.pieces[0] = self.pieces[0][len(piece) :]
        if not self.pieces[0]:
            self.pieces.pop(0)
        buffer[: len(piece)] = piece
        return len(piece)


def response(pieces):
    raw = Reads(pieces)

    class Sock:
        def makefile(self, mode):
            return io.BufferedReader(raw)

    resp = Response(Sock(), method="POST")  # type: ignore[arg-type]
    resp.begin()
    return resp, raw


def chunked(payloads, trailer=b"\r\n"):
    return b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in payloads) + b"0\r\n" + trailer


def split_at(data: bytes, cuts):
    cuts = sorted(set(cuts))
    return [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)]) if data[a:b]]


class ChunkedPieces(unittest.TestCase):
    def test_one_read_of_many_chunks_is_one_piece_and_the_response_ends_closed(self) -> None:
        events = [b'data: {"n":%d}\n\n' % n for n in range(20)]
        resp, raw = response([HEAD + chunked(events)])
        pieces = list(net_http._chunked_pieces(resp, 65536))
        self.assertEqual(pieces, [b"".join(events)])
        self.assertTrue(resp.isclosed())

    def test_any_read_boundaries_give_the_payload_exactly(self) -> None:
        """Seeded property test: random payloads, random read boundaries (every byte, CRLF split, size split)."""
        rng = random.Random(11)
        for _case in range(300):
            payloads = [bytes(rng.randrange(256) for _ in range(rng.randint(1, 40))) for _ in range(rng.randint(0, 6))]
            body = chunked(payloads, rng.choice([b"\r\n", b"X-Trailer: 1\r\n\r\n"]))
            cuts = [rng.randint(1, len(body) - 1) for _ in range(rng.randint(0, 8))]
            if rng.random() < 0.1:
                cuts = list(range(1, len(body)))  # one byte per read
            resp, _raw = response([HEAD] + split_at(body, cuts))
            pieces = list(net_http._chunked_pieces(resp, 65536))
            self.assertEqual(b"".join(pieces), b"".join(payloads), (payloads, cuts))
            self.assertTrue(all(pieces), "no empty pieces")
            self.assertTrue(resp.isclosed())

    def test_wait_hook_runs_before_every_read(self) -> None:
        calls = []
        token = net_http.before_wait.set(lambda: calls.append(raw.reads))
        try:
            resp, raw = response([HEAD, b"3\r\nabc\r\n", b"2\r\nde\r\n0\r\n\r\n"])
            pieces = list(net_http._chunked_pieces(resp, 65536))
        finally:
            net_http.before_wait.reset(token)
        self.assertEqual(pieces, [b"abc", b"de"])
        self.assertEqual(calls, [1, 2])  # after the head's read: once before each body read

    @unittest.skipUnless(sys.platform.startswith("linux"), "known without waiting on Linux's plain sockets")
    def test_on_a_plain_socket_the_hook_runs_only_when_nothing_has_arrived(self) -> None:
        client, upstream = tcp_pair()
        self.addCleanup(client.close)
        self.addCleanup(upstream.close)
        timeouts.set_timeout(client, 5.0)
        upstream.sendall(HEAD + b"3\r\nabc\r\n")  # the head and a first chunk, read together
        resp = Response(client, method="POST")
        resp.begin()
        calls = []
        token = net_http.before_wait.set(lambda: calls.append(len(calls)))
        try:
            pieces = net_http._chunked_pieces(resp, 65536)
            self.assertEqual(next(pieces), b"abc")
            self.assertEqual(calls, [])  # buffered with the head: no wait, so no flush
            upstream.sendall(b"2\r\nde\r\n")
            time.sleep(0.1)
            self.assertEqual(next(pieces), b"de")
            self.assertEqual(calls, [])  # arrived before the read: no wait either
            threading.Timer(0.2, upstream.sendall, [b"1\r\nf\r\n0\r\n\r\n"]).start()
            self.assertEqual(next(pieces), b"f")
            self.assertEqual(calls, [0])  # nothing there yet: flushed, then waited
            self.assertEqual(list(pieces), [])
        finally:
            net_http.before_wait.reset(token)
        self.assertTrue(resp.isclosed())

    def test_malformed_and_truncated_bodies(self) -> None:
        cases = {
            "size not hex": (b"zz\r\nabc\r\n0\r\n\r\n", ValueError),
            "missing CRLF after payload": (b"3\r\nabcXY0\r\n\r\n", http.client.IncompleteRead),
            "ends mid-chunk": (b"5\r\nab", http.client.IncompleteRead),
            "ends before the last chunk": (b"3\r\nabc\r\n", http.client.IncompleteRead),
            "size line too long": (b"1" * 70000, http.client.LineTooLong),
        }
        for name, (body, error) in cases.items():
            with self.subTest(name), self.assertRaises(error):
                resp, _raw = response([HEAD, body])
                list(net_http._chunked_pieces(resp, 65536))

    def test_size_lines_with_spaces_extensions_and_bare_lf(self) -> None:
        body = b'3 ;name="v;x"\r\nabc\r\n 2\t\nde\r\n0;last\r\n\r\n'
        resp, _raw = response([HEAD + body])
        self.assertEqual(list(net_http._chunked_pieces(resp, 65536)), [b"abcde"])
        self.assertTrue(resp.isclosed())

    def test_missing_trailer_blank_line_is_tolerated(self) -> None:
        resp, _raw = response([HEAD + b"2\r\nhi\r\n0\r\n"])
        self.assertEqual(list(net_http._chunked_pieces(resp, 65536)), [b"hi"])
        self.assertTrue(resp.isclosed())


if __name__ == "__main__":
    unittest.main()
