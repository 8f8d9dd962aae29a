"""fast_json.loads against json.loads: the same value, or the same error, for valid, broken and padded documents."""

import json
import random
import unittest
from typing import Any, Tuple

from pigw import fast_json


def outcome(loads: Any, text: str) -> Tuple[str, Any]:
    try:
        return "value", loads(text)
    except ValueError as error:
        return type(error).__name__, str(error)


class FastJsonTest(unittest.TestCase):
    def test_cases(self) -> None:
        cases = [
            '{"choices":[{"delta":{"content":"hi"}}]}',
            "[1, 2.5, null, true]",
            '"text"',
            "12",
            "",
            " ",
            ' {"a": 1}',
            '{"a": 1} ',
            '{"a": 1}\n',
            '{"a": 1}{"b": 2}',
            '{"a": 1} x',
            "\ufeff{}",
            '{"a": }',
            "[DONE]",
            "NaN",
            '{"a": "\\ud800"}',
        ]
        for text in cases:
            with self.subTest(text=text):
                self.assertEqual(outcome(fast_json.loads, text), outcome(json.loads, text))

    def test_random_documents(self) -> None:
        rng = random.Random(20261121)
        pieces = ['{"a":', "1", "}", "[", "]", ",", '"x"', " ", "\n", "null", "tr", "ue", "\ufeff", "-", "e5", ":"]
        for _ in range(5000):
            text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
            self.assertEqual(outcome(fast_json.loads, text), outcome(json.loads, text), text)


if __name__ == "__main__":
    unittest.main()
