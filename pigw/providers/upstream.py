"""Talking to an upstream: send one request, turn transport failures and error answers into GatewayErrors.

Every provider module uses these two functions, so the mapping of upstream failures to client
errors is written once: connect failures are 502, timeouts 504, an upstream 4xx keeps its status
and an upstream 5xx becomes 502 (the upstream's status in ``x-pigw-upstream-status``); the
upstream's own message is passed on, with every secret of the request scrubbed.
"""

import contextlib
import http.client
import json
import re
from typing import Any, Dict, Iterable, Iterator, Optional, Tuple

from pigw.core import Cancel
from pigw.errors import GatewayError, upstream_timeout, upstream_unreachable
from pigw.net import sse
from pigw.net.http import ConnectError, Pool, Response, UpstreamTimeout

_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}
_MAX_MESSAGE = 1000
# How providers word "the prompt does not fit the context window" (pi's utils/overflow.js list).
_OVERFLOW = re.compile(
    "|".join(
        [
            r"prompt is too long",
            r"prompt too long",
            r"prompt exceeds max length",
            r"request_too_large",
            r"input is too long for requested model",
            r"exceeds the context window",
            r"exceeds (the )?(model's )?maximum context length",
            r"context window exceeded",
            r"input token count.*exceeds the maximum",
            r"maximum prompt length is \d+",
            r"reduce the length of the messages",
            r"maximum context length is \d+ tokens",
            r"exceeds (the )?maximum allowed input length",
            r"is longer than the model's context length",
            r"exceeds the limit of \d+",
            r"exceeds the available context size",
            r"greater than the context length",
            r"context window exceeds limit",
            r"exceeded model token limit",
            r"too large for model with \d+ maximum context length",
            r"configured context size is \d+ tokens",
            r"model_context_window_exceeded",
            r"exceeded (max )?context length",
            r"range of input length should be",
            r"context[_ ]length[_ ]exceeded",
            r"too many tokens",
            r"token limit exceeded",
        ]
    )
)


def post(
    pool: Pool,
    url: str,
    headers: Dict[str, str],
    body: bytes,
    secrets: Iterable[Optional[str]] = (),
    cancel: Optional[Cancel] = None,
) -> Response:
    """POST and return a 2xx response; anything else raises a GatewayError.

    With a ``cancel``, the client going away aborts the request at any point: while it waits for
    the upstream's answer, and while the answer streams.
    """
    try:
        response = pool.request("POST", url, headers, body, on_waiting=cancel.add if cancel else None)
    except ValueError as exc:
        raise GatewayError(500, "pigw could not build the upstream request: %s" % exc, "api_error") from None
    except UpstreamTimeout:
        raise upstream_timeout("The upstream did not answer in time (%s)." % _host(url)) from None
    except (ConnectError, OSError) as exc:
        raise upstream_unreachable("Could not reach the upstream (%s): %s" % (_host(url), _reason(exc))) from None
    if response.status >= 300:
        raise _error_from_response(response, url, secrets)
    if cancel is not None:
        cancel.add(response.close)
    return response


def events(response: Response, url: str) -> Iterator[Tuple[Optional[str], str]]:
    """The upstream's SSE events; a connection lost or stalled mid-stream raises a GatewayError."""
    with _reading_answer(url):
        yield from sse.iter_events(response.chunks())


def json_body(response: Response, url: str) -> Any:
    """The upstream's whole JSON body; a connection lost or stalled, or a body that is not JSON, raises."""
    with _reading_answer(url):
        raw = response.read()
    try:
        return json.loads(raw)
    except ValueError:
        raise upstream_unreachable("The upstream's answer is not JSON (%s)." % _host(url)) from None


@contextlib.contextmanager
def _reading_answer(url: str) -> Iterator[None]:
    try:
        yield
    except UpstreamTimeout:
        raise upstream_timeout("The upstream stopped sending in the middle of the answer (%s)." % _host(url)) from None
    except (ConnectError, OSError, http.client.HTTPException) as exc:
        raise upstream_unreachable(
            "The upstream connection broke in the middle of the answer (%s): %s" % (_host(url), _reason(exc))
        ) from None


def merge_headers(headers: Dict[str, str], extra: Optional[Dict[str, str]]) -> None:
    """Lay extra over headers: names compare case-insensitively, the later spelling and value win."""
    for name, value in (extra or {}).items():
        lowered = name.lower()
        for existing in [key for key in headers if key.lower() == lowered]:
            del headers[existing]
        headers[name] = value


def scrub(text: str, secrets: Iterable[Optional[str]]) -> str:
    """Replace every secret (of 4+ characters) in text with ***."""
    for secret in secrets:
        if secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, "***")
    return text


def error_from_body(status: int, raw: bytes, secrets: Iterable[Optional[str]] = ()) -> GatewayError:
    """A GatewayError carrying the upstream's own message, type, code and param when it gave them."""
    message, kind, code, param = _parse_error_body(raw)
    if not message:
        message = "The upstream answered HTTP %d." % status
    message = scrub(message, list(secrets))[:_MAX_MESSAGE]
    if kind is None:
        kind = _STATUS_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    if 400 <= status < 500 and is_context_overflow(message):
        return GatewayError(400, message, "invalid_request_error", "context_length_exceeded", param or "messages")
    return GatewayError(502 if status >= 500 else status, message, kind, code, param)


def is_context_overflow(message: str) -> bool:
    """Whether an upstream's error message says the prompt is too long for the model (providers.md 13)."""
    lowered = message.lower()
    if lowered.startswith(("throttling error:", "service unavailable:")) or "rate limit" in lowered:
        return False
    return _OVERFLOW.search(lowered) is not None


def _error_from_response(response: Response, url: str, secrets: Iterable[Optional[str]]) -> GatewayError:
    try:
        raw = response.read()
    except (OSError, http.client.HTTPException):
        raw = b""
    finally:
        response.close()
    error = error_from_body(response.status, raw, secrets)
    error.headers["x-pigw-upstream-status"] = str(response.status)
    retry_after = response.headers.get("retry-after")
    if retry_after:
        error.headers["Retry-After"] = retry_after
    return error


def _parse_error_body(raw: bytes) -> Tuple[str, Optional[str], Optional[str], Optional[str]]:
    text = raw.decode("utf-8", "replace").strip()
    try:
        body = json.loads(text)
    except ValueError:
        return text, None, None, None
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]  # Google sometimes wraps the error in a list
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        return error, None, None, None
    if not isinstance(error, dict):
        message = body.get("message") if isinstance(body, dict) else None
        return (message if isinstance(message, str) else text), None, None, None
    message = error.get("message")
    kind = error.get("type") if isinstance(error.get("type"), str) else None
    code = error.get("code")
    param = error.get("param")
    return (
        message if isinstance(message, str) else text,
        kind,
        str(code) if isinstance(code, (str, int)) and not isinstance(code, bool) else None,
        param if isinstance(param, str) else None,
    )


def _host(url: str) -> str:
    rest = url.split("://", 1)[-1]
    return rest.split("/", 1)[0]


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
