"""The incremental SSE reader: each WHATWG rule, a seeded round-trip fuzzer and recorded upstream streams."""

import json
import os
import random
import unittest
from typing import Iterator, List, Optional, Tuple

from pigw.net.sse import iter_events

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_REPO_FIXTURES = os.path.join(_HERE, "fixtures", "wire")
FIXTURES = _REPO_FIXTURES if os.path.isdir(_REPO_FIXTURES) else "/work/shared/fixtures/wire"

Event = Tuple[Optional[str], str]


def parse(*chunks: bytes) -> List[Event]:
    return list(iter_events(chunks))


class GoldenTest(unittest.TestCase):
    def test_rules(self) -> None:
        cases = [
            ("data line", [b'data: {"a":1}\n\n'], [(None, '{"a":1}')]),
            ("event name", [b"event: ping\ndata: x\n\n"], [("ping", "x")]),
            ("event after data", [b"data: x\nevent: ping\n\n"], [("ping", "x")]),
            ("data lines joined", [b"data: a\ndata: b\n\n"], [(None, "a\nb")]),
            ("crlf", [b"data: a\r\n\r\ndata: b\r\n\r\n"], [(None, "a"), (None, "b")]),
            ("cr", [b"data: a\rdata: b\r\r"], [(None, "a\nb")]),
            ("cr then crlf", [b"data: a\r\r\n"], [(None, "a")]),
            ("crlf split", [b"data: a\r", b"\n\r", b"\n"], [(None, "a")]),
            ("crlf split twice", [b"data: a\r", b"\ndata: b\r", b"\n\r\n"], [(None, "a\nb")]),
            ("cr, empty chunk, lf", [b"data: a\r", b"", b"\n", b"\n"], [(None, "a")]),
            ("cr at end, cr next", [b"data: a\r", b"\r"], [(None, "a")]),
            ("comment", [b": keepalive\n\ndata: x\n: more\n\n"], [(None, "x")]),
            ("ignored fields", [b"id: 7\nretry: 100\nfoo: bar\ndata: x\n\n"], [(None, "x")]),
            ("one space removed", [b"data:  two\n\ndata:none\n\n"], [(None, " two"), (None, "none")]),
            ("colon in value", [b"data: a: b:c\n\n"], [(None, "a: b:c")]),
            ("field name exact", [b"data : x\nData: y\ndata: z\n\n"], [(None, "z")]),
            ("no colon is empty data", [b"data\n\n"], [(None, "")]),
            ("two empty data lines", [b"data\ndata:\n\n"], [(None, "\n")]),
            ("empty event name", [b"event\ndata: x\n\nevent:\ndata: y\n\n"], [(None, "x"), (None, "y")]),
            ("no data, no dispatch", [b"event: a\n\n"], []),
            ("name reset by blank line", [b"event: a\n\ndata: x\n\n"], [(None, "x")]),
            ("name reset by dispatch", [b"event: a\ndata: 1\n\ndata: 2\n\n"], [("a", "1"), (None, "2")]),
            ("last event name wins", [b"event: a\nevent: b\ndata: 1\n\n"], [("b", "1")]),
            ("bom", [b"\xef\xbb\xbfdata: x\n\n"], [(None, "x")]),
            ("bom split", [b"\xef", b"\xbb", b"\xbfdata: x\n\n"], [(None, "x")]),
            ("bom on blank first line", [b"\xef\xbb\xbf\ndata: x\n\n"], [(None, "x")]),
            ("bom only at start", [b"data: a\n\n\xef\xbb\xbfdata: b\n\n"], [(None, "a")]),
            ("utf-8 split", [b"data: caf\xc3", b"\xa9 \xe6\x97", b"\xa5\n\n"], [(None, "caf\xe9 \u65e5")]),
            ("invalid utf-8", [b"data: \xff!\n\n"], [(None, "\ufffd!")]),
            ("utf-8 event name", [b"event: \xc3\xa9\ndata: x\n\n"], [("\xe9", "x")]),
            ("eof after line", [b"data: x\n"], [(None, "x")]),
            ("eof mid line", [b"event: e\ndata: x"], [("e", "x")]),
            ("eof mid line after cr", [b"data: a\r", b"data: b"], [(None, "a\nb")]),
            ("eof with bom only line", [b"\xef\xbb\xbfdata: x"], [(None, "x")]),
            ("eof after dispatch", [b"data: x\n\n"], [(None, "x")]),
            ("eof comment", [b"data: x\n\n: bye"], [(None, "x")]),
            ("empty chunks", [b"", b"data: x\n", b"", b"\n", b""], [(None, "x")]),
            ("nothing", [], []),
            (
                "one byte at a time",
                [bytes([b]) for b in b"event: e\r\ndata: 1\r\n\r\ndata: 2\n\n"],
                [("e", "1"), (None, "2")],
            ),
        ]
        for label, chunks, expected in cases:
            with self.subTest(label):
                self.assertEqual(parse(*chunks), expected)

    def test_event_dispatched_before_next_chunk_is_pulled(self) -> None:
        pulled = []

        def chunks() -> Iterator[bytes]:
            for chunk in (b"data: 1\n", b"\ndata: 2\n\n", b"data: 3\n\n"):
                pulled.append(chunk)
                yield chunk

        events = iter_events(chunks())
        self.assertEqual(next(events), (None, "1"))
        self.assertEqual(len(pulled), 2)
        self.assertEqual(next(events), (None, "2"))
        self.assertEqual(len(pulled), 2)
        self.assertEqual(list(events), [(None, "3")])


