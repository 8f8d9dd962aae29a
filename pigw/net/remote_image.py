"""Fetching the image behind a client's http(s) URL, without letting the URL reach inside the network.

``Fetcher.fetch`` resolves the host once, refuses it unless every address it resolves to passes
``allow_address`` (by default ``public_address``: no private, loopback, link-local, multicast,
reserved or unspecified address, IPv4 or IPv6, including IPv4 carried inside IPv6), connects to
that checked address itself (no second lookup a DNS-rebinding server could answer differently)
with the name as ``Host`` and TLS SNI/certificate name, and follows at most ``max_redirects``
redirects, checking each hop the same way. The whole fetch has one deadline (connect, headers,
body and redirects together); the body is counted while it is read and refused past
``max_bytes``; the answer must say it is a PNG, JPEG, GIF or WebP image and its first bytes must be
one. Requests carry no credentials: no cookies, no authorization, no URL user info (refused).
Connections go straight to the host, never through HTTP(S)_PROXY: a proxy would do the address
check's job out of sight. Failures raise ``RemoteImageError`` with a message fit for the client
(it names neither the URL nor an address).
"""

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from typing import Callable, List, Optional, Tuple, Union
from urllib.parse import SplitResult, quote, urljoin, urlsplit

__all__ = ["ALLOWED_TYPES", "Fetcher", "RemoteImageError", "public_address"]

Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
ALLOWED_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_REDIRECTS = (301, 302, 303, 307, 308)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_PIECE = 64 * 1024


class RemoteImageError(Exception):
    """Why an image URL could not be used; safe to show the client."""


