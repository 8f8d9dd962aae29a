"""A small JSON Schema (draft 2020-12) validator, stdlib only, and the checks that hold OpenAI responses to it.

``validate`` implements exactly the keywords `tools/derive_openai_schemas.py` keeps in `schemas/openai/`
(`type`, `enum`, `const`, `required`, `properties`, `additionalProperties`, `items`, `allOf`/`anyOf`/`oneOf`,
`minimum`/`maximum` and local `$ref`s) and raises ValueError on any other keyword it meets, so a schema can
never ask for more than is checked. Each error is one string that starts with the JSON path it is about.

``check_openai_response`` and ``check_openai_stream`` are the hooks the suite's helpers call on every
response of pigw's OpenAI surface (`tests/support/gateway_process.py`, `tests/api/test_openai_chat.py`).
"""

import json
import os
import re
from typing import Any, Dict, List, Union

SCHEMAS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "schemas")

_ANNOTATIONS = frozenset(("$schema", "$id", "$defs", "$comment", "title", "description"))
_KEYWORDS = _ANNOTATIONS | frozenset(
    (
        "$ref",
        "type",
        "enum",
        "const",
        "required",
        "properties",
        "additionalProperties",
        "items",
        "allOf",
        "anyOf",
        "oneOf",
        "minimum",
        "maximum",
    )
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_loaded: Dict[str, Any] = {}


def validate(schema: Any, instance: Any) -> List[str]:
    """Every way instance fails schema, as '<JSON path>: <what is wrong>' strings; empty when it is valid."""
    errors: List[str] = []
    _check(schema, schema, instance, "$", errors)
    return errors


def pinned(name: str) -> Any:
    """schemas/<name>.json (e.g. "openai/chat_completion"), read once per process."""
    schema = _loaded.get(name)
    if schema is None:
        with open(os.path.join(SCHEMAS_DIR, *(name + ".json").split("/")), encoding="utf-8") as handle:
            schema = _loaded[name] = json.load(handle)
    return schema


def check(name: str, instance: Any) -> None:
    """AssertionError naming every error of instance against the pinned schema name."""
    errors = validate(pinned(name), instance)
    if errors:
        raise AssertionError(
            "does not match schemas/%s.json:\n  %s\nin %s"
            % (name, "\n  ".join(errors), json.dumps(instance, ensure_ascii=False)[:2000])
        )


def check_openai_response(path: str, status: int, content_type: str, body: bytes) -> None:
    """Fail unless a response of pigw's OpenAI surface matches its schema; other surfaces and empty bodies pass.

    Errors (4xx/5xx) on every path but `/v1/messages...` (Anthropic's surface) must be OpenAI error bodies.
    """
    route = path.split("?", 1)[0]
    if not body or route.startswith("/v1/messages"):
        return
    if status >= 400:
        check("openai/error", json.loads(body))
    elif route == "/v1/chat/completions":
        if content_type.startswith("text/event-stream"):
            check_openai_stream(body)
        else:
            check("openai/chat_completion", json.loads(body))
    elif route == "/v1/models":
        check("openai/model_list", json.loads(body))
    elif route.startswith("/v1/models/"):
        check("openai/model", json.loads(body))


def check_openai_stream(body: bytes) -> None:
    """Fail unless every frame of a Chat Completions SSE body is one `data:` line: a valid chunk, error or `[DONE]`."""
    for frame in body.split(b"\n\n"):
        if not frame:
            continue
        if not frame.startswith(b"data: ") or b"\n" in frame:
            raise AssertionError("not a single-line data: frame: %r" % frame[:200])
        data = frame[6:]
        if data != b"[DONE]":
            value = json.loads(data)
            check("openai/error" if "error" in value else "openai/chat_completion_chunk", value)


def child_path(path: str, key: Union[str, int]) -> str:
    """The JSON path of a member (`$.choices`, `$["weird key"]`) or an item (`$.choices[0]`) under path."""
    if isinstance(key, int):
        return "%s[%d]" % (path, key)
    return path + ("." + key if _NAME.match(key) else "[%s]" % _dump(key))


def resolve(root: Any, ref: str) -> Any:
    """A `$ref` inside the same document: "#" or a JSON pointer such as "#/$defs/Name"."""
    if not ref.startswith("#"):
        raise ValueError("unsupported $ref %r: only references inside the schema (#/...) are resolved" % ref)
    target = root
    for token in ref[1:].split("/")[1:]:
        target = target[token.replace("~1", "/").replace("~0", "~")]
    return target


def _check(root: Any, schema: Any, value: Any, path: str, errors: List[str]) -> None:
    if schema is True:
        return
    if schema is False:
        errors.append("%s: no value is allowed here" % path)
        return
    unknown = set(schema) - _KEYWORDS
    if unknown:
        raise ValueError("unsupported schema keyword(s) %s at %s" % (", ".join(sorted(unknown)), path))
    if "$ref" in schema:
        _check(root, resolve(root, schema["$ref"]), value, path, errors)
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(kind, value) for kind in kinds):
            errors.append("%s: expected %s, got %s" % (path, " or ".join(kinds), _dump(value)))
            return
    if "enum" in schema and not any(_equal(value, option) for option in schema["enum"]):
        errors.append("%s: %s is not one of %s" % (path, _dump(value), _dump(schema["enum"])))
    if "const" in schema and not _equal(value, schema["const"]):
        errors.append("%s: %s is not %s" % (path, _dump(value), _dump(schema["const"])))
    if _is("number", value):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append("%s: %s is less than the minimum %s" % (path, _dump(value), _dump(schema["minimum"])))
        if "maximum" in schema and value > schema["maximum"]:
            errors.append("%s: %s is more than the maximum %s" % (path, _dump(value), _dump(schema["maximum"])))
    if isinstance(value, dict):
        _check_object(root, schema, value, path, errors)
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _check(root, schema["items"], item, child_path(path, index), errors)
    for branch in schema.get("allOf", ()):
        _check(root, branch, value, path, errors)
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            _check_alternatives(root, keyword, schema[keyword], value, path, errors)


