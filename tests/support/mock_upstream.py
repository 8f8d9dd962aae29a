"""Loopback mock of LLM provider upstreams for tests: scripted answers, recorded-fixture replay, echo models."""

import json
import os
import re
import select
import socket
import socketserver
import sys
import threading
import time
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Set
from urllib.parse import unquote

FIXTURES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "wire")
HANG_LIMIT = 30.0  # seconds a hung handler waits at most
CREATED = 1700000000  # fixed `created` of generated answers
_POLL = 0.05  # seconds between checks for stop() or a vanished client


class MockUpstream:
    """A loopback HTTP/1.1 server (ThreadingHTTPServer, keep-alive, daemon threads) that speaks provider wire formats.

    Answers, by the request's model (JSON body `model`, else the Gemini path `/models/{model}:`):
    a script() for that model; else the recorded fixture of that name (`tests/fixtures/wire/manifest.json`);
    else by path: echo models on `.../chat/completions` and `.../v1/messages`, the fixture list on
    `GET /v1/models` and `/models`, and a 404 JSON error for anything else.
    """

    def __init__(self) -> None:
        self.base_url = ""
        self.requests: List[Recorded] = []
        self.connections = 0
        self.disconnects: List[str] = []
        self._fixtures = _load_manifest()
        self._scripts: Dict[str, _Reply] = {}
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._sockets: Set[socket.socket] = set()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "MockUpstream":
        self._stopping.clear()
        self._server = _Server(self)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": _POLL}, name="mock-upstream", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop at once: ends hung and streaming handlers, closes the listener and every accepted socket."""
        if self._server is None or self._thread is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            accepted = list(self._sockets)
        for sock in accepted:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(1.0)
        self._server = None

    def __enter__(self) -> "MockUpstream":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def script(
        self,
        model: str,
        *,
        status: int = 200,
        body: Optional[bytes] = None,
        headers: Optional[Dict[str, str]] = None,
        chunks: Optional[List[bytes]] = None,
        delay: float = 0.0,
        first_byte_delay: float = 0.0,
        drop_after: Optional[int] = None,
        hang: bool = False,
    ) -> None:
        """Set the answer to every later request for `model` (replacing any earlier script for it).

        `body` is sent with Content-Length (Content-Type application/json unless `headers` say otherwise);
        `chunks` as a chunked text/event-stream, one HTTP chunk per item, `delay` seconds apart.
        With neither, a non-200 `status` sends a generic OpenAI-style error body, and 200 sends the default
        answer (fixture replay or echo) with `headers` added and the pacing below applied to it.
        `first_byte_delay` waits before the status line; `drop_after=N` closes the socket after N chunks
        with no terminating chunk; `hang` reads the request and then sends nothing.
        """
        if body is not None and chunks is not None:
            raise ValueError("script either a body or chunks, not both")
        if drop_after is not None and body is not None:
            raise ValueError("drop_after applies to streamed (chunked) answers only")
        if body is None and chunks is None and status != 200:
            body = _dumps(_openai_error(f"mock upstream scripted status {status}", "mock_error"))
        defaults = {}
        if body is not None or chunks is not None:
            defaults["Content-Type"] = "application/json" if chunks is None else "text/event-stream"
        with self._lock:
            self._scripts[model] = _Reply(
                status=status,
                headers=_merge_headers(defaults, headers or {}),
                body=body,
                chunks=[c for c in chunks if c] if chunks is not None else None,
                delay=delay,
                first_byte_delay=first_byte_delay,
                drop_after=drop_after,
                hang=hang,
            )

    def wait_for_disconnect(self, timeout: float = 2.0, count: int = 1) -> bool:
        """True once at least `count` client disconnects have been recorded, waiting up to `timeout` seconds."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self.disconnects) >= count, timeout)

    def _answer(self, request: "Recorded") -> "_Reply":
        with self._lock:
            self.requests.append(request)
            scripted = self._scripts.get(request.model or "")
        if scripted is not None and (scripted.hang or scripted.body is not None or scripted.chunks is not None):
            return scripted
        default = self._default_answer(request)
        if scripted is None:
            return default
        return replace(
            scripted,
            status=default.status,
            headers=_merge_headers(default.headers, scripted.headers),
            body=default.body,
            chunks=default.chunks,
        )

    def _default_answer(self, request: "Recorded") -> "_Reply":
        fixture = self._fixtures.get(request.model or "")
        if fixture is not None:
            return _replay(request.model or "", fixture, _streams(request))
        route = request.path.split("?", 1)[0]
        if request.method == "GET" and route in ("/v1/models", "/models"):
            listing = [
                {"id": name, "object": "model", "created": CREATED, "owned_by": "mock"} for name in self._fixtures
            ]
            return _json_reply(200, {"object": "list", "data": listing})
        body = request.json if isinstance(request.json, dict) else {}
        if request.method == "POST" and route.endswith("/chat/completions"):
            return _openai_echo(body)
        if request.method == "POST" and route.endswith("/v1/messages"):
            return _anthropic_echo(body)
        message = f"mock upstream: no route for {request.method} {route}"
        return _json_reply(404, _openai_error(message, "not_found_error"))

    def _accepted(self, sock: socket.socket) -> None:
        with self._lock:
            self.connections += 1
            self._sockets.add(sock)

    def _released(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def _client_gone(self, name: str) -> None:
        if self._stopping.is_set():
            return
        with self._lock:
            self.disconnects.append(name)
            self._lock.notify_all()


@dataclass
class Recorded:
    """One request as the mock received it."""

    method: str
    path: str  # with the query string
    headers: Dict[str, str]  # names lower-cased
    body: bytes
    json: Any  # the parsed body, or None
    model: Optional[str]  # JSON body `model`, else the Gemini path model, else None


@dataclass
class _Reply:
    status: int
    headers: Dict[str, str]
    body: Optional[bytes] = None
    chunks: Optional[List[bytes]] = None
    delay: float = 0.0
    first_byte_delay: float = 0.0
    drop_after: Optional[int] = None
    hang: bool = False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, mock: MockUpstream) -> None:
        self.mock = mock
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # HTTPServer's version does a reverse DNS lookup
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request: Any, client_address: Any) -> None:
        self.mock._accepted(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.mock._released(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a vanished client is normal; a mock bug is not
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        request = self._read_request()
        reply = self.server.mock._answer(request)
        try:
            self._send(reply)
        except OSError:
            self.close_connection = True
            self.server.mock._client_gone(request.model or request.path)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_request(self) -> Recorded:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self._read_chunked_body()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        model = parsed.get("model") if isinstance(parsed, dict) else None
        if not isinstance(model, str):
            match = re.search(r"/models/([^/:?]+):", self.path)
            model = unquote(match.group(1)) if match else None
        headers = {name.lower(): value for name, value in self.headers.items()}
        return Recorded(self.command, self.path, headers, body, parsed, model)

    def _read_chunked_body(self) -> bytes:
        parts = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0], 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(self, reply: _Reply) -> None:
        self._pause(reply.first_byte_delay)
        if reply.hang:
            self._pause(HANG_LIMIT)
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.chunks is None:
            body = reply.body or b""
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunks = reply.chunks if reply.drop_after is None else reply.chunks[: reply.drop_after]
        for index, chunk in enumerate(chunks):
            if index:
                self._pause(reply.delay)
            self.wfile.write(b"%X\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        if reply.drop_after is not None:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(b"0\r\n\r\n")

    def _pause(self, seconds: float) -> None:
        """Wait `seconds`; raise ConnectionAbortedError at once if the client goes away or stop() is called."""
        deadline = time.monotonic() + seconds
        while not self.server.mock._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            step = min(remaining, _POLL)
            if not select.select([self.connection], [], [], step)[0]:
                continue
            if not self.connection.recv(1, socket.MSG_PEEK):
                raise ConnectionAbortedError("client went away")
            time.sleep(step)  # pipelined bytes hide a later EOF: just wait
        raise ConnectionAbortedError("mock upstream stopping")


def _load_manifest() -> Dict[str, Dict[str, Any]]:
    with open(os.path.join(FIXTURES_DIR, "manifest.json"), encoding="utf-8") as handle:
        return json.load(handle)["fixtures"]


def _streams(request: Recorded) -> bool:
    if ":streamGenerateContent" in request.path:
        return True
    return isinstance(request.json, dict) and request.json.get("stream") is True


def _replay(name: str, fixture: Dict[str, Any], streams: bool) -> _Reply:
    kind = "stream" if streams else "json"
    variant = fixture.get(kind)
    if variant is None:
        return _json_reply(404, _openai_error(f"fixture {name} has no {kind} variant", "not_found_error"))
    with open(os.path.join(FIXTURES_DIR, *variant["file"].split("/")), "rb") as handle:
        data = handle.read()
    if streams:
        return _Reply(variant["status"], {"Content-Type": "text/event-stream"}, chunks=_sse_events(data))
    return _Reply(variant["status"], {"Content-Type": "application/json"}, body=data)


_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)")


def _sse_events(data: bytes) -> List[bytes]:
    """Split raw SSE bytes after each blank line, keeping every byte (the pieces join back to `data`)."""
    events = []
    start = 0
    for line in _LINE.finditer(data):
        if line.group()[:1] in (b"\r", b"\n"):
            events.append(data[start : line.end()])
            start = line.end()
    if start < len(data):
        events.append(data[start:])
    return events


def _openai_echo(body: Dict[str, Any]) -> _Reply:
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    model = body.get("model", "")
    answer = "echo: " + _last_user_text(messages)
    prompt = _tokens(sum(len(_text(m.get("content"))) for m in messages))
    completion = _tokens(len(answer))
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    if body.get("stream") is not True:
        message = {"role": "assistant", "content": answer, "refusal": None}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        return _json_reply(
            200,
            {
                "id": "chatcmpl-mock",
                "object": "chat.completion",
                "created": CREATED,
                "model": model,
                "choices": [choice],
                "usage": usage,
                "system_fingerprint": "fp_mock",
            },
        )
    head = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": CREATED, "model": model}
    head["system_fingerprint"] = "fp_mock"
    deltas = [{"role": "assistant", "content": "", "refusal": None}]
    deltas += [{"content": piece} for piece in _thirds(answer)]
    events = [
        dict(head, choices=[{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}]) for delta in deltas
    ]
    events.append(dict(head, choices=[{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]))
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage") is True:
        events.append(dict(head, choices=[], usage=usage))
    return _sse_reply([b"data: " + _dumps(event) + b"\n\n" for event in events] + [b"data: [DONE]\n\n"])


def _anthropic_echo(body: Dict[str, Any]) -> _Reply:
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    model = body.get("model", "")
    answer = "echo: " + _last_user_text(messages)
    prompt = _tokens(len(_text(body.get("system"))) + sum(len(_text(m.get("content"))) for m in messages))
    completion = _tokens(len(answer))
    message = {"id": "msg_mock", "type": "message", "role": "assistant", "content": [], "model": model}
    message.update(stop_reason=None, stop_sequence=None, usage={"input_tokens": prompt, "output_tokens": 1})
    if body.get("stream") is not True:
        message.update(
            content=[{"type": "text", "text": answer}],
            stop_reason="end_turn",
            usage={"input_tokens": prompt, "output_tokens": completion},
        )
        return _json_reply(200, message)
    events = [
        {"type": "message_start", "message": message},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
    ]
    for piece in _thirds(answer):
        events.append({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})
    events += [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": completion},
        },
        {"type": "message_stop"},
    ]
    return _sse_reply([b"event: %s\ndata: %s\n\n" % (e["type"].encode(), _dumps(e)) for e in events])


def _last_user_text(messages: List[Dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return _text(message.get("content"))
    return ""


def _text(content: Any) -> str:
    """The text of an OpenAI or Anthropic content value: a string, or the `text` of its parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _tokens(characters: int) -> int:
    return max(1, characters // 4)


def _thirds(text: str) -> List[str]:
    size, extra = divmod(len(text), 3)
    pieces = []
    start = 0
    for index in range(3):
        end = start + size + (1 if index < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


def _openai_error(message: str, kind: str) -> Dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _json_reply(status: int, value: Any) -> _Reply:
    return _Reply(status, {"Content-Type": "application/json"}, body=_dumps(value))


def _sse_reply(events: List[bytes]) -> _Reply:
    return _Reply(200, {"Content-Type": "text/event-stream"}, chunks=events)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _merge_headers(base: Dict[str, str], extra: Dict[str, str]) -> Dict[str, str]:
    """`base` with `extra` laid over it, header names compared case-insensitively."""
    merged = {name: value for name, value in base.items() if name.lower() not in {n.lower() for n in extra}}
    merged.update(extra)
    return merged
