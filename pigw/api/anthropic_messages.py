"""`POST /v1/messages` and `/v1/messages/count_tokens`: Anthropic Messages requests in, canonical Events out.

Any model answers in Anthropic's shape: a `message` JSON body, or the SSE sequence `message_start`,
`content_block_start` / `_delta` / `_stop` per block, `message_delta`, `message_stop`. Blocks get
consecutive indexes in the order they go out, whatever the canonical indexes were; blocks may
interleave, and blocks a stream leaves open are stopped before `message_delta`. Errors use Anthropic's
`{"type":"error",...}` envelope, before the first byte as a JSON body, after it as an `error` event.

Thinking: `enabled` sends its `budget_tokens` and the level that budget falls in (up to 1024 minimal,
2048 low, 8192 medium, above that high); `disabled` is "off"; `adaptive` is "medium".
"""

import json
import time
from json.encoder import encode_basestring_ascii as _quote  # type: ignore[attr-defined]
from typing import Any, Dict, Generator, Iterator, List, Optional, Tuple

from pigw.api import FLUSH, Incoming, Reply, dropped_header, json_reply, note_usage, stream_error
from pigw.core import (
    CONTENT_FILTER,
    LENGTH,
    STOP,
    TOOL_USE,
    AssistantMessage,
    Context,
    Done,
    Event,
    Image,
    Message,
    Options,
    Request,
    Text,
    TextDelta,
    TextEnd,
    TextStart,
    Thinking,
    ThinkingDelta,
    ThinkingEnd,
    ThinkingStart,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    ToolResultMessage,
    Usage,
    UserMessage,
    collect,
)
from pigw.errors import GatewayError, invalid_request
from pigw.ids import new_id

