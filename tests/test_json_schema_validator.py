"""tests/support/json_schema.py: exact errors on hand-made cases, and the same verdicts as the jsonschema package.

The cross-check runs every pinned schema of `schemas/openai/` over generated instances (valid ones and
mutated ones) and over every recorded OpenAI response in `tests/fixtures/wire/openai-chat/`, and wants the
same verdict and the same error locations from both validators. It is skipped, visibly, where jsonschema
is not importable; with PIGW_REQUIRE_SDK=1 (.ci/run's virtualenv) that is a failure instead.
"""

import functools
import json
import os
import random
import unittest
from typing import Any, List

from tests.support import json_schema
from tests.support.mock_upstream import FIXTURES_DIR

try:
    import jsonschema
except ImportError:
    jsonschema = None

REQUIRED = os.environ.get("PIGW_REQUIRE_SDK") == "1"
PINNED = sorted(
    "openai/" + name[:-5]
    for name in os.listdir(os.path.join(json_schema.SCHEMAS_DIR, "openai"))
    if name.endswith(".json")
)
# Every keyword the validator implements, in one schema (the pinned ones use no const, allOf, minimum, maximum).
KEYWORDS = {
    "type": "object",
    "properties": {
        "a": {"type": "integer", "minimum": 0, "maximum": 5},
        "b": {"enum": ["x", None, 1]},
        "c": {"const": "k"},
        "d": {"type": ["string", "null"]},
        "e": {"type": "array", "items": {"$ref": "#/$defs/E"}},
        "f": {"allOf": [{"type": "number", "minimum": 1}, {"maximum": 3.5}]},
        "weird key": {"type": "boolean"},
        "map": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
    "required": ["a", "c"],
    "additionalProperties": False,
    "$defs": {"E": {"oneOf": [{"type": "integer"}, {"type": "number", "maximum": 10}]}},
}
CASES_PER_SCHEMA = 250


class ExactErrors(unittest.TestCase):
    def test_every_keyword_reports_its_path(self) -> None:
        instance = {"a": 7, "b": "y", "d": 3, "e": [1, 2.5, "s", 11.5], "f": 4, "weird key": 1, "map": {"n": "1"}}
        instance["zz"] = 0
        self.assertEqual(
            json_schema.validate(KEYWORDS, instance),
            [
                '$: missing required property "c"',
                "$.a: 7 is more than the maximum 5",
                '$.b: "y" is not one of ["x", null, 1]',
                "$.d: expected string or null, got 3",
                "$.e[0]: matches 2 of the oneOf alternatives, not exactly one",
                '$.e[2]: matches none of the 2 oneOf alternatives ($.e[2]: expected integer, got "s" | '
                '$.e[2]: expected number, got "s")',
                "$.e[3]: matches none of the 2 oneOf alternatives ($.e[3]: expected integer, got 11.5 | "
                "$.e[3]: 11.5 is more than the maximum 10)",
                "$.f: 4 is more than the maximum 3.5",
                '$.map.n: expected integer, got "1"',
                '$["weird key"]: expected boolean, got 1',
                '$: unexpected property "zz"',
            ],
        )
        self.assertEqual(json_schema.validate(KEYWORDS, {"a": 0, "c": "k", "e": [2.5], "f": 1.0}), [])

    def test_json_numbers_and_booleans(self) -> None:
        self.assertEqual(json_schema.validate({"type": "integer"}, 3.0), [])
        self.assertEqual(json_schema.validate({"type": "integer"}, True), ["$: expected integer, got true"])
        self.assertEqual(json_schema.validate({"type": "number"}, False), ["$: expected number, got false"])
        self.assertEqual(json_schema.validate({"enum": [1]}, True), ["$: true is not one of [1]"])
        self.assertEqual(json_schema.validate({"enum": [1]}, 1.0), [])
        self.assertEqual(json_schema.validate({"const": False}, 0), ["$: 0 is not false"])
        self.assertEqual(json_schema.validate({"const": {"a": [1]}}, {"a": [1.0]}), [])
        self.assertEqual(
            json_schema.validate({"const": {"a": [1]}}, {"a": [True]}), ['$: {"a": [true]} is not {"a": [1]}']
        )

    def test_the_pinned_chunk_schema_names_what_is_wrong(self) -> None:
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
        chunk["choices"] = [{"index": 0, "delta": {"role": "bot", "reasoning_content": 5}, "finish_reason": "done"}]
        self.assertEqual(
            json_schema.validate(json_schema.pinned("openai/chat_completion_chunk"), chunk),
            [
                "$.choices[0].delta.reasoning_content: expected string, got 5",
                '$.choices[0].delta.role: "bot" is not one of ["developer", "system", "user", "assistant", "tool"]',
                '$.choices[0].finish_reason: "done" is not one of '
                '["stop", "length", "tool_calls", "content_filter", "function_call", null]',
            ],
        )

    def test_keywords_it_does_not_implement_are_refused(self) -> None:
        with self.assertRaisesRegex(ValueError, r"unsupported schema keyword\(s\) pattern at \$.name"):
            json_schema.validate({"properties": {"name": {"pattern": "^a"}}}, {"name": "b"})
        with self.assertRaisesRegex(ValueError, "unsupported \\$ref 'other.json'"):
            json_schema.validate({"$ref": "other.json"}, 1)


@unittest.skipIf(
    jsonschema is None and not REQUIRED, "jsonschema is not importable: the cross-check of the validator is skipped"
)
class AgreesWithJsonschema(unittest.TestCase):
    def setUp(self) -> None:
        if jsonschema is None:
            self.fail("PIGW_REQUIRE_SDK=1 but jsonschema is not importable")

    def test_generated_instances_of_every_pinned_schema(self) -> None:
        rng = random.Random(20261121)
        for name in PINNED + ["keywords"]:
            schema = KEYWORDS if name == "keywords" else json_schema.pinned(name)
            jsonschema.Draft202012Validator.check_schema(schema)
            generator = _Generator(schema, rng)
            instances = []
            for _ in range(CASES_PER_SCHEMA):
                instance = generator.value(schema, 0)
                instances += [instance, generator.mutated(instance)]
            verdicts = self.assert_agree(schema, instances, name)
            with self.subTest(schema=name):
                self.assertGreater(verdicts.count(True), CASES_PER_SCHEMA // 4, "too few valid instances")
                self.assertGreater(verdicts.count(False), CASES_PER_SCHEMA // 4, "too few invalid instances")

    def test_recorded_upstream_responses(self) -> None:
        folder = os.path.join(FIXTURES_DIR, "openai-chat")
        chunks, bodies, errors = [], [], []
        for file_name in sorted(os.listdir(folder)):
            with open(os.path.join(folder, file_name), "rb") as handle:
                data = handle.read()
            if file_name.endswith(".sse"):
                chunks += [json.loads(line[6:]) for line in data.splitlines() if line.startswith(b"data: {")]
            else:
                value = json.loads(data)
                (errors if "error" in value else bodies).append(value)
        verdicts = self.assert_agree(json_schema.pinned("openai/chat_completion_chunk"), chunks, "chunks")
        verdicts += self.assert_agree(json_schema.pinned("openai/chat_completion"), bodies, "bodies")
        verdicts += self.assert_agree(json_schema.pinned("openai/error"), errors, "errors")
        self.assertEqual((len(chunks), len(bodies), len(errors)), (718, 9, 2))
        self.assertEqual((verdicts.count(True), verdicts.count(False)), (702, 27))

    def assert_agree(self, schema: Any, instances: List[Any], name: str) -> List[bool]:
        validator = jsonschema.Draft202012Validator(schema)
        verdicts = []
        for instance in instances:
            ours = json_schema.validate(schema, instance)
            theirs = list(validator.iter_errors(instance))
            with self.subTest(schema=name, instance=instance):
                self.assertEqual(
                    {error.split(": ", 1)[0] for error in ours},
                    {functools.reduce(json_schema.child_path, error.absolute_path, "$") for error in theirs},
                    "ours: %s\njsonschema: %s" % (ours, [error.message for error in theirs]),
                )
            verdicts.append(not ours)
        return verdicts


class _Generator:
    """Instances of a schema, mostly valid, and mutations of them that mostly are not (seeded)."""

    ODD_VALUES = (None, True, False, 0, -1, 1.0, 2.5, "", "x", "stop", "assistant", [], {}, [1], {"k": "v"})

    def __init__(self, root: Any, rng: random.Random) -> None:
        self.root = root
        self.rng = rng

    def value(self, schema: Any, depth: int) -> Any:
        rng = self.rng
        if "$ref" in schema:
            return self.value(json_schema.resolve(self.root, schema["$ref"]), depth)
        for keyword in ("anyOf", "oneOf", "allOf"):
            if keyword in schema:
                return self.value(rng.choice(schema[keyword]), depth)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return rng.choice(schema["enum"])
        kinds = schema.get("type", ["null", "boolean", "integer", "string"])
        kind = rng.choice(kinds) if isinstance(kinds, list) else kinds
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            count = 0 if depth > 6 else rng.randint(0, 3)
            return [self.value(schema.get("items", {}), depth + 1) for _ in range(count)]
        if kind in ("integer", "number"):
            low, high = schema.get("minimum", -3), schema.get("maximum", 1000)
            number = rng.randint(int(low), int(high))
            if kind == "number" and number < high and rng.random() < 0.5:
                return number + 0.5
            return number
        return {"null": None, "boolean": rng.random() < 0.5, "string": rng.choice(["", "hi", "é ✓", "call_1"])}[kind]

    def mutated(self, instance: Any) -> Any:
        """instance with one random change somewhere inside it: a value swapped, a member dropped or added."""
        copy = json.loads(json.dumps(instance))
        parents = [(None, None)] + list(self._members(copy))
        parent, key = self.rng.choice(parents)
        odd = self.rng.choice(self.ODD_VALUES)
        if parent is None:
            return odd
        target = parent[key]
        action = self.rng.random()
        if isinstance(target, dict) and target and action < 0.3:
            del target[self.rng.choice(sorted(target))]
        elif isinstance(target, dict) and action < 0.5:
            target["unexpected"] = odd
        else:
            parent[key] = odd
        return copy

    def _object(self, schema: Any, depth: int) -> Any:
        out = {}
        required = schema.get("required", [])
        for name, sub in sorted(schema.get("properties", {}).items()):
            if name in required or (depth < 5 and self.rng.random() < 0.4):
                out[name] = self.value(sub, depth + 1)
        extra = schema.get("additionalProperties", True)
        if isinstance(extra, dict) and self.rng.random() < 0.5:
            out["key%d" % self.rng.randint(0, 9)] = self.value(extra, depth + 1)
        return out

    def _members(self, node: Any):
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            yield node, key
            yield from self._members(value)


if __name__ == "__main__":
    unittest.main()
