"""The gateway's listening socket, opened before the rest of pigw loads.

It is bound and listening from the first moments of start-up, so a client that connects while the
catalog and credentials load waits in the backlog and is answered once serving starts, rather than
being refused and left to retry.
"""

import os
import socket

from pigw.config import is_loopback

BACKLOG = 1024  # 64 clients connecting at once overflow the default of 5, and SYN retries cost seconds


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) and listening; OSError when that address cannot be had."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        if os.name == "posix":  # a restart binds at once over TIME_WAIT; on Windows it would share a busy port
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        bound = str(listener.getsockname()[0])
        if is_loopback(host) and not is_loopback(bound):
            raise OSError("bound to %s although a loopback address was asked for" % bound)
        listener.listen(BACKLOG)
    except BaseException:
        listener.close()
        raise
    return listener
