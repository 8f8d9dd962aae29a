"""Helpers for provider tests: canonical events as plain tuples, and a fake upstream response."""


def describe(events):
    """(event name, its fields...) per event; usage as (input, output, cache read, cache write, reasoning).

    A Done's stop_sequence is listed only when set.
    """
    out = []
    for event in events:
        slots = [slot for slot in type(event).__slots__ if slot != "usage"]
        if getattr(event, "stop_sequence", None) is None and "stop_sequence" in slots:
            slots.remove("stop_sequence")
        fields = tuple(getattr(event, slot) for slot in slots)
        usage = getattr(event, "usage", None)
        if usage is not None:
            fields += ((usage.input, usage.output, usage.cache_read, usage.cache_write, usage.reasoning),)
        out.append((type(event).__name__,) + fields)
    return out


class FakeResponse:
    """Stands in for a pooled upstream response: yields the given bytes, records how it was finished."""

    status = 200

    def __init__(self, data: bytes, piece: int = 37) -> None:
        self.data = data
        self.piece = piece
        self.finished = None

    def chunks(self):
        for start in range(0, len(self.data), self.piece):
            yield self.data[start : start + self.piece]

    def read(self) -> bytes:
        return self.data

    def release(self) -> None:
        self.finished = "released"

    def close(self) -> None:
        self.finished = "closed"
