"""schemas/openai/: the files are tools/derive_openai_schemas.py's output of the pinned spec, and the hooks that
hold every OpenAI response of the suite to them fail when they should."""

import hashlib
import importlib.util
import json
import os
import unittest

from pigw.api import openai_chat
from pigw.core import Answer, Text
from tests.support import json_schema

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL_PATH = os.path.join(REPO, "tools", "derive_openai_schemas.py")
SCHEMAS = os.path.join(REPO, "schemas", "openai")
_spec = importlib.util.spec_from_file_location("derive_openai_schemas", TOOL_PATH)
derive_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(derive_tool)


class Derivation(unittest.TestCase):
    def test_committed_files_are_the_tools_output_of_the_pinned_spec(self) -> None:
        if not os.path.exists(derive_tool.DEFAULT_SPEC):
            self.skipTest("SKIPPED: %s not found; the schemas cannot be re-derived here" % derive_tool.DEFAULT_SPEC)
        with open(derive_tool.DEFAULT_SPEC, "rb") as handle:
            data = handle.read()
        with open(os.path.join(SCHEMAS, "README.md"), encoding="utf-8") as handle:
            readme = handle.read()
        self.assertIn("sha256 `%s`" % hashlib.sha256(data).hexdigest(), readme)
        self.assertIn("`info.version` %s" % json.loads(data)["info"]["version"], readme)
        for name, text in derive_tool.derive(json.loads(data)).items():
            with self.subTest(schema=name):
                with open(os.path.join(SCHEMAS, name + ".json"), "rb") as kept:
                    self.assertEqual(kept.read(), text.encode())
        self.assertEqual(
            sorted(os.listdir(SCHEMAS)), sorted([name + ".json" for name in derive_tool.OUTPUTS] + ["README.md"])
        )

    def test_openapi_keywords_are_translated(self) -> None:
        translate = derive_tool.translate
        self.assertEqual(
            translate(
                {"type": "string", "enum": ["a"], "nullable": True, "description": "d", "x-stainless-const": True}
            ),
            {"type": ["string", "null"], "enum": ["a", None]},
        )
        self.assertEqual(
            translate({"$ref": "#/components/schemas/Usage", "nullable": True, "deprecated": True}),
            {"anyOf": [{"$ref": "#/$defs/Usage"}, {"type": "null"}]},
        )
        self.assertEqual(
            translate({"title": "M", "properties": {"id": {"type": "string", "format": "unixtime", "default": "x"}}}),
            {"type": "object", "additionalProperties": False, "properties": {"id": {"type": "string"}}},
        )
        self.assertEqual(
            translate({"oneOf": [{"$ref": "#/components/schemas/A"}], "discriminator": {"propertyName": "type"}}),
            {"oneOf": [{"$ref": "#/$defs/A"}]},
        )
        map_schema = {"type": "object", "additionalProperties": {"type": "string"}, "x-oaiTypeLabel": "map"}
        self.assertEqual(translate(map_schema), {"type": "object", "additionalProperties": {"type": "string"}})
        with self.assertRaisesRegex(SystemExit, "unsupported schema keyword 'pattern'"):
            translate({"type": "string", "pattern": "^a"})

    def test_extensions_never_replace_what_the_spec_defines(self) -> None:
        components = {name: {"properties": {}} for name in derive_tool.EXTENSIONS}
        self.assertEqual(
            derive_tool.extended(components)["ChatCompletionStreamResponseDelta"]["properties"]["reasoning_content"][
                "type"
            ],
            "string",
        )
        components["ChatCompletionResponseMessage"]["properties"]["reasoning_content"] = {"type": "string"}
        with self.assertRaisesRegex(SystemExit, "the spec now defines ChatCompletionResponseMessage.reasoning_content"):
            derive_tool.extended(components)


class Hooks(unittest.TestCase):
    def test_responses_are_checked_by_route(self) -> None:
        stray = b'{"object":"list","data":[{"id":"p/m","object":"model","created":1,"owned_by":"p","extra":1}]}'
        error_without_code = b'{"error":{"message":"m","type":"t","param":null}}'
        cases = [
            ("/v1/models", 200, "application/json", stray, '$.data[0]: unexpected property "extra"'),
            ("/v1/models/p%2Fm", 200, "application/json", b'{"id":"p/m"}', '$: missing required property "created"'),
            ("/v1/anything", 404, "application/json", error_without_code, '$.error: missing required property "code"'),
            (
                "/v1/chat/completions",
                200,
                "text/event-stream",
                b'data: {"choices":[]}\n\n',
                '$: missing required property "created"',
            ),
            ("/v1/chat/completions", 200, "text/event-stream", b": keepalive\n\n", "not a single-line data: frame"),
            (
                "/v1/chat/completions?x=1",
                200,
                "application/json",
                b'{"object":"chat.completion"}',
                '$: missing required property "choices"',
            ),
        ]
        for path, status, content_type, body, error in cases:
            with self.subTest(path=path, body=body):
                with self.assertRaises(AssertionError) as caught:
                    json_schema.check_openai_response(path, status, content_type, body)
                self.assertIn(error, str(caught.exception))

    def test_other_surfaces_and_empty_bodies_pass(self) -> None:
        json_schema.check_openai_response("/v1/messages", 400, "application/json", b'{"type":"error"}')
        json_schema.check_openai_response("/v1/chat/completions", 204, "", b"")
        json_schema.check_openai_response("/healthz", 200, "application/json", b'{"ok":true,"uptimeMs":1}')

    def test_pigw_non_stream_message_has_the_required_refusal(self) -> None:
        """The spec requires `message.refusal`; pigw sends null (an upstream refusal arrives as the content)."""
        answer = Answer()
        answer.content = [Text("hi")]
        body = openai_chat.render_completion(answer, "chatcmpl-1", 1, "p/m")
        self.assertEqual(json_schema.validate(json_schema.pinned("openai/chat_completion"), body), [])


if __name__ == "__main__":
    unittest.main()