def _check_object(root: Any, schema: Any, value: Dict[str, Any], path: str, errors: List[str]) -> None:
    for name in schema.get("required", ()):
        if name not in value:
            errors.append("%s: missing required property %s" % (path, _dump(name)))
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for name in sorted(value):
        where = child_path(path, name)
        if name in properties:
            _check(root, properties[name], value[name], where, errors)
        elif extra is False:
            errors.append("%s: unexpected property %s" % (path, _dump(name)))
        else:
            _check(root, extra, value[name], where, errors)


def _check_alternatives(root: Any, keyword: str, branches: List[Any], value: Any, path: str, errors: List[str]) -> None:
    failures = []
    for branch in branches:
        found: List[str] = []
        _check(root, branch, value, path, found)
        failures.append(found)
    matched = sum(1 for found in failures if not found)
    if not matched:
        reasons = " | ".join("; ".join(found) for found in failures)
        errors.append("%s: matches none of the %d %s alternatives (%s)" % (path, len(branches), keyword, reasons))
    elif keyword == "oneOf" and matched > 1:
        errors.append("%s: matches %d of the oneOf alternatives, not exactly one" % (path, matched))


def _is(kind: str, value: Any) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "integer":
        # JSON Schema counts 1.0 as an integer: the data model has numbers, not int and float.
        return _is("number", value) and (isinstance(value, int) or value.is_integer())
    raise ValueError("unknown type %r" % kind)


def _equal(left: Any, right: Any) -> bool:
    """JSON equality: true is not 1, 1 is 1.0, objects and arrays compare member by member."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_equal(a, b) for a, b in zip(left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_equal(left[key], right[key]) for key in left)
    if _is("number", left) and _is("number", right):
        return left == right
    return type(left) is type(right) and left == right


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
