"""tool_schema: exact output schemas for references, recursion and root combinators, and a property test."""

import copy
import json
import random
import unittest

from pigw import tool_schema

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:
    given = None

NODE = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
}


class InlineRefs(unittest.TestCase):
    def test_defs_are_inlined_and_dropped(self) -> None:
        schema = {
            "type": "object",
            "properties": {"path": {"$ref": "#/$defs/Path"}, "mode": {"$ref": "#/definitions/Mode"}},
            "required": ["path"],
            "$defs": {"Path": {"type": "string", "minLength": 1}},
            "definitions": {"Mode": {"enum": ["r", "w"]}},
        }
        self.assertEqual(
            tool_schema.inline_refs(schema),
            {
                "type": "object",
                "properties": {"path": {"type": "string", "minLength": 1}, "mode": {"enum": ["r", "w"]}},
                "required": ["path"],
            },
        )

    def test_nested_refs_and_annotations_beside_a_ref(self) -> None:
        schema = {
            "type": "object",
            "properties": {"owner": {"$ref": "#/$defs/User", "description": "who owns it"}},
            "$defs": {
                "User": {"type": "object", "properties": {"email": {"$ref": "#/$defs/Email"}}, "description": "a user"},
                "Email": {"type": "string", "format": "email"},
            },
        }
        self.assertEqual(
            tool_schema.inline_refs(schema),
            {
                "type": "object",
                "properties": {
                    "owner": {
                        "type": "object",
                        "properties": {"email": {"type": "string", "format": "email"}},
                        "description": "who owns it",
                    }
                },
            },
        )

    def test_constraints_beside_a_ref_are_kept_with_all_of(self) -> None:
        schema = {"properties": {"n": {"$ref": "#/$defs/N", "maximum": 9}}, "$defs": {"N": {"maximum": 5}}}
        self.assertEqual(
            tool_schema.inline_refs(schema),
            {"properties": {"n": {"allOf": [{"maximum": 5}, {"maximum": 9}]}}},
        )

    def test_escaped_pointers_array_indexes_and_percent_encoding(self) -> None:
        schema = {
            "properties": {
                "a": {"$ref": "#/$defs/a~1b"},
                "b": {"$ref": "#/$defs/til~0de"},
                "c": {"$ref": "#/$defs/with%20space"},
                "d": {"$ref": "#/$defs/list/1"},
                "e": {"$ref": "#/properties/a"},
            },
            "$defs": {
                "a/b": {"type": "integer"},
                "til~de": {"type": "boolean"},
                "with space": {"type": "null"},
                "list": [{"type": "string"}, {"type": "number"}],
            },
        }
        self.assertEqual(
            tool_schema.inline_refs(schema),
            {
                "properties": {
                    "a": {"type": "integer"},
                    "b": {"type": "boolean"},
                    "c": {"type": "null"},
                    "d": {"type": "number"},
                    "e": {"type": "integer"},
                }
            },
        )

    def test_recursion_stops_at_the_cycle_with_a_permissive_schema(self) -> None:
        schema = {"type": "object", "properties": {"tree": {"$ref": "#/$defs/Node"}}, "$defs": {"Node": NODE}}
        self.assertEqual(
            tool_schema.inline_refs(schema),
            {
                "type": "object",
                "properties": {
                    "tree": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {}}},
                    }
                },
            },
        )

    def test_reference_to_the_root_and_mutual_recursion(self) -> None:
        schema = {
            "type": "object",
            "properties": {"self": {"$ref": "#", "description": "again"}, "a": {"$ref": "#/$defs/A"}},
            "$defs": {
                "A": {"properties": {"b": {"$ref": "#/$defs/B"}}},
                "B": {"properties": {"a": {"$ref": "#/$defs/A"}}},
            },
        }
        self.assertEqual(
            tool_schema.inline_refs(schema),
            {
                "type": "object",
                "properties": {
                    "self": {"description": "again"},
                    "a": {"properties": {"b": {"properties": {"a": {}}}}},
                },
            },
        )

    def test_unresolvable_remote_and_anchor_refs_become_permissive(self) -> None:
        schema = {
            "properties": {
                "missing": {"$ref": "#/$defs/Nope"},
                "remote": {"$ref": "https://example.com/s.json#/x", "title": "t"},
                "anchor": {"$ref": "#thing"},
                "odd": {"$ref": 5},
                "dynamic": {"$dynamicRef": "#meta", "type": "string"},
                "false": {"$ref": "#/$defs/Never"},
            },
            "$defs": {"Never": False},
        }
        self.assertEqual(
            tool_schema.inline_refs(schema),
            {
                "properties": {
                    "missing": {},
                    "remote": {"title": "t"},
                    "anchor": {},
                    "odd": {},
                    "dynamic": {"type": "string"},
                    "false": {"not": {}},
                }
            },
        )

    def test_exponential_sharing_is_cut_at_the_budget(self) -> None:
        defs = {
            "D%d" % n: {"properties": {"l": {"$ref": "#/$defs/D%d" % (n + 1)}, "r": {"$ref": "#/$defs/D%d" % (n + 1)}}}
            for n in range(30)
        }
        defs["D30"] = {"type": "string"}
        result = tool_schema.inline_refs({"properties": {"x": {"$ref": "#/$defs/D0"}}, "$defs": defs})
        text = json.dumps(result)
        self.assertNotIn("$ref", text)
        self.assertLess(text.count("properties"), tool_schema.MAX_NODES + 40)

    def test_property_names_and_data_that_look_like_keywords_are_left_alone(self) -> None:
        schema = {
            "type": "object",
            "properties": {"$ref": {"type": "string"}, "definitions": {"type": "array"}},
            "default": {"$ref": "#/not/a/schema"},
            "x-vendor": {"$defs": 1},
        }
        self.assertEqual(tool_schema.inline_refs(schema), schema)

    def test_the_input_is_not_modified(self) -> None:
        schema = {"properties": {"tree": {"$ref": "#/$defs/Node"}}, "$defs": {"Node": NODE}}
        before = copy.deepcopy(schema)
        tool_schema.normalize(schema, inline=True)
        tool_schema.normalize(schema)
        self.assertEqual(schema, before)

    def test_deep_nesting_is_cut_instead_of_overflowing(self) -> None:
        schema: dict = {"type": "string"}
        for _ in range(2000):
            schema = {"type": "array", "items": schema}
        text = json.dumps(tool_schema.normalize({"properties": {"deep": schema}}, inline=True))
        self.assertEqual(text.count('"items"'), tool_schema.MAX_DEPTH)