class RoundTripTest(unittest.TestCase):
    """Random events, serialised with random line endings and split anywhere, parse back to themselves."""

    CASES = 2500
    ALPHABET = ["a", "b", "Z", "0", " ", ":", "{", '"', "\xe9", "\u65e5", "\U0001f600", "\t", "\ufeff"]

    def test_round_trip(self) -> None:
        rng = random.Random(20240611)
        for case in range(self.CASES):
            events = [self._event(rng) for _ in range(rng.randint(0, 6))]
            stream = self._serialise(rng, events)
            chunks = self._split(rng, stream)
            got = list(iter_events(chunks))
            if got != events:
                self.fail(f"case {case}: {stream!r} split as {chunks!r} gave {got!r}, expected {events!r}")

    def _text(self, rng: random.Random, low: int) -> str:
        return "".join(rng.choice(self.ALPHABET) for _ in range(rng.randint(low, 8)))

    def _event(self, rng: random.Random) -> Event:
        name = self._text(rng, 1) if rng.random() < 0.5 else None
        lines = [self._text(rng, 0) for _ in range(rng.randint(1, 3))]
        return name, "\n".join(lines)

    def _serialise(self, rng: random.Random, events: List[Event]) -> bytes:
        lines: List[str] = []
        for name, data in events:
            fields = [self._field(rng, "data", line) for line in data.split("\n")]
            if name is not None:
                fields.insert(rng.randint(0, len(fields)), self._field(rng, "event", name))
            for _ in range(rng.randint(0, 2)):
                noise = rng.choice([": comment " + self._text(rng, 0), "id: 12", "retry: 300", "x-custom: 1", ":"])
                fields.insert(rng.randint(0, len(fields)), noise)
            lines.extend(fields)
            lines.append("")
        out: List[str] = ["\ufeff"] if rng.random() < 0.1 else []
        previous = ""
        for line in lines:
            endings = ["\r\n", "\r"] if previous == "\r" and not line else ["\n", "\r\n", "\r"]
            previous = rng.choice(endings)
            out.append(line + previous)
        if events and rng.random() < 0.3:
            out.pop()  # no blank line after the last event
            if rng.random() < 0.5:
                out[-1] = out[-1].rstrip("\r\n")
        return "".join(out).encode("utf-8")

    def _field(self, rng: random.Random, field: str, value: str) -> str:
        if field == "data" and not value and rng.random() < 0.3:
            return "data"
        if value.startswith(" ") or rng.random() < 0.5:
            return f"{field}: {value}"
        return f"{field}:{value}"

    def _split(self, rng: random.Random, stream: bytes) -> List[bytes]:
        cuts = {rng.randint(0, len(stream)) for _ in range(rng.randint(0, 12))}
        if rng.random() < 0.3:  # also between every CR and LF, and inside every multi-byte character
            cuts.update(i + 1 for i in range(len(stream) - 1) if stream[i : i + 2] == b"\r\n")
            cuts.update(i for i in range(len(stream)) if stream[i] & 0xC0 == 0x80)
        bounds = [0, *sorted(cuts), len(stream)]
        return [stream[a:b] for a, b in zip(bounds, bounds[1:])]


