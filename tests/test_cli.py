"""The command line: --version, `pigw models`, and the refusal to serve a non-loopback address without a key."""

import io
import json
import os
import shutil
import tempfile
import unittest
from unittest import mock

from pigw import __version__, cli


class CommandLine(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="pigw-cli-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def run_cli(self, argv, environ=None):
        out, err = io.StringIO(), io.StringIO()
        with mock.patch.dict(os.environ, environ or {}, clear=True):
            code = cli.main(argv, out, err)
        return code, out.getvalue(), err.getvalue()

    def test_version(self) -> None:
        self.assertEqual(self.run_cli(["--version"]), (0, "pigw %s\n" % __version__, ""))

    def test_models_lists_served_public_ids(self) -> None:
        code, out, err = self.run_cli(
            ["models", "--auth-dir", self.dir, "--model-allowlist", "groq/*"], {"GROQ_API_KEY": "k"}
        )
        self.assertEqual(code, 0)
        ids = out.split()
        self.assertIn("groq/llama-3.3-70b-versatile", ids)
        self.assertTrue(all(entry.startswith("groq/") for entry in ids))
        self.assertEqual(err, "%d models (auth dir %s)\n" % (len(ids), self.dir))

    def test_models_with_demo_and_denylist(self) -> None:
        code, out, _err = self.run_cli(["models", "--auth-dir", self.dir, "--demo"])
        self.assertEqual((code, out), (0, "pigw/demo\n"))
        code, out, err = self.run_cli(["models", "--auth-dir", self.dir, "--demo", "--model-denylist", "demo"])
        self.assertEqual((code, out), (0, ""))
        self.assertIn("pi /login", err)

    def test_non_loopback_bind_needs_a_key(self) -> None:
        code, out, err = self.run_cli(["--auth-dir", self.dir, "--bind", "0.0.0.0"])
        self.assertEqual((code, out), (2, ""))
        self.assertIn("refusing to listen on 0.0.0.0 without an API key", err)

    def test_require_key_on_loopback_needs_a_key(self) -> None:
        code, _out, err = self.run_cli(["--auth-dir", self.dir, "--require-key-on-loopback"])
        self.assertEqual(code, 2)
        self.assertIn("refusing to listen with --require-key-on-loopback without an API key", err)

    def test_bad_config_exits_2(self) -> None:
        with open(os.path.join(self.dir, "gateway.json"), "w") as handle:
            json.dump({"logLevel": "loud"}, handle)
        code, _out, err = self.run_cli(["models", "--auth-dir", self.dir])
        self.assertEqual(code, 2)
        self.assertIn("logLevel must be one of debug, info, warn, error", err)

    def test_port_in_use_exits_1(self) -> None:
        import socket

        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            code, _out, err = self.run_cli(["--auth-dir", self.dir, "--port", str(port)])
        self.assertEqual(code, 1)
        self.assertIn("cannot listen on 127.0.0.1 port %d" % port, err)


if __name__ == "__main__":
    unittest.main()
