"""`n` > 1 on Chat Completions: n copies of one request sent upstream at once, answered as choices 0..n-1.

Providers answer one choice per request (pi's model), so pigw asks n times in parallel. Usage is
the sum of what the n requests really used (the prompt is counted n times, as it was sent n times).
Streams interleave the choices' chunks as they arrive, each with its own index; the usage chunk
and ``[DONE]`` come once, after the last choice finished.
"""

import copy
import queue
import threading
from typing import Any, Callable, Iterator, List, Optional, Sequence

from pigw.core import Answer, Done, Event, Request, Usage, collect
from pigw.net.http import before_wait

MAX_N = 16


def start(gateway, request: Request, n: int) -> List[Iterator[Event]]:
    """n event streams for copies of request, started in parallel; the first failure fails them all."""
    copies = [_copy(request) for _ in range(n)]
    streams = _parallel(lambda number: gateway.stream(copies[number]), n)
    request.target = copies[0].target
    request.dropped = copies[0].dropped
    return streams


def collect_all(streams: List[Iterator[Event]]) -> List[Answer]:
    """Every stream folded into its Answer, concurrently."""
    return _parallel(lambda number: collect(streams[number]), len(streams))


def total_usage(usages: List[Optional[Usage]]) -> Optional[Usage]:
    known = [usage for usage in usages if usage is not None]
    if not known:
        return None
    return Usage(*(sum(getattr(usage, field) for usage in known) for field in Usage.__slots__))


def tap_usage(events: Iterator[Event], usages: List[Optional[Usage]]) -> Iterator[Event]:
    """The events, with the usage of their Done appended to usages."""
    for event in events:
        if type(event) is Done:
            usages.append(event.usage)  # type: ignore[attr-defined]
        yield event


def interleave(choices: Sequence[Iterator[bytes]], is_error: Callable[[bytes], bool]) -> Iterator[bytes]:
    """Frames of every choice as they come, one thread reading each; an error frame ends the whole stream.

    Before waiting for the next frame, the thread's ``before_wait`` hook runs (the server flushes
    what it holds), as a reader of the upstream would.
    """
    frames: queue.Queue[Optional[bytes]] = queue.Queue()
    stop = threading.Event()

    def pump(source: Iterator[bytes]) -> None:
        try:
            for frame in source:
                frames.put(frame)
                if stop.is_set():
                    break
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
            frames.put(None)

    for source in choices:
        threading.Thread(target=pump, args=(source,), name="pigw-fan-out", daemon=True).start()
    running = len(choices)
    try:
        while running:
            if frames.empty():
                hook = before_wait.get()
                if hook is not None:
                    hook()
            frame = frames.get()
            if frame is None:
                running -= 1
                continue
            yield frame
            if is_error(frame):
                return
    finally:
        stop.set()


def _copy(request: Request) -> Request:
    options = copy.copy(request.options)
    options.extra = dict(request.options.extra)
    twin = Request(request.model, request.context, options)
    twin.cancel = request.cancel  # the client going away stops every copy
    twin.must_honour = request.must_honour
    return twin


def _parallel(work: Callable[[int], Any], n: int) -> List[Any]:
    """work(0..n-1), each in its own thread; their results in order, or the first exception raised."""
    results: List[Any] = [None] * n
    errors: List[BaseException] = []

    def run(number: int) -> None:
        try:
            results[number] = work(number)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(number,), daemon=True) for number in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        for result in results:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        raise errors[0]
    return results
