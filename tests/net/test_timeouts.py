import socket
import struct
import sys
import threading
import time
import unittest
from unittest import mock

from pigw.net import timeouts
from tests.support.sockets import tcp_pair

LINUX = sys.platform.startswith("linux")


class TimeoutsTest(unittest.TestCase):
    def setUp(self) -> None:
        self.client, self.server = tcp_pair()
        self.addCleanup(self.client.close)
        self.addCleanup(self.server.close)

    def assert_times_out(self, action, seconds: float) -> None:
        started = time.monotonic()
        with self.assertRaises(socket.timeout):
            action()
        waited = time.monotonic() - started
        self.assertGreaterEqual(waited, seconds * 0.8)
        self.assertLess(waited, seconds + 1.0)

    @unittest.skipUnless(LINUX, "kernel-kept timeouts are used on Linux")
    def test_plain_sockets_get_kernel_timeouts_and_stay_blocking(self) -> None:
        def kept(option: int) -> float:
            seconds, micro = struct.unpack("@ll", self.server.getsockopt(socket.SOL_SOCKET, option, 16))
            return seconds + micro / 1e6

        timeouts.set_timeout(self.server, 0.25)
        self.assertIsNone(self.server.gettimeout())  # no poll before each read and write
        # the kernel keeps whole clock ticks (1 to 10 ms)
        self.assertAlmostEqual(kept(socket.SO_RCVTIMEO), 0.25, delta=0.011)
        self.assertAlmostEqual(kept(socket.SO_SNDTIMEO), 0.25, delta=0.011)
        timeouts.set_timeout(self.server, 2.5)
        self.assertAlmostEqual(kept(socket.SO_RCVTIMEO), 2.5, delta=0.011)
        timeouts.set_timeout(self.server, None)
        self.assertEqual(kept(socket.SO_RCVTIMEO), 0.0)  # no limit
        timeouts.set_timeout(self.server, 1e-9)  # no whole microsecond, which must not become "no limit"
        self.assertGreater(kept(socket.SO_RCVTIMEO), 0.0)

    def test_a_read_that_waits_too_long_raises_socket_timeout(self) -> None:
        timeouts.set_timeout(self.server, 0.3)
        reader = timeouts.reader(self.server)
        self.client.sendall(b"first line\npartial")
        self.assertEqual(reader.readline(), b"first line\n")
        self.assert_times_out(reader.readline, 0.3)
        reader.close()

    def test_reads_that_arrive_in_time_are_whole(self) -> None:
        timeouts.set_timeout(self.server, 0.5)
        reader = timeouts.reader(self.server)

        def trickle() -> None:
            for piece in (b"ab", b"cd", b"ef\n"):
                time.sleep(0.1)
                self.client.sendall(piece)

        threading.Thread(target=trickle).start()
        self.assertEqual(reader.readline(), b"abcdef\n")  # 0.3 s in all, each wait under 0.5 s
        self.client.close()
        self.assertEqual(reader.read(), b"")
        reader.close()

    def test_a_write_the_peer_does_not_take_raises_socket_timeout(self) -> None:
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        self.client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        timeouts.set_timeout(self.server, 0.3)
        writer = timeouts.Writer(self.server)
        self.assertEqual(writer.write(b"x" * 10), 10)
        self.assert_times_out(lambda: writer.write(b"x" * (16 << 20)), 0.3)

    def test_tls_sockets_and_other_systems_keep_python_timeouts(self) -> None:
        class Wrapped(socket.socket):  # as ssl.SSLSocket is
            pass

        wrapped = Wrapped(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(wrapped.close)
        self.assertFalse(timeouts.kernel_keeps(wrapped))
        timeouts.set_timeout(wrapped, 0.3)
        self.assertEqual(wrapped.gettimeout(), 0.3)
        with mock.patch.object(timeouts, "_KERNEL", False):
            self.assertFalse(timeouts.kernel_keeps(self.server))
            timeouts.set_timeout(self.server, 0.3)
            self.assertEqual(self.server.gettimeout(), 0.3)
            reader = timeouts.reader(self.server)
            self.assert_times_out(reader.readline, 0.3)
            reader.close()


if __name__ == "__main__":
    unittest.main()
