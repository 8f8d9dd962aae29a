"""Golden bytes of /v1/chat/completions: upstream answers through the openai-completions provider and pigw's renderer.

Each recorded stream of `tests/fixtures/wire/openai-chat/` (and the mock mid-stream error in
`tests/fixtures/golden/upstream/`, since no recording of one exists) is parsed by the provider and rendered
with a fixed id and time as pigw streams it (`<name>.sse`, include_usage on; `<name>.no-usage.sse` where asked).
Each recorded non-stream body there (what pigw asks for when its client does not stream) becomes pigw's
non-stream body (`<name>.json`). The bytes must equal `tests/fixtures/golden/openai-chat/` exactly, match
`schemas/openai/`, and streams must keep OpenAI's stream rules (``stream_rule_violations``).

PIGW_UPDATE_GOLDEN=1 rewrites the golden files from pigw's current output; read the diff before committing.
"""

import json
import os
import unittest
from typing import Any, Dict, List

from pigw.api import json_reply, openai_chat
from pigw.core import collect
from pigw.providers import openai_completions as provider
from pigw.registry import Model
from tests.support.events import FakeResponse
from tests.support.json_schema import check, check_openai_stream
from tests.support.mock_upstream import FIXTURES_DIR

GOLDEN_DIR = os.path.join(os.path.dirname(FIXTURES_DIR), "golden")
EXPECTED_DIR = os.path.join(GOLDEN_DIR, "openai-chat")
UPDATE = os.environ.get("PIGW_UPDATE_GOLDEN") == "1"
COMPLETION_ID = "chatcmpl-golden"
CREATED = 1700000000
# fx-oai-n3 interleaves the deltas of three choices (n=3). pigw never asks an upstream for more than one
# choice (`n` other than 1 is a 400) and reads only the first choice of a chunk, so it has no golden.
# The recorded error bodies come with a 4xx status and never reach the parser.
LEFT_OUT = ("fx-oai-n3.sse", "fx-oai-error-param.json", "fx-oai-error-quota.json")
WITHOUT_USAGE = ("fx-oai-text", "fx-oai-tool-parallel")


def inputs(extension: str) -> Dict[str, str]:
    """Golden case name -> the upstream answer it replays: SSE streams (".sse") or non-stream bodies (".json")."""
    found = {}
    for folder in (os.path.join(FIXTURES_DIR, "openai-chat"), os.path.join(GOLDEN_DIR, "upstream")):
        for file_name in sorted(os.listdir(folder)):
            if file_name.endswith(extension) and file_name not in LEFT_OUT:
                found[file_name[: -len(extension)]] = os.path.join(folder, file_name)
    return found


def render_stream(name: str, source: str, include_usage: bool) -> bytes:
    """The SSE bytes pigw sends for this upstream stream."""
    envelope = openai_chat.chunk_envelope(COMPLETION_ID, CREATED, "mock/" + name)
    return b"".join(openai_chat.render_stream(_events(name, source, True), envelope, include_usage))


def render_completion(name: str, source: str) -> bytes:
    """The non-stream body pigw sends for this upstream body."""
    answer = collect(_events(name, source, False))
    return json_reply(openai_chat.render_completion(answer, COMPLETION_ID, CREATED, "mock/" + name)).body


def stream_rule_violations(body: bytes, include_usage: bool) -> List[str]:
    """How a Chat Completions SSE body breaks OpenAI's stream rules (empty when it keeps them).

    The first chunk carries the role, and no other does; a tool call's `id`, `type` and `function.name` come
    in the first delta of its `index` (indexes counted from 0) and only argument fragments after; every chunk
    has the stream's id, created and model. A clean stream ends with one chunk with `finish_reason`, then,
    only when asked, a usage chunk with empty `choices`, then `[DONE]`. A broken one ends with an error frame,
    without a `finish_reason`, a usage chunk or `[DONE]`.
    """
    frames = [frame[6:] for frame in body.split(b"\n\n") if frame]
    done = frames[-1] == b"[DONE]"
    values = [json.loads(frame) for frame in (frames[:-1] if done else frames)]
    broken = "error" in values[-1]
    chunks = values[:-1] if broken else values
    problems = []
    if broken == done:
        problems.append("ends with %s" % ("an error frame and [DONE]" if done else "neither [DONE] nor an error frame"))
    if len({(chunk["id"], chunk["created"], chunk["model"]) for chunk in chunks}) != 1:
        problems.append("chunks differ in id, created or model")
    usage = [index for index, chunk in enumerate(chunks) if "usage" in chunk]
    empty = [index for index, chunk in enumerate(chunks) if not chunk["choices"]]
    expected = [len(chunks) - 1] if include_usage and not broken else []
    if usage != expected or empty != expected:
        problems.append("usage chunks at %s (empty choices at %s), expected %s" % (usage, empty, expected))
    with_choices = [chunk for chunk in chunks if chunk["choices"]]
    finishes = [index for index, chunk in enumerate(with_choices) if chunk["choices"][0]["finish_reason"] is not None]
    if finishes != ([] if broken else [len(with_choices) - 1]):
        problems.append("finish_reason in chunks %s" % finishes)
    roles = [index for index, chunk in enumerate(with_choices) if "role" in chunk["choices"][0]["delta"]]
    if roles != [0] or with_choices[0]["choices"][0]["delta"]["role"] != "assistant":
        problems.append("role in chunks %s" % roles)
    problems += _tool_call_violations([chunk["choices"][0]["delta"] for chunk in with_choices])
    return problems