_STOP_REASONS = {STOP: "end_turn", LENGTH: "max_tokens", TOOL_USE: "tool_use", CONTENT_FILTER: "refusal"}
# The upstream's own stop reason is kept when it is one of these and agrees with the canonical reason.
_KEPT_RAW_REASONS = {"stop_sequence": STOP, "pause_turn": STOP, "model_context_window_exceeded": LENGTH}
_BUDGET_LEVELS = ((1024, "minimal"), (2048, "low"), (8192, "medium"))
_TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}
_STREAM_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_DELTA = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,"delta":{"type":'
_TEXT_DELTA = _DELTA + b'"text_delta","text":'
_THINKING_DELTA = _DELTA + b'"thinking_delta","thinking":'
_JSON_DELTA = _DELTA + b'"input_json_delta","partial_json":'
_SIGNATURE_DELTA = _DELTA + b'"signature_delta","signature":'
_DELTA_END = b"}}\n\n"
_BLOCK_STOP = b'event: content_block_stop\ndata: {"type":"content_block_stop","index":%d}\n\n'
_PING = b'event: ping\ndata: {"type":"ping"}\n\n'  # what the server sends while the stream is silent
_MESSAGE_STOP = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
_EMPTY_THINKING = {"type": "thinking", "thinking": "", "signature": ""}
_FIRST_TOKEN = (TextDelta, ThinkingDelta, ToolCallStart)
# Fields parse() turns into the canonical request; `anthropic-*` headers and auth are the server's.
_UNDERSTOOD = frozenset(
    "model messages system max_tokens temperature top_p top_k stop_sequences tools tool_choice thinking "
    "metadata stream".split()
)
_compact = json.JSONEncoder(separators=(",", ":")).encode


def handle(incoming: Incoming, gateway) -> Reply:
    """Answer one Messages request."""
    try:
        body = incoming.json_object()
        request = parse(body, strict=gateway.strict)
        request.cancel = incoming.cancel
        events = gateway.stream(request)
        incoming.notes["model"] = request.target.public_id
        incoming.notes["provider"] = request.target.provider
        message_id = new_id("msg_")
        if body.get("stream") is True:
            chunks = render_stream(events, message_id, request.model, incoming)
            return Reply(200, dropped_header(request, _STREAM_HEADERS), chunks=chunks, keepalive=_PING)
        answer = collect(events)
    except GatewayError as error:
        return anthropic_error(error)
    note_usage(incoming, answer.usage)
    return json_reply(render_message(answer, message_id, request.model), headers=dropped_header(request, {}))


def count_tokens(incoming: Incoming, gateway) -> Reply:
    """Answer `/v1/messages/count_tokens` with an estimate (see ``estimate_tokens``); the model must be served."""
    try:
        request = parse(incoming.json_object(), require_max_tokens=False)
        gateway.registry.resolve(request.model)
    except GatewayError as error:
        return anthropic_error(error)
    return json_reply({"input_tokens": estimate_tokens(request.context)})


def anthropic_error(error: GatewayError) -> Reply:
    """An error in Anthropic's envelope, with the status and headers (Retry-After, Allow) it carries."""
    return json_reply(error.anthropic_body(), error.status, error.headers)


def parse(body: Dict[str, Any], require_max_tokens: bool = True, strict: bool = False) -> Request:
    """A Messages body to a canonical Request; a 400 naming the field when it is malformed.

    Fields pigw does not know are dropped and named in ``request.dropped`` (strict: a 400 naming them).
    """
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid_request("`model` is required and must be a non-empty string.", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid_request("`messages` is required and must be a non-empty array.", "messages")
    if body.get("stream") is not None and not isinstance(body.get("stream"), bool):
        raise invalid_request("`stream` must be a boolean.", "stream")
    options = _options(body)
    if require_max_tokens and options.max_tokens is None:
        raise invalid_request("`max_tokens` is required and must be a positive integer.", "max_tokens")
    context = Context(_system(body.get("system")), _convert_messages(messages), _tools(body.get("tools")))
    request = Request(model, context, options)
    for name in body:
        if name not in _UNDERSTOOD:
            if strict:
                raise invalid_request("`%s` is not a parameter pigw understands (strict mode)." % name, name)
            request.dropped.append(name)
    return request


def render_message(answer, message_id: str, model: str) -> Dict[str, Any]:
    """The non-stream `message` body of a collected answer."""
    content: List[Dict[str, Any]] = []
    for part in answer.content:
        if isinstance(part, Thinking):
            content.append(_thinking_block(part.redacted, part.thinking, part.signature))
        elif isinstance(part, Text):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ToolCall):
            arguments = part.arguments if isinstance(part.arguments, dict) else {}
            content.append({"type": "tool_use", "id": part.id, "name": part.name, "input": arguments})
    reason = stop_reason(answer.reason, answer.raw_reason)
    message = _message(message_id, model, content, reason, answer.usage or Usage())
    message["stop_sequence"] = answer.stop_sequence
    return message


def render_stream(
    events: Iterator[Event], message_id: str, model: str, incoming: Optional[Incoming] = None
) -> Generator[bytes, None, None]:
    """Events to Anthropic SSE frames, `message_start` at once; a GatewayError on the way becomes an `error` event.

    A ``FLUSH`` follows the first token's frames. With ``incoming``, time to first token and usage are
    noted for the access log.
    """
    blocks = _Blocks()
    try:
        start = {"type": "message_start", "message": _message(message_id, model, [], None, Usage())}
        yield _frame("message_start", start)
        first = True
        for event in events:
            flush = False
            if first and isinstance(event, _FIRST_TOKEN):
                first = False
                flush = True  # the first token's frames go out at once
                if incoming is not None:
                    incoming.notes["ttftMs"] = round((time.monotonic() - incoming.started) * 1000, 2)
            if isinstance(event, TextDelta):
                yield _TEXT_DELTA % blocks.numbers[event.index] + _quote(event.delta).encode() + _DELTA_END
            elif isinstance(event, ThinkingDelta):
                yield from blocks.add_thinking(event)
            elif isinstance(event, ToolCallDelta):
                yield _JSON_DELTA % blocks.numbers[event.index] + _quote(event.delta).encode() + _DELTA_END
            elif isinstance(event, TextStart):
                yield from blocks.release()
                yield blocks.start(event.index, {"type": "text", "text": ""})
            elif isinstance(event, ThinkingStart):
                blocks.held[event.index] = None
            elif isinstance(event, ToolCallStart):
                yield from blocks.release()
                yield blocks.start(event.index, {"type": "tool_use", "id": event.id, "name": event.name, "input": {}})
            elif isinstance(event, ThinkingEnd):
                yield from blocks.end_thinking(event)
            elif isinstance(event, (TextEnd, ToolCallEnd)):
                yield blocks.stop(event.index)
            elif isinstance(event, Done):
                if incoming is not None:
                    note_usage(incoming, event.usage)
                yield from blocks.release()
                for index in list(blocks.numbers):  # in the order they went out
                    yield blocks.stop(index)
                usage = render_usage(event.usage or Usage())
                delta = {
                    "stop_reason": stop_reason(event.reason, event.raw_reason),
                    "stop_sequence": event.stop_sequence,
                }
                yield _frame("message_delta", {"type": "message_delta", "delta": delta, "usage": usage})
                yield _MESSAGE_STOP
            if flush:
                yield FLUSH
    except GatewayError as error:
        yield _frame("error", stream_error(error, incoming).anthropic_body())
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()


def render_usage(usage: Usage) -> Dict[str, int]:
    return {
        "input_tokens": usage.input,
        "output_tokens": usage.output,
        "cache_creation_input_tokens": usage.cache_write,
        "cache_read_input_tokens": usage.cache_read,
    }


def stop_reason(reason: str, raw_reason: Optional[str]) -> str:
    """Anthropic's stop_reason for a canonical one; the upstream's own word where it is Anthropic's and agrees."""
    if raw_reason is not None and _KEPT_RAW_REASONS.get(raw_reason) == reason:
        return raw_reason
    return _STOP_REASONS.get(reason, "end_turn")


def estimate_tokens(context: Context) -> int:
    """ceil(characters / 4) over the system prompt, message text, tool calls and tool definitions.

    An estimate, not the model's tokenizer: images and signatures are not counted.
    """
    pieces: List[str] = [context.system or ""]
    for message in context.messages:
        for part in message.content:
            if isinstance(part, Text):
                pieces.append(part.text)
            elif isinstance(part, Thinking):
                pieces.append(part.thinking)
            elif isinstance(part, ToolCall):
                pieces.extend((part.name, part.raw_arguments or ""))
    for tool in context.tools:
        pieces.extend((tool.name, tool.description, _compact(tool.parameters)))
    return (sum(len(piece) for piece in pieces) + 3) // 4


class _Blocks:
    """The blocks of one stream on the wire: consecutive Anthropic indexes, given in the order blocks go out.

    A thinking block goes out at its first delta, at its end (only the end says whether it is
    redacted, and a redacted block has no deltas), or just before a block that started after it.
    """

    __slots__ = ("numbers", "held", "count")

    def __init__(self) -> None:
        self.numbers: Dict[int, int] = {}  # blocks open on the wire: canonical index -> Anthropic index
        self.held: Dict[int, None] = {}  # thinking blocks started but not on the wire yet, in order
        self.count = 0

    def start(self, index: int, block: Dict[str, Any]) -> bytes:
        number = self.numbers[index] = self.count
        self.count += 1
        return _frame("content_block_start", {"type": "content_block_start", "index": number, "content_block": block})

    def stop(self, index: int) -> bytes:
        return _BLOCK_STOP % self.numbers.pop(index)

    def release(self, until: Optional[int] = None) -> Iterator[bytes]:
        """Put held thinking blocks on the wire in the order they started: those before ``until``, else all."""
        for index in list(self.held):
            if index == until:
                return
            del self.held[index]
            yield self.start(index, _EMPTY_THINKING)

    def put_held(self, index: int, block: Dict[str, Any]) -> Iterator[bytes]:
        """Put a held thinking block on the wire as ``block``, after the held blocks that started before it."""
        yield from self.release(index)
        del self.held[index]
        yield self.start(index, block)

    def add_thinking(self, event: ThinkingDelta) -> Iterator[bytes]:
        if event.index in self.held:
            yield from self.put_held(event.index, _EMPTY_THINKING)
        yield _THINKING_DELTA % self.numbers[event.index] + _quote(event.delta).encode() + _DELTA_END

    def end_thinking(self, event: ThinkingEnd) -> Iterator[bytes]:
        """A thinking block's end: a held redacted block goes out whole, others get their signature and stop."""
        if event.index in self.held:
            if event.redacted:
                yield from self.put_held(event.index, _thinking_block(True, "", event.signature))
                yield self.stop(event.index)
                return
            yield from self.put_held(event.index, _EMPTY_THINKING)
        if event.signature:
            yield _SIGNATURE_DELTA % self.numbers[event.index] + _quote(event.signature).encode() + _DELTA_END
        yield self.stop(event.index)


def _thinking_block(redacted: bool, thinking: str, signature: Optional[str]) -> Dict[str, Any]:
    if redacted:
        return {"type": "redacted_thinking", "data": signature or ""}
    return {"type": "thinking", "thinking": thinking, "signature": signature or ""}


def _message(
    message_id: str, model: str, content: List[Dict[str, Any]], reason: Optional[str], usage: Usage
) -> Dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": reason,
        "stop_sequence": None,
        "usage": render_usage(usage),
    }


