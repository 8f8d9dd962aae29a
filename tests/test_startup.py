"""Start-up does only what serving needs: no chat surface, hashing or reverse DNS before the first request."""

import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Builds a listening Server as `pigw` does, with socket.getfqdn refusing to run, then names the
# modules that should only be loaded by a request (the chat surfaces) or never (hmac pulls hashlib).
PROBE = """
import socket, sys
def no_lookup(*args):
    raise AssertionError("reverse DNS lookup at bind")
socket.getfqdn = no_lookup
from pigw import config, gateway, listener, server
settings = config.load({"authDir": sys.argv[1]}, {})
instance = server.Server(listener.listen("127.0.0.1", 0), gateway.build(settings), settings, None)
late = ("pigw.api.openai_chat", "pigw.api.anthropic_messages", "hmac", "hashlib")
print(instance.server_name, instance.server_port == instance.server_address[1], [m for m in late if m in sys.modules])
instance.server_close()
"""


class StartUp(unittest.TestCase):
    def test_serving_loads_only_what_it_needs(self) -> None:
        with tempfile.TemporaryDirectory() as auth_dir:
            done = subprocess.run(
                [sys.executable, "-c", PROBE, auth_dir],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
                env={"PATH": os.environ.get("PATH", ""), "HOME": auth_dir},
            )
        self.assertEqual(done.stderr, "")
        self.assertEqual(done.stdout, "127.0.0.1 True []\n")


if __name__ == "__main__":
    unittest.main()
