"""fast_json: loads against json.loads (same value or error); Template matches only what loads reads the same way."""

import copy
import json
import os
import random
import unittest
from typing import Any, List, Sequence, Tuple

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


TEXT_PATH = ("choices", 0, "delta", "content")
OPENAI_CHUNK = (
    '{"id":"c-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
    '"delta":{"content":"%s"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"%s"}'
)


def recorded_data(name: str) -> List[str]:
    path = os.path.join(os.path.dirname(__file__), "fixtures", "wire", "openai-chat", name)
    with open(path, encoding="utf-8") as handle:
        return [line[6:] for line in handle.read().split("\n") if line.startswith("data: ")]


def with_value(event: Any, path: Sequence[Any], value: Any, padding: str = "") -> Any:
    """A copy of event with value at path, and without its padding member."""
    event = copy.deepcopy(event)
    event.pop(padding, None)
    target = event
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return event


class TemplateTest(unittest.TestCase):
    def assert_sound(self, template: fast_json.Template, event: Any, text: str, padding: str = "") -> bool:
        """match(text) is None, or json.loads(text) is event with that value (padding aside); whether it matched."""
        value = template.match(text)
        if value is None:
            return False
        parsed = json.loads(text)
        parsed.pop(padding, None)
        self.assertEqual(parsed, with_value(event, TEXT_PATH, value, padding), text)
        return True

    def test_recorded_openai_stream_with_obfuscation_padding(self) -> None:
        data = recorded_data("fx-oai-text-long.sse")
        event = json.loads(data[1])
        template = fast_json.Template.learn(data[1], event, TEXT_PATH, padding="obfuscation")
        assert template is not None
        matched = [text for text in data if self.assert_sound(template, event, text, "obfuscation")]
        self.assertEqual(len(matched), 300)  # every text chunk; not the role, finish or usage chunk, nor [DONE]
        self.assertEqual(template.match(data[2]), json.loads(data[2])["choices"][0]["delta"]["content"])
        self.assertIsNone(template.match(data[0]))
        without_padding = fast_json.Template.learn(data[1], event, TEXT_PATH)
        assert without_padding is not None
        self.assertEqual(without_padding.match(data[1]), "**")
        self.assertIsNone(without_padding.match(data[2]))  # another obfuscation string

    def test_values_with_escapes_and_spaces(self) -> None:
        text = '{"choices": [{"delta": {"content": "a\\"b"}}]}'
        template = fast_json.Template.learn(text, json.loads(text), TEXT_PATH)
        assert template is not None
        self.assertEqual(template.match('{"choices": [{"delta": {"content": "\\u00e9\\n\\ud83d\\ude00"}}]}'), "é\n😀")
        self.assertEqual(template.match('{"choices": [{"delta": {"content": ""}}]}'), "")
        for text in (
            '{"choices": [{"delta": {"content": "x\x01"}}]}',  # a control character: json.loads refuses it
            '{"choices": [{"delta": {"content": "\\x"}}]}',
            '{"choices": [{"delta": {"content": null}}]}',
            '{"choices": [{"delta": {"content": "x", "role": "y"}}]}',
            '{"choices": [{"delta": {"content": "x"}}]} ',
            '{"choices": [{"delta": {"content": "x"}}]}}',
        ):
            self.assertIsNone(template.match(text), text)

    def test_not_learnt_when_the_value_cannot_be_told_apart(self) -> None:
        for text in (
            '{"choices":[{"delta":{"content":null}}]}',
            '{"choices":[{"delta":{"content":"x"}}],"content":"x"}',  # the last "content" is another member
            '{"choices":[{"delta":{"content":"x","content":"y"}}]}',  # text and event disagree: not this event
            '{"choices":[{"delta":{"content" :"x"}}]}',
        ):
            event = json.loads(text)
            if text.endswith('"y"}}]}'):
                event = with_value(event, TEXT_PATH, "x")
            self.assertIsNone(fast_json.Template.learn(text, event, TEXT_PATH), text)
        text = '{"choices":[{"delta":{"content":"x"}}],"pad":"p","usage":null}'  # the padding is not last
        template = fast_json.Template.learn(text, json.loads(text), TEXT_PATH, padding="pad")
        assert template is not None
        self.assertIsNone(template.match(text.replace('"p"', '"q"')))
        self.assertEqual(template.match(text.replace('"x"', '"z"')), "z")

    def test_mutated_chunks_match_only_what_json_loads_reads_the_same_way(self) -> None:
        event_text = OPENAI_CHUNK % ("Hello", "abc")
        event = json.loads(event_text)
        template = fast_json.Template.learn(event_text, event, TEXT_PATH, padding="obfuscation")
        assert template is not None
        rng = random.Random(20261121)
        alphabet = ['"', "\\", "u", "0", "d", "8", "}", "]", ",", ":", " ", "a", "\x01", "é", "\ud800", "n", "/"]
        matched = 0
        for _ in range(20000):
            chars = list(OPENAI_CHUNK % (rng.choice(["Hello", "", "\\n", "x\\\\"]), rng.choice(["", "q", "\\u0041"])))
            for _ in range(rng.randint(1, 3)):
                at = rng.randrange(len(chars) + 1)
                action = rng.randrange(3)
                if action == 0:
                    chars.insert(at, rng.choice(alphabet))
                elif chars and action == 1:
                    del chars[min(at, len(chars) - 1)]
                elif chars:
                    chars[min(at, len(chars) - 1)] = rng.choice(alphabet)
            matched += self.assert_sound(template, event, "".join(chars), "obfuscation")
        self.assertGreater(
            matched, 100
        )  # mutations inside the two strings that leave them strings (193 with this seed)