def _frame(name: str, value: Dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + _compact(value).encode() + b"\n\n"


def _system(system: Any) -> Optional[str]:
    if system is None or isinstance(system, str):
        return system or None
    if not isinstance(system, list):
        raise invalid_request("`system` must be a string or an array of text blocks.", "system")
    texts = []
    for number, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
            where = "system[%d]" % number
            raise invalid_request("`%s` must be a text block ({type: text, text: ...})." % where, where)
        texts.append(block["text"])
    return "\n\n".join(texts) or None


def _convert_messages(messages: List[Any]) -> List[Message]:
    converted: List[Message] = []
    tool_names: Dict[str, str] = {}
    for position, message in enumerate(messages):
        where = "messages[%d]" % position
        if not isinstance(message, dict):
            raise invalid_request("`%s` must be an object." % where, where)
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise invalid_request(
                "`%s.role` must be user or assistant (the system prompt goes in the top-level `system`)." % where,
                where + ".role",
            )
        blocks = _blocks(message.get("content"), where)
        if role == "assistant":
            parts = [_assistant_part(block, "%s.content[%d]" % (where, n)) for n, block in enumerate(blocks)]
            tool_names.update((part.id, part.name) for part in parts if isinstance(part, ToolCall))
            converted.append(AssistantMessage(parts))
            continue
        results: List[Message] = []
        user_parts: List[Any] = []
        for number, block in enumerate(blocks):
            at = "%s.content[%d]" % (where, number)
            if block["type"] == "tool_result":
                results.append(_tool_result(block, at, tool_names))
            else:
                user_parts.append(_user_part(block, at))
        converted.extend(results)
        if user_parts or not results:
            converted.append(UserMessage(user_parts))
    return converted


def _blocks(content: Any, where: str) -> List[Dict[str, Any]]:
    """A message's content as blocks: a string is one text block; every block must be an object with a type."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise invalid_request(
            "`%s.content` must be a string or an array of content blocks." % where, where + ".content"
        )
    for number, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            at = "%s.content[%d]" % (where, number)
            raise invalid_request("`%s` must be a content block object with a `type`." % at, at)
    return content


def _user_part(block: Dict[str, Any], where: str) -> Any:
    kind = block["type"]
    if kind == "text":
        return Text(_string(block, "text", where))
    if kind == "image":
        return _image(block, where)
    raise _unsupported_block(kind, where, "text, image and tool_result")


def _assistant_part(block: Dict[str, Any], where: str) -> Any:
    kind = block["type"]
    if kind == "text":
        return Text(_string(block, "text", where))
    if kind == "thinking":
        signature = block.get("signature")
        return Thinking(_string(block, "thinking", where), signature if isinstance(signature, str) else None)
    if kind == "redacted_thinking":
        return Thinking("", _string(block, "data", where), redacted=True)
    if kind == "tool_use":
        call_id = _string(block, "id", where)
        name = _string(block, "name", where)
        arguments = block.get("input", {})
        if not isinstance(arguments, dict):
            raise invalid_request("`%s.input` must be an object." % where, where + ".input")
        return ToolCall(call_id, name, arguments, json.dumps(arguments, separators=(",", ":"), ensure_ascii=False))
    raise _unsupported_block(kind, where, "text, thinking, redacted_thinking and tool_use")


def _tool_result(block: Dict[str, Any], where: str, tool_names: Dict[str, str]) -> ToolResultMessage:
    call_id = _string(block, "tool_use_id", where)
    content = block.get("content")
    parts: List[Any] = []
    if content is not None:
        for number, item in enumerate(_blocks(content, where)):
            at = "%s.content[%d]" % (where, number)
            if item["type"] == "text":
                parts.append(Text(_string(item, "text", at)))
            elif item["type"] == "image":
                parts.append(_image(item, at))
            else:
                raise _unsupported_block(item["type"], at, "text and image")
    is_error = block.get("is_error")
    if is_error is not None and not isinstance(is_error, bool):
        raise invalid_request("`%s.is_error` must be a boolean." % where, where + ".is_error")
    return ToolResultMessage(call_id, tool_names.get(call_id, ""), parts, bool(is_error))


def _image(block: Dict[str, Any], where: str) -> Image:
    """A base64 image, or a URL image the gateway fetches (when allowRemoteImages is on)."""
    source = block.get("source")
    at = where + ".source"
    kind = source.get("type") if isinstance(source, dict) else None
    if not isinstance(source, dict) or kind not in ("base64", "url"):
        raise invalid_request(
            "`%s` must be a base64 image source ({type: base64, media_type, data}) or a URL source "
            "({type: url, url}); source type %r is not supported." % (at, kind),
            at,
        )
    if kind == "base64":
        return Image(_string(source, "data", at), _string(source, "media_type", at))
    url = _string(source, "url", at)
    if not url[:8].lower().startswith(("http://", "https://")):
        raise invalid_request("`%s.url` must be an http:// or https:// URL." % at, at + ".url")
    return Image("", "", url=url, param=at + ".url")


def _unsupported_block(kind: str, where: str, allowed: str) -> GatewayError:
    return invalid_request(
        "`%s`: content blocks of type %r are not supported here; pigw accepts %s." % (where, kind, allowed), where
    )


def _string(block: Dict[str, Any], field: str, where: str) -> str:
    value = block.get(field)
    if not isinstance(value, str):
        raise invalid_request("`%s.%s` is required and must be a string." % (where, field), "%s.%s" % (where, field))
    return value


def _tools(tools: Any) -> List[Tool]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise invalid_request("`tools` must be an array.", "tools")
    out = []
    for number, tool in enumerate(tools):
        where = "tools[%d]" % number
        if not isinstance(tool, dict):
            raise invalid_request("`%s` must be an object." % where, where)
        if tool.get("type") not in (None, "custom"):
            raise invalid_request(
                "`%s`: tools of type %r (Anthropic server or built-in tools) are not supported; "
                "pigw accepts custom tools with an input_schema." % (where, tool.get("type")),
                where + ".type",
            )
        name = _string(tool, "name", where)
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            raise invalid_request(
                "`%s.input_schema` is required and must be an object." % where, where + ".input_schema"
            )
        description = tool.get("description")
        strict = tool.get("strict")
        out.append(
            Tool(
                name,
                description if isinstance(description, str) else "",
                schema,
                strict if isinstance(strict, bool) else None,
            )
        )
    return out


def _options(body: Dict[str, Any]) -> Options:
    options = Options()
    options.stream = body.get("stream") is True
    options.max_tokens = _positive_int(body, "max_tokens")
    options.temperature = _number(body, "temperature")
    options.top_p = _number(body, "top_p")
    top_k = body.get("top_k")
    if top_k is not None:
        if not _is_int(top_k):
            raise invalid_request("`top_k` must be an integer.", "top_k")
        options.top_k = top_k
    stop = body.get("stop_sequences")
    if stop is not None:
        if not isinstance(stop, list) or not all(isinstance(item, str) for item in stop):
            raise invalid_request("`stop_sequences` must be an array of strings.", "stop_sequences")
        options.stop = stop or None
    metadata = body.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise invalid_request("`metadata` must be an object.", "metadata")
        user = metadata.get("user_id")
        if user is not None and not isinstance(user, str):
            raise invalid_request("`metadata.user_id` must be a string.", "metadata.user_id")
        options.user = user
    if body.get("tool_choice") is not None:
        options.tool_choice, options.parallel_tool_calls = _tool_choice(body["tool_choice"])
    if body.get("thinking") is not None:
        options.reasoning, options.thinking_budget = _thinking(body["thinking"])
    return options


def _tool_choice(choice: Any) -> Tuple[Any, Optional[bool]]:
    """(canonical tool_choice, parallel_tool_calls): False only when the client disables parallel tool use."""
    if not isinstance(choice, dict):
        choice = {}
    kind = choice.get("type")
    if kind == "tool" and isinstance(choice.get("name"), str):
        canonical: Any = {"name": choice["name"]}
    elif isinstance(kind, str) and kind in _TOOL_CHOICES:
        canonical = _TOOL_CHOICES[kind]
    else:
        raise invalid_request(
            "`tool_choice` must be {type: auto}, {type: any}, {type: none} or {type: tool, name: ...}.", "tool_choice"
        )
    disable = choice.get("disable_parallel_tool_use")
    if disable is not None and not isinstance(disable, bool):
        raise invalid_request(
            "`tool_choice.disable_parallel_tool_use` must be a boolean.", "tool_choice.disable_parallel_tool_use"
        )
    return canonical, (False if disable else None)


def _thinking(thinking: Any) -> Tuple[str, Optional[int]]:
    """(reasoning level, thinking budget) for a `thinking` config."""
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind == "disabled":
        return "off", None
    if kind == "adaptive":
        return "medium", None
    if kind != "enabled":
        raise invalid_request(
            "`thinking` must be {type: enabled, budget_tokens: N}, {type: adaptive} or {type: disabled}.", "thinking"
        )
    budget = _positive_int(thinking, "budget_tokens", "thinking.budget_tokens")
    if budget is None:
        raise invalid_request(
            "`thinking.budget_tokens` is required when thinking is enabled.", "thinking.budget_tokens"
        )
    for ceiling, level in _BUDGET_LEVELS:
        if budget <= ceiling:
            return level, budget
    return "high", budget


def _positive_int(body: Dict[str, Any], field: str, name: Optional[str] = None) -> Optional[int]:
    value = body.get(field)
    if value is None:
        return None
    if not _is_int(value) or value < 1:
        raise invalid_request("`%s` must be a positive integer." % (name or field), name or field)
    return value


def _number(body: Dict[str, Any], field: str) -> Optional[float]:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid_request("`%s` must be a number." % field, field)
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
