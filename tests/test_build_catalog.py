"""Tests for tools/build_catalog.py and the committed pigw/data/catalog.json (round trip with pi-models.json)."""

import importlib.util
import json
import os
import pkgutil
import unittest
import zlib
from collections import OrderedDict

from pigw import registry
from pigw.registry import load_catalog

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_CATALOG = os.path.join(REPO, "..", "shared", "data", "pi-models.json")


def load_tool():
    spec = importlib.util.spec_from_file_location("build_catalog", os.path.join(REPO, "tools", "build_catalog.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_catalog = load_tool()


def read_shared_catalog(test):
    if not os.path.exists(SHARED_CATALOG):
        test.skipTest(f"SKIPPED: {SHARED_CATALOG} not found; the round trip needs pi's catalog")
    with open(SHARED_CATALOG, encoding="utf-8") as f:
        return json.load(f, object_pairs_hook=OrderedDict)


ZERO = {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0}


def model(**fields):
    base = {"provider": "p", "baseUrl": "u", "cost": ZERO, "maxTokens": 10}
    base.update(fields)
    return base


SMALL = {
    "source": "s",
    "catalogGeneratedAt": "t",
    "providers": OrderedDict(
        [
            (
                "p",
                [
                    model(
                        id="a",
                        name="A",
                        api="x",
                        reasoning=False,
                        input=["text"],
                        contextWindow=100,
                        compat={"s": True},
                    ),
                    model(
                        id="b", name="b", api="x", reasoning=True, input=["text"], contextWindow=100, compat={"s": True}
                    ),
                    model(
                        id="c", name="C", api="y", reasoning=False, input=["text", "image"], contextWindow=200, lab="L"
                    ),
                ],
            ),
            ("q", [model(id="d", name="D", provider="q", api="x", reasoning=False, input=["text"], contextWindow=1)]),
        ]
    ),
}


class BuildTest(unittest.TestCase):
    def test_compact_form(self):
        self.assertEqual(
            build_catalog.build(SMALL).decode(),
            '{"catalogGeneratedAt":"t","format":2,"providers":['
            '["p",{"api":"x","baseUrl":"u","compat":2,"contextWindow":100,"cost":1,"input":0,"maxTokens":10,'
            '"reasoning":false},'
            '[{"id":"a","name":"A"},{"id":"b","reasoning":true},'
            '{"api":"y","compat":null,"contextWindow":200,"id":"c","input":3,"name":"C"}]],'
            '["q",{},[{"api":"x","baseUrl":"u","contextWindow":1,"cost":1,"id":"d","input":0,"maxTokens":10,'
            '"name":"D","reasoning":false}]]],'
            '"source":"s",'
            '"values":[["text"],{"cacheRead":0,"cacheWrite":0,"input":0,"output":0},{"s":true},["text","image"]]}\n',
        )

    def test_same_input_same_bytes_whatever_the_key_order(self):
        shuffled = dict(SMALL)
        shuffled["providers"] = OrderedDict(
            (provider, [dict(reversed(list(entry.items()))) for entry in entries])
            for provider, entries in SMALL["providers"].items()
        )
        self.assertEqual(build_catalog.build(shuffled), build_catalog.build(SMALL))

    def test_unknown_fields_are_refused(self):
        catalog = {"providers": {"p": [model(id="a", name="a", api="x", colour="red")]}}
        with self.assertRaises(ValueError) as caught:
            build_catalog.build(catalog)
        self.assertEqual(str(caught.exception), "p/a: unknown field 'colour' (teach build_catalog.py and Model)")

    def test_shared_fields_must_be_objects_or_arrays_and_others_not(self):
        for field, value in (("cost", 1), ("input", "text"), ("contextWindow", [1])):
            with self.assertRaises(ValueError) as caught:
                build_catalog.build({"providers": {"p": [model(id="a", name="a", api="x", **{field: value})]}})
            kind = type(value).__name__
            self.assertEqual(str(caught.exception), f"p/a: field {field!r} has a value of type {kind}")

    def test_loader_resolves_the_fields_the_tool_shares(self):
        self.assertEqual(registry._SHARED_FIELDS, build_catalog.SHARED_FIELDS)

    def test_models_must_sit_under_their_provider(self):
        catalog = {"providers": {"p": [model(id="a", name="a", api="x", provider="q")]}}
        with self.assertRaises(ValueError) as caught:
            build_catalog.build(catalog)
        self.assertEqual(str(caught.exception), "p/a: listed under 'p' but says provider 'q'")


class CommittedCatalogTest(unittest.TestCase):
    def test_round_trip_equals_pi_models_json_field_by_field(self):
        source = read_shared_catalog(self)["providers"]
        loaded = load_catalog()
        self.assertEqual(list(loaded), list(source))
        for provider, source_models in source.items():
            self.assertEqual([m.id for m in loaded[provider]], [m["id"] for m in source_models], provider)
            for model_object, source_model in zip(loaded[provider], source_models):
                expected = {k: v for k, v in source_model.items() if k not in build_catalog.DROPPED_FIELDS}
                expected["provider"] = provider
                actual = model_object.to_dict()
                self.assertEqual(sorted(actual), sorted(expected), model_object.public_id)
                for field, value in expected.items():
                    self.assertEqual(
                        json.dumps(actual[field], sort_keys=True),
                        json.dumps(value, sort_keys=True),
                        f"{model_object.public_id} {field}",
                    )

    def test_equal_values_are_one_object(self):
        loaded = [model for models in load_catalog().values() for model in models]
        for field in ("cost", "compat", "thinking_level_map", "input", "input_limits"):
            values = [getattr(model, field) for model in loaded if getattr(model, field)]
            distinct = {json.dumps(value, sort_keys=True) for value in values}
            self.assertEqual(len({id(value) for value in values}), len(distinct), field)

    def test_committed_file_is_the_build_of_the_shared_catalog(self):
        source = read_shared_catalog(self)
        self.assertEqual(pkgutil.get_data("pigw", "data/catalog.json"), build_catalog.build(source))

    def test_compressed_size_budget(self):
        data = pkgutil.get_data("pigw", "data/catalog.json")
        self.assertLessEqual(len(zlib.compress(data, 9)), 120 * 1024)


if __name__ == "__main__":
    unittest.main()
