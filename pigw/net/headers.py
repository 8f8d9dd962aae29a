"""HTTP/1.1 header blocks read from a binary file, for both hops: the server's requests and upstream responses.

``http.client.parse_headers`` runs every header block through the ``email`` package's feed parser,
which costs more than everything else pigw does with a small request. ``read_headers`` reads the
same block line by line; ``Headers`` answers the lookups http.client and pigw make of it
(case-insensitive ``get``, ``get_all``, ``items``). ``Response`` is an ``http.client.HTTPResponse``
whose ``begin`` uses them.
"""

import http.client
import socket
from typing import Any, Dict, Iterator, List, Optional, Tuple

from pigw.net import timeouts

__all__ = ["HeaderError", "Headers", "Response", "read_headers"]

MAX_LINE = 65536
MAX_HEADERS = 100


class HeaderError(http.client.HTTPException):
    """A header block that is malformed, has a line over MAX_LINE bytes, or more than MAX_HEADERS lines."""

    def __init__(self, message: str, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


class Headers:
    """Header fields in their order; lookups by name ignore case and give the first value."""

    __slots__ = ("_items", "_first")

    def __init__(self, items: List[Tuple[str, str]]) -> None:
        self._items = items
        self._first: Dict[str, str] = {}
        for name, value in items:
            self._first.setdefault(name.lower(), value)

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        return self._first.get(name.lower(), default)

    def get_all(self, name: str, failobj: Optional[List[str]] = None) -> Optional[List[str]]:
        lowered = name.lower()
        values = [value for key, value in self._items if key.lower() == lowered]
        return values or failobj

    def items(self) -> List[Tuple[str, str]]:
        return list(self._items)

    def keys(self) -> List[str]:
        return [name for name, _value in self._items]

    def __getitem__(self, name: str) -> Optional[str]:
        return self._first.get(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._items)


def read_headers(fp: Any) -> Headers:
    """Header lines up to the blank line (or the end of input); obsolete folded lines are joined with a space."""
    items: List[Tuple[str, str]] = []
    while True:
        line = fp.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise HeaderError("A header line is longer than %d bytes." % MAX_LINE, too_large=True)
        if line in (b"\r\n", b"\n", b""):
            return Headers(items)
        if line[:1] in (b" ", b"\t"):
            if not items:
                raise HeaderError("The header block starts with a continuation line.")
            folded_name, folded_value = items[-1]
            items[-1] = (folded_name, (folded_value + " " + line.strip().decode("latin-1")).strip())
            continue
        if len(items) >= MAX_HEADERS:
            raise HeaderError("More than %d header lines." % MAX_HEADERS, too_large=True)
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip() or b" " in name or b"\t" in name:
            raise HeaderError("Malformed header line %r." % line[:80])
        items.append((name.decode("latin-1"), value.strip().decode("latin-1")))


class Response(http.client.HTTPResponse):
    """An HTTPResponse whose status and headers are read by ``read_headers``; everything after is http.client's.

    Its body is read through ``timeouts.reader``, so it also honours timeouts the kernel keeps.
    """

    def __init__(self, sock: socket.socket, method: Optional[str] = None) -> None:
        super().__init__(_Source(sock), method=method)  # type: ignore[arg-type]

    def begin(self) -> None:
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._read_status()  # type: ignore[attr-defined]
            if status != http.client.CONTINUE:
                break
            read_headers(self.fp)  # an interim 100 Continue: its headers are skipped
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = read_headers(self.fp)  # type: ignore[assignment]
        encoding = self.headers.get("transfer-encoding")
        self.chunked = bool(encoding) and encoding.lower() == "chunked"  # type: ignore[union-attr]
        self.chunk_left = None
        self.will_close = self._check_close()  # type: ignore[attr-defined]
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if (
            status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED)
            or 100 <= status < 200
            or self._method == "HEAD"
        ):  # type: ignore[attr-defined]
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


class _Source:
    """What HTTPResponse asks of its socket: a binary reader, here ``timeouts.reader``'s."""

    __slots__ = ("_sock",)

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def makefile(self, mode: str) -> Any:
        return timeouts.reader(self._sock)
