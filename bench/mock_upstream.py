"""Fast stdlib-only mock LLM upstream for pigw's benchmark (loopback only).

Serves OpenAI Chat Completions (`POST /v1/chat/completions`: JSON, or SSE with a role chunk, N
content chunks, a finish chunk, a usage chunk when `stream_options.include_usage`, `[DONE]`),
Anthropic Messages (`POST /v1/messages`: JSON or SSE) and `GET /v1/models`, also without `/v1`.
The shape comes from the model name: `-c<N>` content chunks (default 20), `-d<ms>` between
chunks, `-t<ms>` before the first byte, e.g. `mock-c20-d5`. One asyncio thread; answers are
serialised once per request body, and every SSE event goes out as its own chunked-encoding write
with TCP_NODELAY.

Usage: python3 mock_upstream.py [--port N]   (0 picks a free port; the URL is printed)
"""

import argparse
import asyncio
import json
import re
import socket
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


_REASONS = {200: b"OK", 400: b"Bad Request", 404: b"Not Found"}


class MockProtocol(asyncio.Protocol):
    """One client connection: HTTP/1.1 keep-alive, one request at a time."""

    cache: dict = {}

    def __init__(self) -> None:
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
        key = (method, path, body)
        found = self.cache.get(key)
        if found is None:
            found = plan(method, path, body)
            if len(self.cache) < _MAX_CACHE:
                self.cache[key] = found
        self._respond(found, close)

    def _respond(self, found, close: bool) -> None:
        status, writes, first_byte, delay = found
        extra = _CLOSE if close else b""
        if len(writes) == 1:
            head = _JSON_HEAD % (status, _REASONS[status], len(writes[0]), extra)
            writes = [head + writes[0]]
        else:
            writes = [_SSE_HEAD % extra + writes[0]] + writes[1:]
        self.busy = True
        if first_byte or delay:
            asyncio.get_running_loop().call_later(first_byte, self._paced, writes, 0, delay, close)
            return
        write = self.transport.write
        for piece in writes:
            write(piece)
        self._done(close)

    def _paced(self, writes, position: int, delay: float, close: bool) -> None:
        if self.transport.is_closing():
            return
        self.transport.write(writes[position])
        if position + 2 < len(writes):
            asyncio.get_running_loop().call_later(delay, self._paced, writes, position + 1, delay, close)
            return
        if position + 2 == len(writes):
            self.transport.write(writes[-1])
        self._done(close)

    def _done(self, close: bool) -> None:
        self.busy = False
        if close:
            self.transport.close()
        elif self.buffer:
            self._next()


async def serve(host: str, port: int) -> None:
    server = await asyncio.get_running_loop().create_server(MockProtocol, host, port, backlog=1024, reuse_address=True)
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write("mock_upstream listening on http://%s:%d/v1\n" % (host, bound))
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18080)
    args = parser.parse_args()
    if not args.host.startswith("127.") and args.host not in ("localhost", "::1"):
        sys.exit("mock_upstream binds loopback only")
    try:
        asyncio.run(serve(args.host, args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