class ObjectRoot(unittest.TestCase):
    def test_object_schemas_come_back_equal(self) -> None:
        for schema in (
            {"type": "object"},
            {
                "type": "object",
                "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
                "required": ["a"],
            },
            {"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}, "$defs": {"A": {"type": "string"}}},
            {"type": "object", "not": {"required": ["a", "b"]}, "if": {"required": ["a"]}, "then": {"required": ["c"]}},
        ):
            with self.subTest(schema=schema):
                self.assertEqual(tool_schema.normalize(schema), schema)
                self.assertEqual(tool_schema.normalize(schema, inline="$ref" not in json.dumps(schema)), schema)

    def test_missing_or_impossible_root_types(self) -> None:
        cases = [
            ({}, {"type": "object", "properties": {}}),
            ({"properties": {"a": {}}}, {"type": "object", "properties": {"a": {}}}),
            ({"description": "d"}, {"type": "object", "properties": {}, "description": "d"}),
            ({"type": ["object", "null"], "properties": {}}, {"type": "object", "properties": {}}),
            ({"type": "string"}, {"type": "object", "properties": {}}),
            ({"type": "array", "anyOf": [{"items": {}}]}, {"type": "object", "properties": {}}),
            (True, {"type": "object", "properties": {}}),
            (None, {"type": "object", "properties": {}}),
        ]
        for schema, expected in cases:
            with self.subTest(schema=schema):
                self.assertEqual(tool_schema.object_root(schema), expected)

    def test_root_any_of_merges_object_branches(self) -> None:
        schema = {
            "description": "search by id or by name",
            "anyOf": [
                {
                    "type": "object",
                    "properties": {"id": {"type": "integer"}, "limit": {"type": "integer"}},
                    "required": ["id", "limit"],
                },
                {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "limit": {"type": "integer"}},
                    "required": ["name", "limit"],
                    "additionalProperties": False,
                },
                {"type": "null"},
            ],
        }
        self.assertEqual(
            tool_schema.object_root(schema),
            {
                "description": "search by id or by name",
                "type": "object",
                "properties": {"id": {"type": "integer"}, "limit": {"type": "integer"}, "name": {"type": "string"}},
                "required": ["limit"],
            },
        )

    def test_root_one_of_with_refs_and_differing_property_schemas(self) -> None:
        schema = {
            "oneOf": [{"$ref": "#/$defs/Cat"}, {"$ref": "#/$defs/Dog"}],
            "$defs": {
                "Cat": {
                    "type": "object",
                    "properties": {"kind": {"const": "cat"}, "lives": {"type": "integer"}},
                    "required": ["kind"],
                },
                "Dog": {"type": "object", "properties": {"kind": {"const": "dog"}}, "required": ["kind"]},
            },
        }
        expected_properties = {"kind": {"anyOf": [{"const": "cat"}, {"const": "dog"}]}, "lives": {"type": "integer"}}
        self.assertEqual(
            tool_schema.object_root(schema),
            {"$defs": schema["$defs"], "type": "object", "properties": expected_properties, "required": ["kind"]},
        )
        self.assertEqual(
            tool_schema.normalize(schema, inline=True),
            {"type": "object", "properties": expected_properties, "required": ["kind"]},
        )

    def test_root_all_of_unions_properties_and_required(self) -> None:
        schema = {
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "required": ["a"],
            "allOf": [
                {"properties": {"b": {"type": "integer"}}, "required": ["b"]},
                {"properties": {"a": {"maxLength": 3}, "c": {"type": "boolean"}}},
                {"anyOf": [{"properties": {"d": {}}, "required": ["d"]}, {"properties": {"e": {}}, "required": ["e"]}]},
            ],
        }
        self.assertEqual(
            tool_schema.object_root(schema),
            {
                "type": "object",
                "properties": {
                    "a": {"allOf": [{"type": "string"}, {"maxLength": 3}]},
                    "b": {"type": "integer"},
                    "c": {"type": "boolean"},
                    "d": {},
                    "e": {},
                },
                "required": ["a", "b"],
            },
        )

    def test_at_least_one_of_pattern_keeps_the_properties(self) -> None:
        schema = {
            "type": "object",
            "properties": {"id": {"type": "string"}, "path": {"type": "string"}},
            "anyOf": [{"required": ["id"]}, {"required": ["path"]}],
            "additionalProperties": False,
        }
        self.assertEqual(
            tool_schema.object_root(schema),
            {
                "type": "object",
                "properties": {"id": {"type": "string"}, "path": {"type": "string"}},
                "additionalProperties": False,
            },
        )

    def test_root_ref_is_followed(self) -> None:
        schema = {
            "$ref": "#/$defs/Args",
            "$defs": {"Args": {"$ref": "#/$defs/Real"}, "Real": {"type": "object", "properties": {"q": {}}}},
        }
        self.assertEqual(
            tool_schema.object_root(schema),
            {"$defs": schema["$defs"], "type": "object", "properties": {"q": {}}},
        )
        self.assertEqual(tool_schema.normalize(schema, inline=True), {"type": "object", "properties": {"q": {}}})

    def test_self_referencing_root_branches_end(self) -> None:
        schema = {"anyOf": [{"$ref": "#"}] * 12 + [{"properties": {"x": {}}}]}
        self.assertEqual(tool_schema.object_root(schema), {"type": "object", "properties": {"x": {}}})


