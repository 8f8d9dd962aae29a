"""Fast stdlib-only mock LLM upstream for pigw's benchmark (loopback only).

Serves OpenAI Chat Completions (`POST /v1/chat/completions`: JSON, or SSE with a role chunk, N
content chunks, a finish chunk, a usage chunk when `stream_options.include_usage`, `[DONE]`),
Anthropic Messages (`POST /v1/messages`: JSON or SSE) and `GET /v1/models`, also without `/v1`.
The shape comes from the model name: `-c<N>` content chunks (default 20), `-d<ms>` between
chunks, `-t<ms>` before the first byte, e.g. `mock-c20-d5`. One asyncio thread; answers are
serialised once per request body, and every SSE event goes out as its own chunked-encoding write
with TCP_NODELAY.

Faults (`--faults reset_mid=0.05,http_429=0.02,...`, off by default): each POST to a model route
draws one kind from a seeded RNG (`--seed`) at the given rates, or none. `reset_head` resets the
connection before the status line; `reset_mid` resets it, and `eof_mid` closes it cleanly, after
some of the answer's writes (a non-stream body is cut in two); `stall_head` waits `--stall-ms`
before the first byte, `stall_mid` between two writes, then the answer goes on; `http_429`
(with `Retry-After: 0` or `1`), `http_500`, `http_502` and `http_503` answer with an error body
in the route's provider shape. `GET /_mock/faults` gives the counts drawn so far as JSON.

Usage: python3 mock_upstream.py [--port N] [--faults SPEC --seed N --stall-ms MS]
       (port 0 picks a free port; the URL is printed)
"""

import argparse
import asyncio
import json
import random
import re
import socket
import struct
import sys
import time

CREATED = int(time.time())
MODELS = ("mock", "mock-c20-d0", "mock-c20-d5", "claude-mock-c20-d0")
_SHAPE = re.compile(r"-([cdt])(\d+(?:\.\d+)?)(?=-|$)")
_JSON_HEAD = b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
_SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\n%s\r\n"
)
_CLOSE = b"Connection: close\r\n"
_END = b"0\r\n\r\n"
_MAX_CACHE = 1024
FAULTS = (
    "reset_head",
    "reset_mid",
    "eof_mid",
    "stall_head",
    "stall_mid",
    "http_429",
    "http_500",
    "http_502",
    "http_503",
)
_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


