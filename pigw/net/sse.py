"""Incremental Server-Sent Events reader: byte chunks in, (event name, data) pairs out, per the WHATWG rules."""

from typing import Iterable, Iterator, List, Optional, Tuple

__all__ = ["iter_events"]


def iter_events(chunks: Iterable[bytes]) -> Iterator[Tuple[Optional[str], str]]:
    """(event name or None, data) per dispatched event, as soon as its blank line arrives.

    Lines may end with CRLF, LF or CR, also when a CRLF is split across chunks. Each complete line is
    decoded as UTF-8 (errors replaced), so characters split across chunks survive. At the end of the
    input a pending event is dispatched even without its blank line.
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
        lines = chunk.split(b"\n")
        tail = lines.pop()
        if lines:
            if partial:
                partial.append(lines[0])
                lines[0] = b"".join(partial)
                partial = []
            if at_start:
                lines[0] = _strip_bom(lines[0])
                at_start = False
            for line in lines:
                if line:
                    name = _apply(line, data, name)
                elif data:
                    yield name or None, "\n".join(data)
                    data = []
                    name = None
                else:
                    name = None
        if tail:
            partial.append(tail)
    if partial:
        line = b"".join(partial)
        name = _apply(_strip_bom(line) if at_start else line, data, name)
    if data:
        yield name or None, "\n".join(data)


def _apply(line: bytes, data: List[str], name: Optional[str]) -> Optional[str]:
    """Apply one non-empty line to the pending event: append to ``data``, return the event name."""
    if line.startswith(b"data:"):
        value = line[6:] if line[5:6] == b" " else line[5:]
        data.append(value.decode("utf-8", "replace"))
        return name
    if line[:1] == b":":
        return name
    field, colon, value = line.partition(b":")
    if colon and value[:1] == b" ":
        value = value[1:]
    if field == b"data":
        data.append(value.decode("utf-8", "replace"))
    elif field == b"event":
        return value.decode("utf-8", "replace")
    return name


def _strip_bom(line: bytes) -> bytes:
    return line[3:] if line.startswith(b"\xef\xbb\xbf") else line