KEYWORDS = "properties items anyOf oneOf allOf $ref $defs definitions required type description not format".split()
RANDOM_REFS = [
    "#",
    "#/$defs/a",
    "#/$defs/b",
    "#/definitions/a~1b",
    "#/properties/p0",
    "#/$defs/a/items",
    "x.json#/x",
    7,
]


def random_schema(rng: random.Random, depth: int = 0):
    """A nested schema of known keywords, references (some dangling, some recursive) and odd values."""
    if depth > 4 or rng.random() < 0.25:
        return rng.choice(
            [
                {"type": "string"},
                {"$ref": "#"},
                {"$ref": "#/$defs/a"},
                {"$ref": "#/$defs/b/properties/p0"},
                {"$ref": "#/$defs/zz"},
                True,
                {"x-unknown": [1, {"k": "v"}]},
                {"enum": [1, "a", None]},
            ]
        )
    node: dict = {}
    for _ in range(rng.randrange(4)):
        keyword = rng.choice(KEYWORDS)
        if keyword in ("properties", "$defs", "definitions"):
            node[keyword] = {
                rng.choice(["a", "b", "p0", "p1", "a/b", "~"]): random_schema(rng, depth + 1)
                for _ in range(rng.randrange(3))
            }
        elif keyword in ("anyOf", "oneOf", "allOf"):
            node[keyword] = [random_schema(rng, depth + 1) for _ in range(rng.randrange(4))]
        elif keyword == "$ref":
            node[keyword] = rng.choice(RANDOM_REFS)
        elif keyword == "required":
            node[keyword] = rng.choice([["a", "p0"], [], "nope", [3]])
        elif keyword == "type":
            node[keyword] = rng.choice(["object", "string", ["object", "null"], "array", 5])
        elif keyword in ("items", "not", "additionalProperties"):
            node[keyword] = random_schema(rng, depth + 1)
        else:
            node[keyword] = rng.choice(["text", 1, None, {"nested": "value"}])
    return node