def _dumps(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _frame(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def shape(model: str):
    """(content chunks, seconds between chunks, seconds before the first byte) named by the model."""
    found = {letter: float(value) for letter, value in _SHAPE.findall(model)}
    return max(1, min(int(found.get("c", 20)), 100000)), found.get("d", 0.0) / 1000, found.get("t", 0.0) / 1000


def _token(number: int) -> str:
    return "tok%d " % number


def openai_answer(model: str, stream: bool, include_usage: bool):
    """The JSON body, or the SSE events as (preamble, content events, trailer), of an OpenAI chat completion."""
    chunks = shape(model)[0]
    usage = {"prompt_tokens": 10, "completion_tokens": chunks, "total_tokens": 10 + chunks}

    def envelope(kind: str) -> dict:
        return {
            "id": "chatcmpl-mock",
            "object": kind,
            "created": CREATED,
            "model": model,
            "system_fingerprint": "fp_mock",
        }

    if not stream:
        message = {"role": "assistant", "content": "".join(_token(i) for i in range(chunks)), "refusal": None}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        return _dumps(dict(envelope("chat.completion"), choices=[choice], usage=usage))

    def event(delta, finish=None, **extra):
        choices = [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        return b"data: " + _dumps(dict(envelope("chat.completion.chunk"), choices=choices, **extra)) + b"\n\n"

    trailer = [event({}, "stop")] + ([event(None, usage=usage)] if include_usage else []) + [b"data: [DONE]\n\n"]
    preamble = [event({"role": "assistant", "content": "", "refusal": None})]
    return preamble, [event({"content": _token(i)}) for i in range(chunks)], trailer


def anthropic_answer(model: str, stream: bool):
    """The JSON body, or the SSE events as (preamble, content events, trailer), of an Anthropic message."""
    chunks = shape(model)[0]
    message = {"id": "msg_mock", "type": "message", "role": "assistant", "model": model}
    if not stream:
        content = [{"type": "text", "text": "".join(_token(i) for i in range(chunks))}]
        usage = {"input_tokens": 10, "output_tokens": chunks}
        return _dumps(dict(message, content=content, stop_reason="end_turn", stop_sequence=None, usage=usage))

    def event(name, data):
        return b"event: " + name.encode() + b"\ndata: " + _dumps(dict(type=name, **data)) + b"\n\n"

    start = dict(
        message, content=[], stop_reason=None, stop_sequence=None, usage={"input_tokens": 10, "output_tokens": 1}
    )
    stop = {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": chunks}}
    preamble = [
        event("message_start", {"message": start}),
        event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        event("ping", {}),
    ]
    content = [
        event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": _token(i)}})
        for i in range(chunks)
    ]
    trailer = [event("content_block_stop", {"index": 0}), event("message_delta", stop), event("message_stop", {})]
    return preamble, content, trailer


_MODELS_BODY = _dumps(
    {"object": "list", "data": [{"id": m, "object": "model", "created": CREATED, "owned_by": "mock"} for m in MODELS]}
)
_ROUTES = {
    b"/v1/chat/completions": "openai",
    b"/chat/completions": "openai",
    b"/v1/messages": "anthropic",
    b"/messages": "anthropic",
}


def plan(method: bytes, path: bytes, body: bytes):
    """(status, writes, seconds before the first write, seconds between content writes) for one request.

    A stream's first write carries the preamble and the first content event, its last write the
    trailer; every other content event is a write of its own.
    """
    path = path.split(b"?", 1)[0]
    if method == b"GET" and path in (b"/v1/models", b"/models"):
        return 200, [_MODELS_BODY], 0.0, 0.0
    route = _ROUTES.get(path) if method == b"POST" else None
    if route is None:
        return _error(404, "no such route")
    try:
        request = json.loads(body)
        model = str(request.get("model") or "mock")
    except (ValueError, AttributeError):
        return _error(400, "the body is not a JSON object")
    stream = request.get("stream") is True
    options = request.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    answer = openai_answer(model, stream, include_usage) if route == "openai" else anthropic_answer(model, stream)
    _chunks, delay, first_byte = shape(model)
    if not stream:
        return 200, [answer], first_byte, 0.0
    preamble, content, trailer = answer
    writes = [b"".join(_frame(e) for e in preamble + content[:1])]
    writes += [_frame(e) for e in content[1:]]
    writes.append(b"".join(_frame(e) for e in trailer) + _END)
    return 200, writes, first_byte, delay


def _error(status: int, message: str):
    return status, [_dumps({"error": {"message": message, "type": "invalid_request_error"}})], 0.0, 0.0


_REASONS = {
    200: b"OK",
    400: b"Bad Request",
    404: b"Not Found",
    429: b"Too Many Requests",
    500: b"Internal Server Error",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
}
# status: (OpenAI error type and code, Anthropic error type, message)
_FAULT_ERRORS = {
    429: ("requests", "rate_limit_exceeded", "rate_limit_error", "Rate limit reached (mock fault)."),
    500: ("server_error", None, "api_error", "The server had an error processing the request (mock fault)."),
    502: ("server_error", None, "api_error", "Bad gateway (mock fault)."),
    503: ("server_error", None, "overloaded_error", "The service is overloaded (mock fault)."),
}


def fault_error(route: str, status: int) -> bytes:
    """The error body of an `http_<status>` fault, in the shape of the route's provider."""
    openai_type, code, anthropic_type, message = _FAULT_ERRORS[status]
    if route == "anthropic":
        return _dumps({"type": "error", "error": {"type": anthropic_type, "message": message}})
    return _dumps({"error": {"message": message, "type": openai_type, "param": None, "code": code}})


class Faults:
    """The fault each request to a model route gets: one draw of a seeded RNG over the rates, and counts."""

    def __init__(self, rates=None, seed: int = 0, stall: float = 2.0) -> None:
        self.rates = dict(rates or {})
        self.random = random.Random(seed)
        self.stall = stall
        self.requests = 0
        self.counts = dict.fromkeys(FAULTS, 0)

    def draw(self):
        """A kind from FAULTS, or None for a normal answer."""
        self.requests += 1
        point = self.random.random()
        for kind, rate in self.rates.items():
            point -= rate
            if point < 0:
                self.counts[kind] += 1
                return kind
        return None

    def inject(self, kind: str, writes, gaps):
        """(writes, gaps, end) of an answer with a head-or-mid fault; gaps[i] is the pause before writes[i]."""
        if kind == "reset_head":
            return [], [], "reset"
        if kind == "stall_head":
            return writes, [gaps[0] + self.stall] + gaps[1:], "keep"
        if len(writes) == 1:  # a whole body: cut it in two
            half = len(writes[0]) // 2
            writes, gaps = [writes[0][:half], writes[0][half:]], [gaps[0], 0.0]
        cut = self.random.randint(1, len(writes) - 1)  # writes before the cut go out, at least one stays back
        if kind == "stall_mid":
            return writes, gaps[:cut] + [gaps[cut] + self.stall] + gaps[cut + 1 :], "keep"
        return writes[:cut], gaps[:cut], "reset" if kind == "reset_mid" else "close"

    def report(self) -> bytes:
        return _dumps({"requests": self.requests, "faults": self.counts, "rates": self.rates})


class MockProtocol(asyncio.Protocol):
    """One client connection: HTTP/1.1 keep-alive, one request at a time."""

    cache: dict = {}

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.buffer = b""
        self.busy = False
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next()

    def _next(self) -> None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        lines = self.buffer[:end].split(b"\r\n")
        method, path = lines[0].split(b" ", 2)[:2]
        length, close = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        if len(self.buffer) < end + 4 + length:
            return
        body = self.buffer[end + 4 : end + 4 + length]
        self.buffer = self.buffer[end + 4 + length :]
        if path == b"/_mock/faults":
            self._respond((200, [self.faults.report()], 0.0, 0.0), close)
            return
        key = (method, path, body)
        found = self.cache.get(key)
        if found is None:
            found = plan(method, path, body)
            if len(self.cache) < _MAX_CACHE:
                self.cache[key] = found
        route = _ROUTES.get(path.split(b"?", 1)[0]) if method == b"POST" and found[0] == 200 else None
        fault = self.faults.draw() if route is not None and self.faults.rates else None
        if fault is not None and fault.startswith("http_"):
            status = int(fault[5:])
            retry_after = b"Retry-After: %d\r\n" % self.faults.random.randint(0, 1) if status == 429 else b""
            self._respond((status, [fault_error(route, status)], 0.0, 0.0), close, retry_after)
            return
        self._respond(found, close, fault=fault)

    def _respond(self, found, close: bool, extra: bytes = b"", fault=None) -> None:
        status, writes, first_byte, delay = found
        extra += _CLOSE if close else b""
        if len(writes) == 1:
            head = _JSON_HEAD % (status, _REASONS[status], len(writes[0]), extra)
            writes = [head + writes[0]]
        else:
            writes = [_SSE_HEAD % extra + writes[0]] + writes[1:]
        self.busy = True
        end = "close" if close else "keep"
        if not (first_byte or delay or fault):
            write = self.transport.write
            for piece in writes:
                write(piece)
            self._done(end)
            return
        gaps = [first_byte] + [delay] * (len(writes) - 2) + [0.0] if len(writes) > 1 else [first_byte]
        if fault is not None:
            writes, gaps, fault_end = self.faults.inject(fault, writes, gaps)
            end = end if fault_end == "keep" else fault_end
        if not writes:
            self._done(end)
        elif gaps[0]:
            asyncio.get_running_loop().call_later(gaps[0], self._paced, writes, gaps, 0, end)
        else:
            self._paced(writes, gaps, 0, end)

    def _paced(self, writes, gaps, position: int, end: str) -> None:
        """Write writes[position] (it is due) and those after it without a pause; schedule the next one."""
        if self.transport.is_closing():
            return
        while True:
            self.transport.write(writes[position])
            position += 1
            if position == len(writes) or gaps[position]:
                break
        if position < len(writes):
            asyncio.get_running_loop().call_later(gaps[position], self._paced, writes, gaps, position, end)
            return
        self._done(end)

    def _done(self, end: str) -> None:
        """After an answer: "keep" the connection for the next request, "close" it, or "reset" it (RST)."""
        self.busy = False
        if end == "reset":
            self.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            self.transport.abort()
        elif end == "close":
            self.transport.close()
        elif self.buffer:
            self._next()


async def serve(host: str, port: int, faults: Faults) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: MockProtocol(faults), host, port, backlog=1024, reuse_address=True)
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write("mock_upstream listening on http://%s:%d/v1\n" % (host, bound))
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


def parse_faults(spec: str):
    """`kind=rate,...` to {kind: rate}; a ValueError names what is wrong."""
    rates = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        kind, _, rate = item.partition("=")
        if kind not in FAULTS:
            raise ValueError("unknown fault %r (known: %s)" % (kind, ", ".join(FAULTS)))
        rates[kind] = float(rate)
        if not 0 <= rates[kind] <= 1:
            raise ValueError("the rate of %s must be between 0 and 1" % kind)
    if sum(rates.values()) > 1:
        raise ValueError("the fault rates add up to more than 1")
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--faults", default="", metavar="SPEC", help="kind=rate,... (kinds: %s)" % ", ".join(FAULTS))
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault RNG")
    parser.add_argument("--stall-ms", type=float, default=2000.0, help="length of a stall fault")
    args = parser.parse_args()
    if not args.host.startswith("127.") and args.host not in ("localhost", "::1"):
        sys.exit("mock_upstream binds loopback only")
    try:
        faults = Faults(parse_faults(args.faults), args.seed, args.stall_ms / 1000)
    except ValueError as exc:
        sys.exit("mock_upstream: --faults: %s" % exc)
    try:
        asyncio.run(serve(args.host, args.port, faults))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
