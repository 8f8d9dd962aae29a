"""Reading pi's auth.json: BOM, invalid content, entry checks, re-reading only on change."""

import json
import os
import shutil
import tempfile
import unittest
from unittest import mock

from pigw.credentials import auth_file
from pigw.credentials.auth_file import AuthFile

SECRET = "sk-secret-0123456789"
OAUTH = {"type": "oauth", "access": "acc", "refresh": "ref", "expires": 1790000000000}


class AuthFileTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.path = os.path.join(self.dir, "auth.json")
        self.auth = AuthFile(self.path)

    def write(self, content: bytes) -> None:
        with open(self.path, "wb") as f:
            f.write(content)

    def test_missing_file_is_empty(self) -> None:
        self.assertEqual(self.auth.entries(), {})
        self.assertEqual(self.auth.warnings(), [])

    def test_entries(self) -> None:
        data = {"openai": {"type": "api_key", "key": "k", "env": {"A": "b"}}, "anthropic": OAUTH}
        self.write(json.dumps(data).encode())
        self.assertEqual(self.auth.entries(), data)
        self.assertEqual(self.auth.warnings(), [])

    def test_leading_bom_is_stripped(self) -> None:
        self.write(b'\xef\xbb\xbf{"openai": {"type": "api_key", "key": "k"}}')
        self.assertEqual(self.auth.entries(), {"openai": {"type": "api_key", "key": "k"}})

    def test_invalid_json_warns_with_position_not_content(self) -> None:
        self.write(('{\n  "openai": {"type": "api_key", "key": "' + SECRET + '"\n').encode())
        self.assertEqual(self.auth.entries(), {})
        self.assertEqual(
            self.auth.warnings(),
            [self.path + ": invalid JSON at line 3 column 1; using no stored credentials"],
        )

    def test_not_utf8_warns_with_byte_position(self) -> None:
        self.write(b'{"openai": "\xff' + SECRET.encode() + b'"}')
        self.assertEqual(self.auth.entries(), {})
        self.assertEqual(self.auth.warnings(), [self.path + ": not UTF-8 at byte 12; using no stored credentials"])

    def test_top_level_not_an_object(self) -> None:
        self.write(json.dumps([SECRET]).encode())
        self.assertEqual(self.auth.entries(), {})
        self.assertEqual(
            self.auth.warnings(), [self.path + ": top level is not a JSON object; using no stored credentials"]
        )

    def test_bad_entries_are_ignored_with_a_warning(self) -> None:
        data = {
            "good": {"type": "api_key"},
            "str": SECRET,
            "kind": {"type": SECRET, "key": SECRET},
            "notype": {"key": SECRET},
            "key": {"type": "api_key", "key": 5},
            "env": {"type": "api_key", "key": SECRET, "env": {"A": 1}},
            "envlist": {"type": "api_key", "env": [SECRET]},
            "access": {"type": "oauth", "access": None, "refresh": "r", "expires": 1},
            "expires": {"type": "oauth", "access": SECRET, "refresh": "r", "expires": "soon"},
            "bool": {"type": "oauth", "access": SECRET, "refresh": "r", "expires": True},
            "oauth": OAUTH,
        }
        self.write(json.dumps(data).encode())
        self.assertEqual(self.auth.entries(), {"good": {"type": "api_key"}, "oauth": OAUTH})
        p = self.path
        self.assertEqual(
            self.auth.warnings(),
            [
                p + ": entry 'str' is not an object; ignored",
                p + ": entry 'kind' has an unknown type; ignored",
                p + ": entry 'notype' has an unknown type; ignored",
                p + ": entry 'key' has a non-string key; ignored",
                p + ": entry 'env' has an env that is not a map of strings; ignored",
                p + ": entry 'envlist' has an env that is not a map of strings; ignored",
                p + ": entry 'access' lacks string access/refresh tokens; ignored",
                p + ": entry 'expires' lacks a numeric expires; ignored",
                p + ": entry 'bool' lacks a numeric expires; ignored",
            ],
        )

    def test_parsed_once_while_unchanged(self) -> None:
        self.write(b'{"openai": {"type": "api_key", "key": "k1"}}')
        with mock.patch.object(auth_file.json, "loads", wraps=json.loads) as loads:
            for _ in range(3):
                self.assertEqual(self.auth.entries(), {"openai": {"type": "api_key", "key": "k1"}})
            self.auth.warnings()
        self.assertEqual(loads.call_count, 1)

    def test_reread_after_change(self) -> None:
        self.write(b'{"openai": {"type": "api_key", "key": "k1"}}')
        with mock.patch.object(auth_file.json, "loads", wraps=json.loads) as loads:
            self.assertEqual(self.auth.entries(), {"openai": {"type": "api_key", "key": "k1"}})
            self.write(b'{"openai": {"type": "api_key", "key": "k22"}}')
            self.assertEqual(self.auth.entries(), {"openai": {"type": "api_key", "key": "k22"}})
            self.assertEqual(self.auth.entries(), {"openai": {"type": "api_key", "key": "k22"}})
        self.assertEqual(loads.call_count, 2)

    def test_reread_after_same_size_change(self) -> None:
        self.write(b'{"openai": {"type": "api_key", "key": "k1"}}')
        self.auth.entries()
        self.write(b'{"openai": {"type": "api_key", "key": "k2"}}')
        stat = os.stat(self.path)
        os.utime(self.path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000000))
        self.assertEqual(self.auth.entries(), {"openai": {"type": "api_key", "key": "k2"}})

    def test_warning_cleared_once_fixed_and_file_removed(self) -> None:
        self.write(b"{")
        self.assertEqual(len(self.auth.warnings()), 1)
        self.write(b'{"openai": {"type": "api_key"}}')
        self.assertEqual(self.auth.warnings(), [])
        self.assertEqual(self.auth.entries(), {"openai": {"type": "api_key"}})
        os.remove(self.path)
        self.assertEqual(self.auth.entries(), {})


if __name__ == "__main__":
    unittest.main()
