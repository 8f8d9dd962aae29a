"""Canonical events as plain tuples, so tests can compare whole streams exactly."""


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
