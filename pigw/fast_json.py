"""Fast reading of stream events' JSON: ``loads`` (``json.loads`` at half its cost per call) and ``Template``.

``json.loads`` wraps the C scanner in three Python calls and two regular-expression matches; for a
document with no surrounding whitespace (every stream event pigw reads) the scanner alone decides.
Anything else goes to ``json.loads`` itself, so results and errors are always its own.

Most events of a stream repeat the one before but for one string, the next piece of text (and, from
some upstreams, a last member of padding such as OpenAI's ``obfuscation``). A ``Template`` learnt
from one such event reads the next ones with two compares and one string scan instead of a parse.
"""

import json
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any, Optional, Sequence, Union

_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_SPACE = " \t\n\r"


def loads(text: str) -> Any:
    """``json.loads(text)`` for a str."""
    try:
        value, end = _scan(text, 0)
    except StopIteration:  # empty, leading whitespace or BOM, or not a value: json.loads says which
        return json.loads(text)
    if end != len(text):  # trailing whitespace, or extra data: json.loads says which
        return json.loads(text)
    return value


class Template:
    """An event's JSON text with one string value open (and, if ``padding``, its last member's string too).

    ``match(text)`` is that value when ``text`` is the same document but for those strings, so that
    ``loads(text)`` would equal the learnt event with only the value at ``path`` changed; else None.
    Every string is scanned, so ``match`` accepts only what ``loads`` accepts.
    """

    __slots__ = ("_head", "_tail", "_padded")

    def __init__(self, head: str, tail: str, padded: bool) -> None:
        self._head = head  # up to and with the value's opening quote
        self._tail = tail  # after its closing quote: to the end, or (padded) to the padding's opening quote
        self._padded = padded

    @classmethod
    def learn(cls, text: str, event: Any, path: Sequence[Union[str, int]], padding: str = "") -> Optional["Template"]:
        """The template of ``text`` (whose ``loads`` is ``event``) open at ``path``, whose value is a string.

        ``padding`` names a top-level member that may change too when it is the event's last, a
        string; the caller promises it does not read it. None when the value cannot be told apart.
        """
        start = _value_quote(text, path[-1])
        value = _walk(event, path)
        if start < 0 or not isinstance(value, str):
            return None
        try:
            found, end = scanstring(text, start + 1)
            head, tail, probe = text[: start + 1], text[end:], json.dumps(value + ".")[1:]
            padded = False
            if padding and isinstance(event, dict) and list(event)[-1:] == [padding]:
                pad_start = _value_quote(tail, padding)
                if pad_start >= 0 and isinstance(event[padding], str):
                    _, pad_end = scanstring(tail, pad_start + 1)
                    if tail[pad_end:] == "}":
                        tail, padded = tail[: pad_start + 1], True
                        probe += tail + json.dumps(event[padding] + ".")[1:] + "}"
            probed = loads(head + probe) if padded else loads(head + probe + tail)
        except ValueError:  # not expected of a document loads read; no template rather than an error
            return None
        if found != value or _walk(probed, path) != value + ".":
            return None
        if padded and probed.get(padding) != event[padding] + ".":
            return None
        return cls(head, tail, padded)

    def match(self, text: str) -> Optional[str]:
        """The open value of ``text`` if it is this template's document; else None."""
        head = self._head
        if not text.startswith(head):
            return None
        try:
            value, end = scanstring(text, len(head))
            tail = self._tail
            if not text.startswith(tail, end):
                return None
            end += len(tail)
            if self._padded:
                end = scanstring(text, end)[1] + 1
                if text[end - 1 : end] != "}":
                    return None
        except ValueError:  # not a string where the template has one: loads says what it is
            return None
        return value if end == len(text) else None


def _value_quote(text: str, key: Any) -> int:
    """Where the string value of the last ``"key":`` member in ``text`` opens, or -1."""
    marker = json.dumps(key) + ":"
    at = text.rfind(marker)
    if at < 0:
        return -1
    at += len(marker)
    while at < len(text) and text[at] in _SPACE:
        at += 1
    return at if text[at : at + 1] == '"' else -1


def _walk(value: Any, path: Sequence[Union[str, int]]) -> Any:
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            return None
    return value
