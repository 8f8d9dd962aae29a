"""Incremental Server-Sent Events reader: byte chunks in, (event name, data) pairs out, per the WHATWG rules."""

from typing import Iterable, Iterator, List, Optional, Tuple

__all__ = ["iter_events"]


def iter_events(chunks: Iterable[bytes]) -> Iterator[Tuple[Optional[str], str]]:
    """(event name or None, data) per dispatched event, as soon as its blank line arrives.

    Lines may end with CRLF, LF or CR, also when a CRLF is split across chunks. Complete lines are
    decoded as UTF-8 (errors replaced) together, once per chunk; a line split across chunks is
    decoded once whole, so characters split across chunks survive. At the end of the input a
    pending event is dispatched even without its blank line.
    """
    partial: List[bytes] = []  # the unterminated start of the next line
    data: List[str] = []
    name: Optional[str] = None
    after_cr = False  # the previous chunk ended with CR, so a leading LF is that line's end
    at_start = True  # the next complete line is the first of the stream (may carry a BOM)
    for chunk in chunks:
        if not chunk:
            continue
        if after_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]
            after_cr = False
            if not chunk:
                continue
        if b"\r" in chunk:
            after_cr = chunk[-1:] == b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        else:
            after_cr = False
        cut = chunk.rfind(b"\n")
        if cut < 0:
            partial.append(chunk)
            continue
        if partial:
            partial.append(chunk[:cut])
            complete = b"".join(partial)
            partial = []
        else:
            complete = chunk[:cut]
        text = complete.decode("utf-8", "replace")
        if at_start:
            at_start = False
            if text[:1] == "\ufeff":
                text = text[1:]
        for line in text.split("\n"):
            if line[:5] == "data:":  # the usual line, handled here rather than by _apply
                data.append(line[6:] if line[5:6] == " " else line[5:])
            elif line:
                name = _apply(line, data, name)
            elif data:
                yield name or None, data[0] if len(data) == 1 else "\n".join(data)
                data = []
                name = None
            else:
                name = None
        if cut + 1 < len(chunk):
            partial.append(chunk[cut + 1 :])
    if partial:
        line = b"".join(partial).decode("utf-8", "replace")
        name = _apply(line[1:] if at_start and line[:1] == "\ufeff" else line, data, name)
    if data:
        yield name or None, "\n".join(data)


def _apply(line: str, data: List[str], name: Optional[str]) -> Optional[str]:
    """Apply one non-empty line to the pending event: append to ``data``, return the event name."""
    if line[:1] == ":":
        return name
    field, colon, value = line.partition(":")
    if colon and value[:1] == " ":
        value = value[1:]
    if field == "data":
        data.append(value)
    elif field == "event":
        return value
    return name
