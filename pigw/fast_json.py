"""``loads`` for the JSON of each stream event: ``json.loads``'s results and errors, at half its cost per call.

``json.loads`` wraps the C scanner in three Python calls and two regular-expression matches; for a
document with no surrounding whitespace (every stream event pigw reads) the scanner alone decides.
Anything else goes to ``json.loads`` itself, so results and errors are always its own.
"""

import json
from typing import Any

_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def loads(text: str) -> Any:
    """``json.loads(text)`` for a str."""
    try:
        value, end = _scan(text, 0)
    except StopIteration:  # empty, leading whitespace or BOM, or not a value: json.loads says which
        return json.loads(text)
    if end != len(text):  # trailing whitespace, or extra data: json.loads says which
        return json.loads(text)
    return value