def public_address(address: Address) -> bool:
    """Whether an address is on the public internet; IPv4-mapped, 6to4 and NAT64 IPv6 are judged by their IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = address.ipv4_mapped or address.sixtofour
        if carried is None and address in _NAT64:
            carried = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if carried is not None:
            return public_address(carried)
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


class Fetcher:
    """Fetches remote images under one set of limits; one instance serves many threads."""

    def __init__(
        self,
        max_bytes: int = 20 * 1024 * 1024,
        connect_timeout: float = 10.0,
        total_timeout: float = 30.0,
        ca_file: Optional[str] = None,
        allow_address: Callable[[Address], bool] = public_address,
        max_redirects: int = 3,
    ) -> None:
        self.max_bytes = max_bytes
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self.allow_address = allow_address
        self.max_redirects = max_redirects
        self._ca_file = ca_file
        self._tls: Optional[ssl.SSLContext] = None

    def fetch(self, url: str) -> Tuple[bytes, str]:
        """The image's bytes and its media type (from its first bytes), or RemoteImageError."""
        deadline = time.monotonic() + self.total_timeout
        for _hop in range(self.max_redirects + 1):
            parts = _check_url(url)
            connection = self._connect(parts, deadline)
            watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _cut, (connection.sock,))
            watchdog.daemon = True
            watchdog.start()
            response = None
            try:
                response = _get(connection, parts)
                if time.monotonic() >= deadline:
                    raise RemoteImageError(self._late())  # the head was cut short by the watchdog
                if response.status not in _REDIRECTS:
                    return self._image(response, deadline)
                location = response.getheader("Location")
            except (OSError, ValueError, http.client.HTTPException):
                if time.monotonic() >= deadline:
                    raise RemoteImageError(self._late()) from None
                raise RemoteImageError("the connection to the image server failed") from None
            finally:
                watchdog.cancel()
                if response is not None:
                    response.close()
                connection.close()
            if not location:
                raise RemoteImageError("the image server answered a redirect without a Location")
            url = urljoin(url, location)
        raise RemoteImageError("the image URL redirects more than %d times" % self.max_redirects)

    def _connect(self, parts: SplitResult, deadline: float) -> http.client.HTTPConnection:
        """A connection to a checked address of the URL's host (TLS for https, verified for the host name)."""
        host = _ascii_host(parts)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = self._addresses(host, port)
        failure = "could not connect to the image server"
        for address in addresses:
            timeout = min(self.connect_timeout, deadline - time.monotonic())
            if timeout <= 0:
                raise RemoteImageError(self._late())
            try:
                sock = socket.create_connection((str(address), port), timeout)
            except OSError:
                continue
            try:
                sock.settimeout(max(0.001, deadline - time.monotonic()))
                if parts.scheme == "https":
                    sock = self._tls_context().wrap_socket(sock, server_hostname=host)
            except (OSError, ValueError):
                sock.close()
                failure = "the TLS handshake with the image server failed (certificate not valid for its name?)"
                continue
            connection = http.client.HTTPConnection(host, port)
            connection.sock = sock
            return connection
        raise RemoteImageError(failure)

    def _addresses(self, host: str, port: int) -> List[Address]:
        """Every address the host resolves to, all of them allowed, or RemoteImageError."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            raise RemoteImageError("the image server's name does not resolve") from None
        addresses: List[Address] = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if not self.allow_address(address):
                raise RemoteImageError(
                    "the image URL points to a private, local or reserved network address, which pigw does not fetch"
                )
            if address not in addresses:
                addresses.append(address)
        return addresses

    def _image(self, response: http.client.HTTPResponse, deadline: float) -> Tuple[bytes, str]:
        """The body of a final answer, once its status, type, size and first bytes say it is an image."""
        if response.status != 200:
            raise RemoteImageError("the image server answered HTTP %d" % response.status)
        kind = (response.getheader("Content-Type") or "").split(";", 1)[0].strip().lower()
        if kind not in ALLOWED_TYPES:
            raise RemoteImageError(
                "the URL does not serve an image pigw accepts (Content-Type %r; accepted: %s)"
                % (kind[:60], ", ".join(ALLOWED_TYPES))
            )
        length = (response.getheader("Content-Length") or "").strip()
        if length.isdigit() and int(length) > self.max_bytes:
            raise RemoteImageError(self._too_large())
        pieces: List[bytes] = []
        size = 0
        while True:
            piece = response.read(min(_PIECE, self.max_bytes + 1 - size))
            if not piece:
                break
            pieces.append(piece)
            size += len(piece)
            if size > self.max_bytes:
                raise RemoteImageError(self._too_large())
        if time.monotonic() >= deadline:
            raise RemoteImageError(self._late())  # cut by the watchdog: what arrived may be partial
        data = b"".join(pieces)
        sniffed = sniff(data)
        if sniffed is None:
            raise RemoteImageError("the URL's content is not a PNG, JPEG, GIF or WebP image")
        return data, sniffed

    def _late(self) -> str:
        return "the image server did not answer within %g s" % self.total_timeout

    def _too_large(self) -> str:
        return "the image is larger than remoteImageMaxBytes (%d bytes)" % self.max_bytes

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context(cafile=self._ca_file)
        return self._tls


def sniff(data: bytes) -> Optional[str]:
    """The media type the first bytes of an image show, among ALLOWED_TYPES; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _check_url(url: str) -> SplitResult:
    """The parts of an http(s) URL pigw will fetch, or RemoteImageError."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise RemoteImageError("the image URL is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise RemoteImageError("the image URL must be an http:// or https:// URL with a host")
    if "@" in parts.netloc:
        raise RemoteImageError("the image URL must not carry a user name or password")
    try:
        _ascii_host(parts)
    except UnicodeError:
        raise RemoteImageError("the image URL's host is not a valid name") from None
    return parts._replace(scheme=parts.scheme.lower())


def _get(connection: http.client.HTTPConnection, parts: SplitResult) -> http.client.HTTPResponse:
    """Send the GET (no credentials of any kind) and read the answer's head."""
    target = quote((parts.path or "/") + ("?" + parts.query if parts.query else ""), safe="!#$%&'()*+,/:;=?@[]~")
    headers = {
        "Host": _host_header(parts),
        "User-Agent": "pigw-image-fetch",
        "Accept": ", ".join(ALLOWED_TYPES),
        "Accept-Encoding": "identity",
        "Connection": "close",
    }
    connection.request("GET", target, headers=headers)
    return connection.getresponse()


def _ascii_host(parts: SplitResult) -> str:
    """The URL's host name as sent on the wire (IDNA for international names)."""
    return (parts.hostname or "").encode("idna").decode("ascii")


def _host_header(parts: SplitResult) -> str:
    host = _ascii_host(parts)
    if ":" in host:
        host = "[%s]" % host
    default = 443 if parts.scheme == "https" else 80
    return host if parts.port in (None, default) else "%s:%d" % (host, parts.port)


def _cut(sock: socket.socket) -> None:
    """The deadline passed: end the exchange wherever it is waiting (the response may hold the socket by now)."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
