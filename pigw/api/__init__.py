"""Inbound API surfaces. Each route answers with a ``Reply``; the server writes it to the socket.

A Reply carries either a whole body or ``chunks``, an iterator of already-framed SSE bytes. The
server holds frames until the upstream would keep it waiting (or the stream ends) and writes what it
holds as one HTTP chunk; a ``FLUSH`` among the frames has what is held written at once (the surfaces
send one after the first token's frames, so time to first token never waits for the rest of a
stream that arrived in one piece). Closing the iterator (the client went away) closes the upstream
request behind it.
"""

import json
import time
from typing import Any, Dict, Generator, Optional

from pigw.core import Cancel
from pigw.errors import GatewayError

JSON = "application/json"
FLUSH = b""  # among a Reply's chunks: write what is held now


class Reply:
    __slots__ = ("status", "headers", "body", "chunks", "keepalive")

    def __init__(
        self,
        status: int,
        headers: Optional[Dict[str, str]] = None,
        body: bytes = b"",
        chunks: Optional[Generator[bytes, None, None]] = None,
        keepalive: Optional[bytes] = None,
    ) -> None:
        self.status = status
        self.headers = headers or {}
        self.body = body
        self.chunks = chunks
        self.keepalive = keepalive  # an SSE frame the server may send while the stream is silent


def json_reply(value, status: int = 200, headers: Optional[Dict[str, str]] = None) -> Reply:
    merged = {"Content-Type": JSON}
    if headers:
        merged.update(headers)
    return Reply(status, merged, json.dumps(value, ensure_ascii=False).encode())


def openai_error(error: GatewayError) -> Reply:
    """An error in OpenAI's envelope, with the status and headers (Retry-After, Allow) it carries."""
    return json_reply(error.openai_body(), error.status, error.headers)


def dropped_header(request, headers: Dict[str, str]) -> Dict[str, str]:
    """headers plus `x-pigw-dropped-params` naming the client fields left out of the upstream request."""
    merged = dict(headers)
    if request.dropped:
        merged["x-pigw-dropped-params"] = ", ".join(request.dropped)
    return merged


def note_usage(incoming: "Incoming", usage) -> None:
    """Token counts of an answer, for the access log line."""
    if usage is not None:
        incoming.notes["tokensIn"] = usage.prompt_tokens
        incoming.notes["tokensOut"] = usage.output


def stream_error(error: GatewayError, incoming: Optional["Incoming"]) -> GatewayError:
    """The error a broken stream ends with: the gateway's own reason when it cut the stream (shutting down)."""
    if incoming is not None and incoming.cancel.reason:
        return GatewayError(503, incoming.cancel.reason, "api_error", "gateway_stopping")
    return error


class Incoming:
    """What a route sees of one HTTP request."""

    __slots__ = ("method", "path", "query", "headers", "body", "cancel", "started", "notes", "profile")

    def __init__(self, method: str, path: str, query: str, headers, body: bytes) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers  # case-insensitive .get()
        self.body = body
        self.cancel = Cancel()  # fired by the server when the client goes away
        self.started = time.monotonic()
        self.notes: Dict[str, Any] = {}  # what the route learned, for the access log (model, tokens, ttft)
        self.profile: Any = None  # the client profile (api/client_profiles.py) the server picked, if any

    def json_object(self) -> dict:
        """The body as a JSON object, or a 400 saying what is wrong with it."""
        if not self.body:
            raise GatewayError(400, "The request body is empty; send a JSON object.", "invalid_request_error")
        try:
            value = json.loads(self.body)
        except ValueError as exc:
            raise GatewayError(
                400, "The request body is not valid JSON (%s)." % _json_reason(exc), "invalid_request_error"
            ) from None
        if not isinstance(value, dict):
            raise GatewayError(400, "The request body must be a JSON object.", "invalid_request_error")
        return value


def _json_reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return "%s at line %d column %d" % (exc.msg, exc.lineno, exc.colno)
    return "undecodable text"
