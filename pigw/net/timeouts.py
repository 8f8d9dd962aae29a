"""Read and write timeouts of plain TCP sockets, kept by the kernel on Linux (SO_RCVTIMEO, SO_SNDTIMEO).

A Python socket with a timeout polls before every read and write: two system calls, and each one
lets go of the GIL and takes it back, which under load costs more than the call itself. A blocking
socket whose timeouts the kernel keeps reads and writes in one call. On it, a read or write that
ran out of time fails with EAGAIN; ``reader``, ``Writer`` and ``sendall`` turn that into
``socket.timeout``, as a Python timeout would raise, so callers see no difference. TLS sockets,
and other systems, keep Python's own timeouts.
"""

import io
import socket
import struct
import sys
from typing import Any, Optional

__all__ = ["Writer", "kernel_keeps", "may_wait", "reader", "sendall", "set_timeout"]

_KERNEL = sys.platform.startswith("linux") and struct.calcsize("P") == 8  # struct timeval is two longs


def kernel_keeps(sock: socket.socket) -> bool:
    """True when this socket's timeouts are the kernel's (a plain socket on 64-bit Linux)."""
    return _KERNEL and type(sock) is socket.socket  # an ssl.SSLSocket is a subclass


def set_timeout(sock: socket.socket, seconds: Optional[float]) -> None:
    """Each later read or write on ``sock`` waits at most ``seconds`` (None: without limit)."""
    if not kernel_keeps(sock):
        if sock.gettimeout() != seconds:  # settimeout is a system call even when nothing changes
            sock.settimeout(seconds)
        return
    if sock.gettimeout() is not None:
        sock.settimeout(None)  # blocking, so the kernel's timeouts apply
    value = _timeval(seconds)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)


def _timeval(seconds: Optional[float]) -> bytes:
    if seconds is None:
        return struct.pack("@ll", 0, 0)  # no limit
    whole = int(seconds)
    micro = int((seconds - whole) * 1e6)
    return struct.pack("@ll", whole, micro if whole or micro else 1)  # all zeros would mean no limit


class _KernelTimedIO(socket.SocketIO):
    """The raw reader of a socket with kernel timeouts: a read that ran out of time raises socket.timeout.

    While ``looking``, a read does not wait: it takes what has arrived, or returns None (nothing yet).
    """

    looking = False

    def readinto(self, buffer: Any) -> Optional[int]:
        try:
            if self.looking:
                return self._sock.recv_into(buffer, 0, socket.MSG_DONTWAIT)  # type: ignore[attr-defined]
            return self._sock.recv_into(buffer)  # type: ignore[attr-defined]
        except BlockingIOError:
            if self.looking:
                return None
            raise socket.timeout("timed out") from None


def reader(sock: socket.socket) -> io.BufferedReader:
    """``sock.makefile("rb")``, with a read that ran out of time raising socket.timeout."""
    if kernel_keeps(sock):
        return io.BufferedReader(_KernelTimedIO(sock, "rb"), io.DEFAULT_BUFFER_SIZE)
    return sock.makefile("rb")  # type: ignore[return-value]


def may_wait(fp: Any) -> bool:
    """False when the next read of ``fp`` (a ``reader``) returns at once: bytes are buffered or have arrived.

    Only known for plain sockets with kernel timeouts (and then without waiting); True otherwise.
    """
    raw = getattr(fp, "raw", None)
    if type(raw) is not _KernelTimedIO:
        return True
    raw.looking = True
    try:
        return not fp.peek(1)
    finally:
        raw.looking = False


class Writer(io.BufferedIOBase):
    """Unbuffered writes to a socket (http.server's ``wfile``), each one ``sendall``: a write that ran out of time
    raises socket.timeout."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        sendall(self._sock, data)
        return len(data)


def sendall(sock: socket.socket, data: Any) -> None:
    """``sock.sendall(data)``; a write that ran out of time raises socket.timeout."""
    try:
        sock.sendall(data)
    except BlockingIOError:
        raise socket.timeout("timed out") from None