class ArbitraryBytesTest(unittest.TestCase):
    """Any bytes, split anywhere, parse as the whole input does by the rules read line by line."""

    PIECES = [b"data:", b"data: ", b"data", b"event:", b"event: e", b":", b"id: 1", b"x", b" ", b"\n", b"\r", b"\r\n"]
    PIECES += [b"\xef\xbb\xbf", b"\xe2\x82", b"\xac", b"\xff", b"\xc3", b"\xa9", b"\xf0\x9f\x98\x80", b"\x80"]

    def test_against_reference(self) -> None:
        rng = random.Random(20261121)
        for case in range(3000):
            stream = b"".join(rng.choice(self.PIECES) for _ in range(rng.randint(0, 40)))
            cuts = sorted({rng.randint(0, len(stream)) for _ in range(rng.randint(0, 10))})
            bounds = [0, *cuts, len(stream)]
            chunks = [stream[a:b] for a, b in zip(bounds, bounds[1:])]
            expected = reference(stream)
            got = list(iter_events(chunks))
            if got != expected:
                self.fail(f"case {case}: {stream!r} split as {chunks!r} gave {got!r}, expected {expected!r}")


def reference(stream: bytes) -> List[Event]:
    """WHATWG event-stream parsing of a whole input, each line decoded on its own."""
    lines = stream.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    if lines and lines[0].startswith(b"\xef\xbb\xbf"):
        lines[0] = lines[0][3:]
    events: List[Event] = []
    data: List[str] = []
    name: Optional[str] = None
    for raw in lines:
        line = raw.decode("utf-8", "replace")
        if not line:
            if data:
                events.append((name or None, "\n".join(data)))
            data, name = [], None
            continue
        if line.startswith(":"):
            continue
        field, colon, value = line.partition(":")
        value = value[1:] if colon and value.startswith(" ") else value
        if field == "data":
            data.append(value)
        elif field == "event":
            name = value
    if data:
        events.append((name or None, "\n".join(data)))
    return events


class RecordedStreamTest(unittest.TestCase):
    def events(self, name: str, chunk_size: int = 0) -> Tuple[bytes, List[Event]]:
        with open(os.path.join(FIXTURES, name), "rb") as f:
            raw = f.read()
        if chunk_size:
            chunks = [raw[i : i + chunk_size] for i in range(0, len(raw), chunk_size)]
        else:
            chunks = [raw]
        return raw, list(iter_events(chunks))

    def test_openai_chat(self) -> None:
        raw, events = self.events("openai-chat/fx-oai-text.sse")
        self.assertEqual(len(events), 34)
        first_line = raw.split(b"\n", 1)[0].decode()
        self.assertEqual(events[0], (None, first_line[len("data: ") :]))
        self.assertEqual(json.loads(events[0][1])["choices"][0]["delta"]["role"], "assistant")
        self.assertEqual(events[-1], (None, "[DONE]"))
        self.assertEqual(self.events("openai-chat/fx-oai-text.sse", 7)[1], events)

    def test_anthropic(self) -> None:
        raw, events = self.events("anthropic/fx-ant-text.sse")
        self.assertEqual(len(events), 12)
        self.assertEqual(events[0][0], "message_start")
        self.assertEqual(events[0][1], raw.split(b"\n", 2)[1].decode()[len("data: ") :])
        self.assertEqual(events[-1], ("message_stop", '{"type":"message_stop"}'))
        self.assertEqual(
            [name for name, _ in events],
            ["message_start", "content_block_start", "ping"]
            + ["content_block_delta"] * 6
            + ["content_block_stop", "message_delta", "message_stop"],
        )
        self.assertEqual(self.events("anthropic/fx-ant-text.sse", 5)[1], events)

    def test_gemini(self) -> None:
        raw, events = self.events("gemini/fx-gem-text.sse")
        self.assertEqual(len(events), 123)
        self.assertEqual(events[0], (None, raw.split(b"\n", 1)[0].decode()[len("data: ") :]))
        self.assertEqual(json.loads(events[0][1])["responseId"], "IZI2acSKMoWl0-kPmYj2yQc")
        last = json.loads(events[-1][1])
        self.assertEqual(last["candidates"][0]["finishReason"], "STOP")
        self.assertEqual(
            last["candidates"][0]["content"]["parts"], [{"text": ", hold functionality, sound, high scores, etc."}]
        )
        self.assertEqual(self.events("gemini/fx-gem-text.sse", 1000)[1], events)

    def test_gemini_crlf(self) -> None:
        raw, events = self.events("gemini/fx-gem-text3.sse")
        self.assertEqual(raw.count(b"\r\n\r\n"), 3)
        self.assertEqual(len(events), 3)
        self.assertEqual(json.loads(events[0][1])["candidates"][0]["content"]["parts"], [{"text": "There are **3**"}])
        self.assertEqual(json.loads(events[-1][1])["candidates"][0]["finishReason"], "STOP")
        self.assertTrue(all(name is None and "\r" not in data for name, data in events))
        self.assertEqual(self.events("gemini/fx-gem-text3.sse", 3)[1], events)


if __name__ == "__main__":
    unittest.main()