def check_properties(test: unittest.TestCase, schema) -> None:
    """The properties every normalisation must have, whatever the input."""
    before = json.dumps(schema, sort_keys=True)
    inlined = tool_schema.normalize(schema, inline=True)
    kept = tool_schema.normalize(schema)
    test.assertEqual(json.dumps(schema, sort_keys=True), before)
    for result in (inlined, kept):
        test.assertEqual(result["type"], "object")
        for keyword in ("anyOf", "oneOf", "allOf", "$ref"):
            test.assertNotIn(keyword, result)
        json.dumps(result)
    test.assertEqual(list(schema_keywords(inlined, ("$ref", "$defs", "definitions"))), [])


def schema_keywords(node, wanted):
    """The keywords among ``wanted`` used anywhere a schema stands (property names and data are not schemas)."""
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in wanted:
            yield key
        if key in ("properties", "patternProperties", "$defs", "definitions") and isinstance(value, dict):
            for item in value.values():
                yield from schema_keywords(item, wanted)
        elif key in ("anyOf", "oneOf", "allOf", "items", "prefixItems") and isinstance(value, list):
            for item in value:
                yield from schema_keywords(item, wanted)
        elif key in ("items", "not", "additionalProperties"):
            yield from schema_keywords(value, wanted)


class Properties(unittest.TestCase):
    def test_seeded_random_schemas(self) -> None:
        rng = random.Random(20240611)
        for _ in range(1500):
            schema = random_schema(rng)
            with self.subTest(schema=schema):
                check_properties(self, schema)

    if given is not None:

        @settings(max_examples=300, deadline=None)
        @given(st.deferred(lambda: SCHEMAS))
        def test_hypothesis_schemas(self, schema) -> None:
            check_properties(self, schema)


if given is not None:
    NAMES = st.sampled_from(["a", "b", "p0", "a/b", "~", "$ref", "definitions"])
    REFS = st.sampled_from(
        ["#", "#/$defs/a", "#/$defs/b", "#/definitions/a~1b", "#/properties/p0", "#/anyOf/0", "x#/y", 7]
    )
    LEAVES = st.one_of(
        st.booleans(),
        st.fixed_dictionaries({"$ref": REFS}),
        st.fixed_dictionaries({"type": st.sampled_from(["string", "object", "null", ["object", "null"], 5])}),
        st.fixed_dictionaries({"x-unknown": st.integers(), "format": st.text(max_size=3)}),
    )
    SCHEMAS = st.recursive(
        LEAVES,
        lambda children: st.fixed_dictionaries(
            {},
            optional={
                "properties": st.dictionaries(NAMES, children, max_size=3),
                "$defs": st.dictionaries(NAMES.filter(lambda name: name != "$ref"), children, max_size=3),
                "anyOf": st.lists(children, max_size=3),
                "oneOf": st.lists(children, max_size=3),
                "allOf": st.lists(children, max_size=3),
                "items": children,
                "not": children,
                "$ref": REFS,
                "type": st.sampled_from(["object", "array", ["object", "null"]]),
                "required": st.lists(NAMES, max_size=2),
            },
        ),
        max_leaves=25,
    )


if __name__ == "__main__":
    unittest.main()
