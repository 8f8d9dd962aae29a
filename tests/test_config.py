"""Config layering: defaults < gateway.json < --config < environment < flags; bad values are clear errors."""

import json
import os
import shutil
import tempfile
import unittest

from pigw import config


class Layering(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="pigw-config-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def write(self, name: str, value) -> str:
        path = os.path.join(self.dir, name)
        with open(path, "w") as handle:
            handle.write(value if isinstance(value, str) else json.dumps(value))
        return path

    def test_timeouts_first_byte_alias_and_stream_idle(self) -> None:
        loaded = config.load({"authDir": self.dir, "firstByteTimeoutMs": 5000, "streamIdleTimeoutMs": 700}, {})
        self.assertEqual((loaded.upstream_timeout_ms, loaded.stream_idle_timeout_ms), (5000, 700))
        with self.assertRaises(config.ConfigError):
            config.load({"authDir": self.dir, "streamIdleTimeoutMs": 0}, {})

    def test_defaults(self) -> None:
        loaded = config.load({"authDir": self.dir}, {})
        self.assertEqual(
            (loaded.port, loaded.bind, loaded.log_level, loaded.upstream_timeout_ms, loaded.stream_idle_timeout_ms),
            (4000, "127.0.0.1", "info", 600000, 120000),
        )
        self.assertEqual(loaded.auth_dir, self.dir)
        self.assertIsNone(loaded.api_key)
        self.assertEqual(loaded.max_body_bytes, 16 * 1024 * 1024)

    def test_each_layer_overrides_the_one_before(self) -> None:
        self.write(
            "gateway.json", {"port": 1, "bind": "127.0.0.2", "logLevel": "warn", "modelDenylist": ["a"], "apiKey": "k1"}
        )
        extra = self.write("extra.json", {"port": 2, "logLevel": "error"})
        loaded = config.load(
            {"authDir": self.dir, "config": extra, "port": 4}, {"PIGW_PORT": "3", "PIGW_API_KEY": "k2"}
        )
        self.assertEqual(loaded.port, 4)
        self.assertEqual(loaded.bind, "127.0.0.2")
        self.assertEqual(loaded.log_level, "error")
        self.assertEqual(loaded.model_denylist, ["a"])
        self.assertEqual(loaded.api_key, "k2")
        self.assertEqual(loaded.sources, [os.path.join(self.dir, "gateway.json"), extra])
        self.assertNotIn("k2", repr(loaded))

    def test_agent_dir_from_environment_with_tilde(self) -> None:
        self.assertEqual(config.agent_dir(None, {"PI_CODING_AGENT_DIR": self.dir}), self.dir)
        self.assertEqual(config.agent_dir("~/x", {}), os.path.join(os.path.expanduser("~"), "x"))
        self.assertEqual(config.agent_dir(None, {}), os.path.join(os.path.expanduser("~"), ".pi", "agent"))

    def test_bad_values_are_named(self) -> None:
        self.write("gateway.json", {"port": "80"})
        with self.assertRaises(config.ConfigError) as caught:
            config.load({"authDir": self.dir}, {})
        self.assertEqual(
            str(caught.exception),
            '%s: port must be an integer from 0 to 65535, not "80".' % os.path.join(self.dir, "gateway.json"),
        )
        self.write("gateway.json", {"apiKey": 12345})
        with self.assertRaises(config.ConfigError) as caught:
            config.load({"authDir": self.dir}, {})
        self.assertIn("apiKey must be a string, not (hidden)", str(caught.exception))
        self.write("gateway.json", "{oops")
        with self.assertRaises(config.ConfigError) as caught:
            config.load({"authDir": self.dir}, {})
        self.assertIn("is not valid JSON", str(caught.exception))
        os.remove(os.path.join(self.dir, "gateway.json"))
        with self.assertRaises(config.ConfigError) as caught:
            config.load({"authDir": self.dir, "config": os.path.join(self.dir, "missing.json")}, {})
        self.assertIn("does not exist", str(caught.exception))
        with self.assertRaises(config.ConfigError) as caught:
            config.load({"authDir": self.dir}, {"PIGW_PORT": "many"})
        self.assertEqual(str(caught.exception), "$PIGW_PORT must be an integer, not 'many'.")


if __name__ == "__main__":
    unittest.main()
