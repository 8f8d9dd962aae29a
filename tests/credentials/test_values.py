"""pi's value resolution: commands, templates, literals and the legacy bare variable name."""

import os
import shutil
import tempfile
import threading
import unittest
from unittest import mock

from pigw.credentials import values
from tests.credentials import counting, py, runs


class CounterDir(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.counter = os.path.join(self.dir, "runs")

    def counting(self, output: str, exit_code: int = 0, delay: float = 0.0) -> str:
        return counting(self.counter, output, exit_code, delay)

    def runs(self) -> int:
        return runs(self.counter)


class TemplateTest(unittest.TestCase):
    env = {"KEY": "sk-env", "OTHER": "o", "EMPTY": ""}

    def check(self, value: str, expected: object) -> None:
        self.assertEqual(values.resolve(value, self.env), expected, value)

    def test_literal(self) -> None:
        self.check("sk-literal", "sk-literal")

    def test_empty_is_no_value(self) -> None:
        self.check("", None)

    def test_bare_and_braced_names(self) -> None:
        self.check("$KEY", "sk-env")
        self.check("${KEY}", "sk-env")
        self.check("pre-${KEY}-post", "pre-sk-env-post")
        self.check("$OTHER/$KEY", "o/sk-env")

    def test_bare_name_is_greedy(self) -> None:
        self.check("$KEY_SUFFIX", None)
        self.check("${KEY}_SUFFIX", "sk-env_SUFFIX")

    def test_escapes(self) -> None:
        self.check("$$", "$")
        self.check("a$$b", "a$b")
        self.check("$$KEY", "$KEY")
        self.check("$!", "!")
        self.check("$!echo hi", "!echo hi")

    def test_dollar_without_name_stays_literal(self) -> None:
        self.check("$5", "$5")
        self.check("cost $", "cost $")
        self.check("${KEY", "${KEY")
        self.check("${}", "${}")

    def test_unset_or_empty_variable_gives_no_value(self) -> None:
        self.check("$MISSING", None)
        self.check("${EMPTY}", None)
        self.check("$KEY-$MISSING", None)

    def test_legacy_bare_variable_name(self) -> None:
        self.check("KEY", "sk-env")
        self.check("MISSING_KEY", "MISSING_KEY")
        self.check("EMPTY", "EMPTY")
        env = {"key": "lower", "MY-KEY": "dash", "_KEY": "underscore"}
        self.assertEqual(values.resolve("key", env), "key")
        self.assertEqual(values.resolve("MY-KEY", env), "MY-KEY")
        self.assertEqual(values.resolve("_KEY", env), "_KEY")

    def test_why_unresolved_names_variables(self) -> None:
        self.assertEqual(
            values.why_unresolved("sk-$MISSING-${EMPTY}", self.env),
            "environment variable MISSING, EMPTY is unset or empty",
        )
        self.assertEqual(values.why_unresolved("", self.env), "it is empty")


class CommandTest(CounterDir):
    def test_stdout_stripped(self) -> None:
        self.assertEqual(values.resolve("!" + py("print('  sk-cmd  ')"), {}), "sk-cmd")

    def test_stderr_is_not_the_value(self) -> None:
        command = py("import sys; sys.stderr.write('noise'); print('sk-out')")
        self.assertEqual(values.resolve("!" + command, {}), "sk-out")

    def test_failure_gives_no_value(self) -> None:
        self.assertIsNone(values.resolve("!" + py("print('sk-x'); raise SystemExit(3)"), {}))

    def test_empty_output_gives_no_value(self) -> None:
        self.assertIsNone(values.resolve("!" + py("print('   ')"), {}))

    def test_missing_program_gives_no_value(self) -> None:
        self.assertIsNone(values.resolve("!pigw-no-such-program-xyz", {}))

    def test_timeout_gives_no_value(self) -> None:
        with mock.patch.object(values, "COMMAND_TIMEOUT", 0.3):
            self.assertIsNone(values.resolve("!" + py("import time; time.sleep(5)"), {}))

    def test_uncached_runs_every_time(self) -> None:
        command = "!" + self.counting("sk-a")
        self.assertEqual(values.resolve(command, {}), "sk-a")
        self.assertEqual(values.resolve(command, {}), "sk-a")
        self.assertEqual(self.runs(), 2)

    def test_cached_runs_once_per_exact_string(self) -> None:
        cache = values.CommandCache()
        command = "!" + self.counting("sk-a")
        self.assertEqual(values.resolve(command, {}, cache), "sk-a")
        self.assertEqual(values.resolve(command, {}, cache), "sk-a")
        self.assertEqual(self.runs(), 1)
        self.assertEqual(values.resolve(command + " ", {}, cache), "sk-a")
        self.assertEqual(self.runs(), 2)

    def test_cached_failure_is_not_retried(self) -> None:
        cache = values.CommandCache()
        command = "!" + self.counting("sk-a", exit_code=1)
        self.assertIsNone(values.resolve(command, {}, cache))
        self.assertIsNone(values.resolve(command, {}, cache))
        self.assertEqual(self.runs(), 1)

    def test_concurrent_first_requests_run_once(self) -> None:
        cache = values.CommandCache()
        command = self.counting("sk-a", delay=0.3)
        results = []
        threads = [threading.Thread(target=lambda: results.append(cache.run(command))) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(results, ["sk-a"] * 6)
        self.assertEqual(self.runs(), 1)

    def test_why_unresolved_hides_the_command(self) -> None:
        reason = values.why_unresolved("!op read sk-secret-123", {})
        self.assertEqual(reason, "its shell command failed, timed out or printed nothing")


if __name__ == "__main__":
    unittest.main()
