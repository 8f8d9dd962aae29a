"""Derive schemas/openai/*.json, the OpenAI response schemas pigw's tests hold its output to, from OpenAI's OpenAPI.

Usage: python3 tools/derive_openai_schemas.py [path/to/openai-openapi.json] [--out DIR]
       (default ../shared/specs/openai-openapi.json relative to the repository, output schemas/openai/)

Each output file is one component of the spec (below) made a self-contained JSON Schema (draft 2020-12):
every `$ref` it reaches is copied under `$defs` and pointed at there. On the way, each schema node is
translated from OpenAPI 3.1 to plain JSON Schema:

- `nullable: true` (an OpenAPI 3.0 leftover JSON Schema ignores) becomes "or null": `null` is added to
  `type` and to `enum`, and a node without `type` (a `$ref`, an `anyOf`) is wrapped in `anyOf [node, {type: null}]`.
- OpenAPI-only vocabulary is dropped: `discriminator` (the `oneOf` branches already differ by a `type` const)
  and every `x-*` key (`x-oaiMeta`, `x-oaiTypeLabel`, `x-stainless-const`, ...).
- Annotations are dropped: `description`, `title`, `default`, `deprecated`, `example(s)`, and `format`
  (`unixtime` is no JSON Schema format; `uri`/`date` are annotations in 2020-12 unless a validator opts in).
- Narrowing: a node with `properties` is typed `object` and closed (`additionalProperties: false`) unless the
  spec says otherwise, so a stray field in pigw's output fails the tests.
- pigw's extensions (``EXTENSIONS``) are added as properties, each marked with a `$comment`.
Any other keyword stops the tool: a new keyword in the spec needs a decision here, and in the validator.

Same input, same bytes: keys sorted, two-space indent, one trailing newline.
"""

import argparse
import copy
import json
import os
import sys
from typing import Any, Dict, Iterator, List

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SPEC = os.path.join(ROOT, "..", "shared", "specs", "openai-openapi.json")
DEFAULT_OUT = os.path.join(ROOT, "schemas", "openai")
DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "https://schemas.pigw.invalid/openai/"
REF_PREFIX = "#/components/schemas/"

# Output file (without .json) -> the spec component it holds, and what pigw uses it for.
OUTPUTS = {
    "chat_completion": ("CreateChatCompletionResponse", "The non-stream body of POST /v1/chat/completions."),
    "chat_completion_chunk": (
        "CreateChatCompletionStreamResponse",
        "Each `data:` frame of a POST /v1/chat/completions stream, except `[DONE]` and error frames.",
    ),
    "model_list": ("ListModelsResponse", "The body of GET /v1/models."),
    "model": ("Model", "The body of GET /v1/models/{id}."),
    "error": ("ErrorResponse", "Every OpenAI-shaped error body, and the error frame that ends a broken stream."),
}

# Fields pigw emits that the spec does not list, added to the named components. `reasoning_content` is the
# de-facto reasoning field of OpenAI-compatible APIs (DeepSeek, Qwen, vLLM, ...) that clients read.
EXTENSIONS = {
    "ChatCompletionResponseMessage": {
        "reasoning_content": {
            "$comment": "pigw extension: the answer's reasoning text, when the model reasoned.",
            "type": "string",
        }
    },
    "ChatCompletionStreamResponseDelta": {
        "reasoning_content": {
            "$comment": "pigw extension: a fragment of the reasoning text.",
            "type": "string",
        }
    },
}

_DEFS = "#/$defs/"
# The validation keywords kept (tests/support/json_schema.py implements exactly these), by what they hold.
_SUBSCHEMA = ("additionalProperties", "items")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_KEPT = frozenset(
    ("$ref", "$comment", "type", "enum", "const", "required", "minimum", "maximum", "properties")
    + _SUBSCHEMA
    + _SUBSCHEMA_LISTS
)
_DROPPED = frozenset("description title default deprecated example examples format discriminator nullable".split())


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("spec", nargs="?", default=DEFAULT_SPEC, help="OpenAI's openapi.json")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder the schema files are written to")
    args = parser.parse_args(argv)
    with open(args.spec, encoding="utf-8") as handle:
        spec = json.load(handle)
    os.makedirs(args.out, exist_ok=True)
    for name, text in derive(spec).items():
        with open(os.path.join(args.out, name + ".json"), "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    sys.stdout.write("wrote %d schemas to %s\n" % (len(OUTPUTS), args.out))
    return 0


def derive(spec: Dict[str, Any]) -> Dict[str, str]:
    """Output file name (without .json) -> its exact text."""
    components = extended(spec["components"]["schemas"])
    out = {}
    for name, (component, description) in OUTPUTS.items():
        schema: Dict[str, Any] = {
            "$schema": DIALECT,
            "$id": ID_BASE + name + ".json",
            "title": component,
            "description": description,
        }
        schema.update(translate(components[component]))
        defs: Dict[str, Any] = {}
        pending = list(_refs(schema))
        while pending:
            ref = pending.pop()
            if ref not in defs:
                defs[ref] = translate(components[ref])
                pending.extend(_refs(defs[ref]))
        if defs:
            schema["$defs"] = defs
        out[name] = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return out


def extended(components: Dict[str, Any]) -> Dict[str, Any]:
    """The spec's components with pigw's extension properties added (never replacing what the spec has)."""
    components = copy.deepcopy(components)
    for component, fields in EXTENSIONS.items():
        properties = components[component]["properties"]
        for field, schema in fields.items():
            if field in properties:
                raise SystemExit("the spec now defines %s.%s: drop pigw's extension of it" % (component, field))
            properties[field] = schema
    return components


def translate(node: Any) -> Any:
    """One OpenAPI schema node (and everything under it) as plain JSON Schema; see the module docstring."""
    if not isinstance(node, dict):
        raise SystemExit("not a schema: %r" % (node,))
    out: Dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED or key.startswith("x-"):
            continue
        if key not in _KEPT:
            raise SystemExit("unsupported schema keyword %r: decide how to translate it" % key)
        if key == "$ref":
            out[key] = _DEFS + _component(value)
        elif key in _SUBSCHEMA:
            out[key] = translate(value) if isinstance(value, dict) else value
        elif key in _SUBSCHEMA_LISTS:
            out[key] = [translate(item) for item in value]
        elif key == "properties":
            out[key] = {name: translate(item) for name, item in value.items()}
        else:
            out[key] = copy.deepcopy(value)
    if "properties" in out:
        out.setdefault("type", "object")
        out.setdefault("additionalProperties", False)
    if node.get("nullable") is True:
        out = _or_null(out)
    return out


def _or_null(node: Dict[str, Any]) -> Dict[str, Any]:
    kind = node.get("type")
    if kind is None:
        return {"anyOf": [node, {"type": "null"}]}
    kinds = kind if isinstance(kind, list) else [kind]
    if "null" not in kinds:
        node["type"] = kinds + ["null"]
    if "enum" in node and None not in node["enum"]:
        node["enum"] = node["enum"] + [None]
    return node


def _refs(node: Any) -> Iterator[str]:
    """The component names a translated node points at."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value[len(_DEFS) :]
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _component(ref: str) -> str:
    if not ref.startswith(REF_PREFIX):
        raise SystemExit("unsupported $ref %r (only %s...)" % (ref, REF_PREFIX))
    return ref[len(REF_PREFIX) :]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
