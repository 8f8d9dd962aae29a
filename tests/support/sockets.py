"""Plain TCP sockets for tests of the socket layer."""

import socket


def tcp_pair():
    """A connected (client, server) pair of plain TCP sockets on loopback."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    return client, server