class Golden(unittest.TestCase):
    maxDiff = 8000

    def test_streams(self) -> None:
        for name, source in inputs(".sse").items():
            for include_usage in (True, False) if name in WITHOUT_USAGE else (True,):
                file_name = name + ("" if include_usage else ".no-usage") + ".sse"
                with self.subTest(golden=file_name):
                    body = render_stream(name, source, include_usage)
                    self.assert_golden(file_name, body)
                    check_openai_stream(body)
                    self.assertEqual(stream_rule_violations(body, include_usage), [])

    def test_non_stream_bodies(self) -> None:
        for name, source in inputs(".json").items():
            with self.subTest(golden=name + ".json"):
                body = render_completion(name, source)
                self.assert_golden(name + ".json", body)
                check("openai/chat_completion", json.loads(body))

    def test_every_golden_file_has_a_case(self) -> None:
        expected = {name + ".sse" for name in inputs(".sse")} | {name + ".json" for name in inputs(".json")}
        expected |= {name + ".no-usage.sse" for name in WITHOUT_USAGE}
        self.assertEqual(sorted(set(os.listdir(EXPECTED_DIR)) - expected), [])

    def test_the_rule_check_catches_broken_streams(self) -> None:
        source = inputs(".sse")["fx-oai-tool-parallel"]
        frames = render_stream("fx-oai-tool-parallel", source, True).split(b"\n\n")
        no_role = frames[0].replace(b'"role":"assistant",', b"")
        named_twice = frames[3].replace(b'"function":{', b'"id":"call_x","function":{"name":"GetWeatherArgs",')
        cases = [
            (frames[1:], "role in chunks []"),
            ([no_role] + frames[1:], "role in chunks []"),
            (frames[:3] + [named_twice] + frames[4:], "tool call 0 repeats id, type or name"),
            (frames[:1] + frames[2:], "tool call 0 starts without id, type and name"),
            ([frame for frame in frames if b'"finish_reason":"tool_calls"' not in frame], "finish_reason in chunks []"),
            ([frame for frame in frames if b"[DONE]" not in frame], "ends with neither [DONE] nor an error frame"),
            ([frame for frame in frames if b'"usage"' not in frame], "usage chunks at [] (empty choices at [])"),
        ]
        for broken, problem in cases:
            with self.subTest(problem=problem):
                violations = stream_rule_violations(b"\n\n".join(broken), True)
                self.assertTrue(any(violation.startswith(problem) for violation in violations), violations)

    def assert_golden(self, file_name: str, actual: bytes) -> None:
        path = os.path.join(EXPECTED_DIR, file_name)
        if UPDATE:
            with open(path, "wb") as handle:
                handle.write(actual)
        if not os.path.exists(path):
            self.fail(
                "no golden %s: PIGW_UPDATE_GOLDEN=1 writes it from pigw's output (read it before committing)" % path
            )
        with open(path, "rb") as handle:
            expected = handle.read()
        self.assertEqual(actual.decode().split("\n\n"), expected.decode().split("\n\n"), file_name)
        self.assertEqual(actual, expected, file_name)


def _events(name: str, source: str, stream: bool):
    with open(source, "rb") as handle:
        data = handle.read()
    model = Model("mock", name, api="openai-completions", base_url="http://127.0.0.1:9/v1")
    return provider._parse_stream(FakeResponse(data), model.base_url, provider.compat_for(model), model.id, stream)


def _tool_call_violations(deltas: List[Dict[str, Any]]) -> List[str]:
    problems = []
    started: List[int] = []
    for delta in deltas:
        for call in delta.get("tool_calls", ()):
            index = call["index"]
            naming = {"id", "type"} & set(call) | {"name"} & set(call.get("function", {}))
            if index not in started:
                started.append(index)
                if index != len(started) - 1 or naming != {"id", "type", "name"} or call["type"] != "function":
                    problems.append("tool call %d starts without id, type and name (or out of order)" % index)
            elif naming:
                problems.append("tool call %d repeats id, type or name" % index)
    return problems


if __name__ == "__main__":
    unittest.main()
