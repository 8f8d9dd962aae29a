"""The listening socket: open before the gateway loads, a deep backlog, early clients answered once serving starts."""

import http.client
import io
import json
import os
import shutil
import socket
import tempfile
import threading
import unittest
from unittest import mock

from pigw import cli
from pigw import config as config_module
from pigw import gateway as gateway_module
from pigw.listener import listen
from pigw.log import Log
from pigw.server import Server


class Listener(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="pigw-listener-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_sixty_four_clients_connect_at_once_before_any_accept(self) -> None:
        listener = listen("127.0.0.1", 0)
        self.addCleanup(listener.close)
        clients = []
        for _ in range(64):
            client = socket.create_connection(listener.getsockname(), timeout=0.5)  # a dropped SYN waits 1 s
            clients.append(client)
            self.addCleanup(client.close)
        self.assertEqual(len(clients), 64)

    def test_a_taken_port_raises_and_leaves_no_socket_open(self) -> None:
        listener = listen("127.0.0.1", 0)
        self.addCleanup(listener.close)
        with mock.patch("socket.socket.close", autospec=True, side_effect=socket.socket.close) as closed:
            with self.assertRaises(OSError):
                listen("127.0.0.1", listener.getsockname()[1])
        self.assertEqual(closed.call_count, 1)

    def test_a_client_that_connects_before_the_server_exists_is_answered(self) -> None:
        listener = listen("127.0.0.1", 0)
        early = http.client.HTTPConnection(*listener.getsockname(), timeout=10)
        self.addCleanup(early.close)
        early.request("GET", "/healthz")
        config = config_module.load({"authDir": self.dir}, {})
        server = Server(listener, gateway_module.build(config), config, Log("error", io.StringIO()))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        response = early.getresponse()
        self.assertEqual((response.status, json.loads(response.read())["ok"]), (200, True))

    def test_pigw_listens_before_it_builds_the_gateway(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        seen = []
        real_build = gateway_module.build

        def build_after_connecting(config):
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                seen.append("connected")
            return real_build(config)

        def stop_at_once(stop, server, stdout):
            server.server_close()
            return 0

        with mock.patch.object(gateway_module, "build", build_after_connecting), mock.patch.object(
            cli, "_run_until", stop_at_once
        ), mock.patch.dict(os.environ, {}, clear=True):
            code = cli.main(["--auth-dir", self.dir, "--port", str(port)], io.StringIO(), io.StringIO())
        self.assertEqual((code, seen), (0, ["connected"]))


if __name__ == "__main__":
    unittest.main()
