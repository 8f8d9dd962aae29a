"""pi's auth.json: reading (BOM, invalid content, entry checks, re-reading on change) and the atomic one-entry write."""

import json
import os
import shutil
import stat
import tempfile
import unittest
from unittest import mock

from pigw.credentials import auth_file
from pigw.credentials.auth_file import AuthFile, AuthFileError

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

    def test_recheck_interval_limits_stats_and_changed_forces_one(self) -> None:
        self.write(b'{"openai": {"type": "api_key", "key": "k1"}}')
        auth = auth_file.AuthFile(self.path, recheck_s=0.1)
        clock = [100.0]
        with mock.patch.object(auth_file.time, "monotonic", lambda: clock[0]), mock.patch.object(
            auth_file.os, "stat", wraps=os.stat
        ) as stat:
            self.assertEqual(auth.entries()["openai"]["key"], "k1")
            self.write(b'{"openai": {"type": "api_key", "key": "k22"}}')
            clock[0] += 0.09
            self.assertEqual(auth.entries()["openai"]["key"], "k1")
            self.assertEqual(stat.call_count, 1)
            clock[0] += 0.02
            self.assertEqual(auth.entries()["openai"]["key"], "k22")
            self.write(b'{"openai": {"type": "api_key", "key": "k333"}}')
            auth.changed()
            self.assertEqual(auth.entries()["openai"]["key"], "k333")
            self.assertEqual(stat.call_count, 3)

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


NEW = {"type": "oauth", "refresh": "r2", "access": "a2", "expires": 1790000300000, "accountId": "acct"}
NEW_TEXT = (
    '{\n    "type": "oauth",\n    "refresh": "r2",\n    "access": "a2",\n'
    '    "expires": 1790000300000,\n    "accountId": "acct"\n  }'
)


class WriteEntryTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.path = os.path.join(self.dir, "auth.json")

    def write(self, content: bytes, mode: int = 0o600) -> None:
        with open(self.path, "wb") as f:
            f.write(content)
        os.chmod(self.path, mode)

    def read(self) -> bytes:
        with open(self.path, "rb") as f:
            return f.read()

    def test_pi_formatted_file_stays_pi_formatted(self) -> None:
        data = {"openai": {"type": "api_key", "key": "k", "env": {"A": "b"}}, "anthropic": OAUTH, "xai": OAUTH}
        self.write(json.dumps(data, indent=2).encode())
        auth_file.write_entry(self.path, "anthropic", NEW)
        self.assertEqual(self.read(), json.dumps(dict(data, anthropic=NEW), indent=2).encode())

    def test_other_entries_keep_their_text_byte_for_byte(self) -> None:
        other = (
            '{"type":"api_key","key":"k","x-unknown":[1.50,1E3,-0,12345678901234567890123,'
            '"\\u00e9\\ud83d\\ude00 \u00e9",null,true,{}],"env" : { "A" : "b" }}'
        )
        last = '{ "nested" :\n\t{ "a" : [ ] } }'
        self.write(
            (
                '\ufeff {"openai":' + other + ' ,\r\n "anthropic": {"type":"oauth","access":"a","refresh":"r",'
                '"expires":1} , "z":  ' + last + "  }\n"
            ).encode()
        )
        auth_file.write_entry(self.path, "anthropic", NEW)
        expected = '{\n  "openai": ' + other + ',\n  "anthropic": ' + NEW_TEXT + ',\n  "z": ' + last + "\n}"
        self.assertEqual(self.read().decode(), expected)

    def test_new_provider_goes_last_and_escaped_keys_keep_their_text(self) -> None:
        self.write(b'{"\\u0061nthropic": {"type": "api_key"}}')
        auth_file.write_entry(self.path, "openai-codex", NEW)
        self.assertEqual(
            self.read().decode(), '{\n  "\\u0061nthropic": {"type": "api_key"},\n  "openai-codex": ' + NEW_TEXT + "\n}"
        )

    def test_repeated_key_keeps_the_first_place_and_the_last_value_as_json_parse_does(self) -> None:
        self.write(b'{"a": 1, "b": 2, "a": 3}')
        auth_file.write_entry(self.path, "c", NEW)
        self.assertEqual(self.read().decode(), '{\n  "a": 3,\n  "b": 2,\n  "c": ' + NEW_TEXT + "\n}")

    def test_empty_object(self) -> None:
        self.write(b"{ }")
        auth_file.write_entry(self.path, "openai-codex", NEW)
        self.assertEqual(self.read().decode(), '{\n  "openai-codex": ' + NEW_TEXT + "\n}")

    @unittest.skipIf(os.name == "nt", "POSIX modes")
    def test_mode_is_kept_and_no_temp_file_is_left(self) -> None:
        self.write(b"{}", 0o640)
        auth_file.write_entry(self.path, "x", NEW)
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o640)
        self.assertEqual(os.listdir(self.dir), ["auth.json"])

    def test_invalid_file_is_not_written(self) -> None:
        for content in (b'{"a": 1,', b"[]", b"\xff"):
            self.write(content)
            with self.assertRaises(AuthFileError):
                auth_file.write_entry(self.path, "x", NEW)
            self.assertEqual(self.read(), content)
            self.assertEqual(os.listdir(self.dir), ["auth.json"])

    def test_failed_rename_leaves_the_file_and_no_temp_file(self) -> None:
        content = json.dumps({"anthropic": OAUTH}, indent=2).encode()
        self.write(content)
        with mock.patch.object(auth_file.os, "replace", side_effect=OSError(28, "No space left on device")):
            with self.assertRaises(OSError):
                auth_file.write_entry(self.path, "anthropic", NEW)
        self.assertEqual(self.read(), content)
        self.assertEqual(os.listdir(self.dir), ["auth.json"])

    @unittest.skipIf(os.name == "nt", "POSIX modes")
    def test_create_if_missing(self) -> None:
        path = os.path.join(self.dir, "agent", "auth.json")
        auth_file.create_if_missing(path)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"{}")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path, "w") as f:
            f.write('{"a": 1}')
        auth_file.create_if_missing(path)
        with open(path) as f:
            self.assertEqual(f.read(), '{"a": 1}')


if __name__ == "__main__":
    unittest.main()
