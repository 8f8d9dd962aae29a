"""`POST /v1/chat/completions`: OpenAI Chat Completions requests in, canonical Events out as OpenAI JSON or SSE."""

import json
import time
from json.encoder import encode_basestring_ascii as _quote  # type: ignore[attr-defined]
from typing import Any, Dict, Generator, Iterator, List, Optional, Tuple

from pigw.api import (
    FLUSH,
    Incoming,
    Reply,
    dropped_header,
    fan_out,
    json_reply,
    note_usage,
    openai_error,
    stream_error,
)
from pigw.api.client_profiles import DEFAULT, Profile
from pigw.core import (
    CONTENT_FILTER,
    LENGTH,
    THINKING_LEVELS,
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
    Thinking,
    ThinkingDelta,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolResultMessage,
    Usage,
    UserMessage,
    collect,
)
from pigw.errors import GatewayError, invalid_request
from pigw.ids import new_id

_FINISH = {TOOL_USE: "tool_calls", LENGTH: "length", CONTENT_FILTER: "content_filter"}
_EFFORTS = {"none": "off", **{level: level for level in THINKING_LEVELS}}
CLIENT_API = "openai-chat-client"
_ROLES = ("system", "developer", "user", "assistant", "tool")
_STREAM_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_DONE = b"data: [DONE]\n\n"
# Fields parse() turns into the canonical request.
_UNDERSTOOD = frozenset(
    "model messages stream stream_options temperature top_p max_tokens max_completion_tokens stop seed user n "
    "tools tool_choice parallel_tool_calls reasoning_effort reasoning".split()
)
# OpenAI fields passed through to providers that speak them natively; the rest of the world drops them.
_NATIVE = frozenset("frequency_penalty presence_penalty response_format logprobs top_logprobs logit_bias".split())
# Of those, the ones whose silent loss would change the answer: a provider without them answers 400.
_MUST_HONOUR = frozenset("logprobs top_logprobs logit_bias".split())
_TAIL = b',"logprobs":null,"finish_reason":null}]}\n\n'
# Sent during silence (client profiles pick the form): a chunk with an empty delta parses in every
# OpenAI client, unlike the comment-only SSE blocks some parsers choke on; a comment is lighter for
# clients known to skip them. Never `: ping`, which Continue's parser treats as the end of a read.
_KEEPALIVE = b'[{"index":0,"delta":{}' + _TAIL
_COMMENT_KEEPALIVE = b": keepalive\n\n"
_FIRST_TOKEN = (TextDelta, ThinkingDelta, ToolCallStart)
_compact = json.JSONEncoder(separators=(",", ":")).encode
# Per client profile: the message fields of reasoning text, and its delta as (opening, second field).
_REASONING_KEYS = {
    "reasoning_content": ("reasoning_content",),
    "reasoning": ("reasoning",),
    "both": ("reasoning_content", "reasoning"),
}
_REASONING_FRAMES: Dict[str, Tuple[bytes, Optional[bytes]]] = {
    "reasoning_content": (b'{"reasoning_content":', None),
    "reasoning": (b'{"reasoning":', None),
    "both": (b'{"reasoning_content":', b',"reasoning":'),
}


def handle(incoming: Incoming, gateway) -> Reply:
    """Answer one Chat Completions request."""
    try:
        body = incoming.json_object()
        request = parse(body, gateway.strict)
        request.cancel = incoming.cancel
        stream_options = body.get("stream_options")
        include_usage = isinstance(stream_options, dict) and stream_options.get("include_usage") is True
        n = body.get("n") or 1
        if n > 1:
            streams = fan_out.start(gateway, request, n)
        else:
            events = gateway.stream(request)
        incoming.notes["model"] = request.target.public_id
        incoming.notes["provider"] = request.target.provider
        completion_id = new_id("chatcmpl-")
        created = int(time.time())
        profile = incoming.profile or DEFAULT
        if body.get("stream") is True:
            envelope = chunk_envelope(completion_id, created, request.model)
            if n > 1:
                chunks = _render_choices(streams, envelope, include_usage, incoming)
            else:
                chunks = render_stream(events, envelope, include_usage, incoming)
            return Reply(
                200, dropped_header(request, _STREAM_HEADERS), chunks=chunks, keepalive=_keepalive(profile, envelope)
            )
        answers = fan_out.collect_all(streams) if n > 1 else [collect(events)]
    except GatewayError as error:
        return openai_error(error)
    bodies = [render_completion(answer, completion_id, created, request.model, profile) for answer in answers]
    body = bodies[0]
    if n > 1:
        body["choices"] = [dict(one["choices"][0], index=number) for number, one in enumerate(bodies)]
        usage = fan_out.total_usage([answer.usage for answer in answers])
        body["usage"] = render_usage(usage or Usage())
        answers[0].usage = usage
    note_usage(incoming, answers[0].usage)
    return json_reply(body, headers=dropped_header(request, {}))


def parse(body: Dict[str, Any], strict: bool = False) -> Request:
    """A Chat Completions body to a canonical Request; a 400 naming the field when it is malformed.

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
    n = body.get("n")
    if n is not None and (not _is_int(n) or not 1 <= n <= fan_out.MAX_N):
        raise invalid_request(
            "`n` must be an integer from 1 to %d (pigw sends that many requests upstream)." % fan_out.MAX_N, "n"
        )
    system, converted = _convert_messages(messages)
    request = Request(model, Context(system, converted, _tools(body.get("tools"))), _options(body))
    for name in body:
        if name in _NATIVE:
            request.options.extra[name] = body[name]
            if name in _MUST_HONOUR and body[name] not in (None, False):
                request.must_honour.add(name)
        elif name not in _UNDERSTOOD:
            if strict:
                raise invalid_request("`%s` is not a parameter pigw understands (strict mode)." % name, name)
            request.dropped.append(name)
    return request


def render_completion(
    answer, completion_id: str, created: int, model: str, profile: Profile = DEFAULT
) -> Dict[str, Any]:
    """The non-stream `chat.completion` body of a collected answer; reasoning under the profile's field(s)."""
    texts = [part.text for part in answer.content if isinstance(part, Text)]
    thinking = [part.thinking for part in answer.content if isinstance(part, Thinking)]
    calls = [part for part in answer.content if isinstance(part, ToolCall)]
    message: Dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts or not calls else None,
        "refusal": None,  # an upstream's refusal arrives as text (providers/openai_completions.py)
    }
    if thinking:
        text = "".join(thinking)
        for field in _REASONING_KEYS[profile.reasoning_field]:
            message[field] = text
    if calls:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.raw_arguments or "{}"},
            }
            for call in calls
        ]
    body: Dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": _FINISH.get(answer.reason, "stop")}
        ],
    }
    if answer.usage is not None:
        body["usage"] = render_usage(answer.usage)
    return body


def chunk_envelope(completion_id: str, created: int, model: str) -> bytes:
    """The bytes every `chat.completion.chunk` frame of one stream starts with, up to its choices."""
    return b'data: {"id":%s,"object":"chat.completion.chunk","created":%d,"model":%s,"choices":' % (
        _quote(completion_id).encode(),
        created,
        _quote(model).encode(),
    )


def render_stream(
    events: Iterator[Event],
    envelope: bytes,
    include_usage: bool,
    incoming: Optional[Incoming] = None,
    choice: int = 0,
    last: bool = True,
) -> Generator[bytes, None, None]:
    """Events to `chat.completion.chunk` SSE frames: role first, deltas, finish, usage if asked, [DONE].

    A ``FLUSH`` follows the first token's frame. With ``incoming``, time to first token and usage are
    noted for the access log. ``choice`` is the frames' choice index; not ``last`` (one of several
    choices), the stream stops after its finish.
    """
    head = envelope + b'[{"index":%d,"delta":' % choice
    tail = _TAIL
    profile = incoming.profile if incoming is not None and incoming.profile is not None else DEFAULT
    opening, also = _REASONING_FRAMES[profile.reasoning_field]
    tool_numbers: Dict[int, int] = {}
    try:
        yield head + b'{"role":"assistant","content":""}' + tail
        first = True
        for event in events:
            kind = type(event)
            flush = False
            if first and kind in _FIRST_TOKEN:
                first = False
                flush = True  # the first token's frame goes out at once
                if incoming is not None:
                    incoming.notes["ttftMs"] = round((time.monotonic() - incoming.started) * 1000, 2)
            if kind is TextDelta:
                yield head + b'{"content":' + _quote(event.delta).encode() + b"}" + tail  # type: ignore[attr-defined]
            elif kind is ThinkingDelta:
                text = _quote(event.delta).encode()  # type: ignore[attr-defined]
                if also is None:
                    yield head + opening + text + b"}" + tail
                else:
                    yield head + opening + text + also + text + b"}" + tail
            elif kind is ToolCallDelta:
                number = tool_numbers[event.index]  # type: ignore[attr-defined]
                yield (
                    head
                    + b'{"tool_calls":[{"index":%d,"function":{"arguments":' % number
                    + _quote(event.delta).encode()  # type: ignore[attr-defined]
                    + b"}}]}"
                    + tail
                )
            elif isinstance(event, ToolCallStart):
                number = tool_numbers[event.index] = len(tool_numbers)
                call = {
                    "index": number,
                    "id": event.id,
                    "type": "function",
                    "function": {"name": event.name, "arguments": ""},
                }
                yield head + b'{"tool_calls":[' + _compact(call).encode() + b"]}" + tail
            elif isinstance(event, Done):
                if incoming is not None:
                    note_usage(incoming, event.usage)
                finish = _FINISH.get(event.reason, "stop")
                yield head + b'{},"logprobs":null,"finish_reason":"' + finish.encode() + b'"}]}\n\n'
                if not last:
                    return
                if include_usage:
                    usage = _compact(render_usage(event.usage or Usage())).encode()
                    yield envelope + b'[],"usage":' + usage + b"}\n\n"
                yield _DONE
            if flush:
                yield FLUSH
    except GatewayError as error:
        yield b"data: " + stream_error(error, incoming).openai_json() + b"\n\n"


def _render_choices(
    streams: List[Iterator[Event]], envelope: bytes, include_usage: bool, incoming: Incoming
) -> Generator[bytes, None, None]:
    """n choices' frames interleaved as they arrive, then one usage chunk (the sum) and [DONE]."""
    usages: List[Optional[Usage]] = []
    choices = [
        render_stream(fan_out.tap_usage(events, usages), envelope, False, incoming, number, last=False)
        for number, events in enumerate(streams)
    ]
    frame = b""
    for frame in fan_out.interleave(choices, _is_error_frame):
        yield frame
    if _is_error_frame(frame):
        return
    usage = fan_out.total_usage(usages)
    note_usage(incoming, usage)
    if include_usage:
        yield envelope + b'[],"usage":' + _compact(render_usage(usage or Usage())).encode() + b"}\n\n"
    yield _DONE


def _is_error_frame(frame: bytes) -> bool:
    return frame.startswith(b'data: {"error"')


def _keepalive(profile: Profile, envelope: bytes) -> Optional[bytes]:
    if profile.keepalive == "comment":
        return _COMMENT_KEEPALIVE
    return envelope + _KEEPALIVE if profile.keepalive == "delta" else None


def render_usage(usage: Usage) -> Dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.output,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning},
    }


def _convert_messages(messages: List[Any]):
    system: List[str] = []
    converted: List[Message] = []
    tool_names: Dict[str, str] = {}
    for position, message in enumerate(messages):
        where = "messages[%d]" % position
        if not isinstance(message, dict):
            raise invalid_request("`%s` must be an object." % where, where)
        role = message.get("role")
        if role not in _ROLES:
            raise invalid_request("`%s.role` must be one of %s." % (where, ", ".join(_ROLES)), where + ".role")
        content = message.get("content")
        if role in ("system", "developer"):
            text = _text_only(content, where)
            if text:
                system.append(text)
        elif role == "user":
            if content is None:
                raise invalid_request("`%s.content` is required for user messages." % where, where + ".content")
            converted.append(UserMessage(_parts(content, where)))
        elif role == "assistant":
            assistant = _assistant(message, where)
            for part in assistant.content:
                if isinstance(part, ToolCall):
                    tool_names[part.id] = part.name
            converted.append(assistant)
        else:
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                raise invalid_request(
                    "`%s.tool_call_id` is required for tool messages." % where, where + ".tool_call_id"
                )
            name = message.get("name")
            if not isinstance(name, str):
                name = tool_names.get(call_id, "")
            converted.append(ToolResultMessage(call_id, name, _parts(content or "", where)))
    return ("\n\n".join(system) or None), converted


def _assistant(message: dict, where: str) -> AssistantMessage:
    parts: List[Any] = []
    for field in ("reasoning_content", "reasoning"):
        value = message.get(field)
        if isinstance(value, str) and value:
            parts.append(Thinking(value, field))
            break
    content = message.get("content")
    if content is not None:
        text = _text_only(content, where)
        if text:
            parts.append(Text(text))
    calls = message.get("tool_calls")
    if calls is not None:
        if not isinstance(calls, list):
            raise invalid_request("`%s.tool_calls` must be an array." % where, where + ".tool_calls")
        for number, call in enumerate(calls):
            parts.append(_tool_call(call, "%s.tool_calls[%d]" % (where, number)))
    # Marked as coming from an OpenAI client: its reasoning text carries no provider signature, so
    # providers that replay only their own signed thinking (Anthropic) leave it out.
    return AssistantMessage(parts, api=CLIENT_API)


def _tool_call(call: Any, where: str) -> ToolCall:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise invalid_request("`%s.function.name` is required." % where, where + ".function.name")
    arguments = function.get("arguments")
    if arguments is None:
        arguments = "{}"
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    call_id = call.get("id") if isinstance(call.get("id"), str) else ""
    try:
        parsed = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        parsed = {}
    return ToolCall(call_id, function["name"], parsed, arguments)


def _parts(content: Any, where: str) -> List[Any]:
    if isinstance(content, str):
        return [Text(content)]
    if not isinstance(content, list):
        raise invalid_request("`%s.content` must be a string or an array of parts." % where, where + ".content")
    parts: List[Any] = []
    for number, part in enumerate(content):
        at = "%s.content[%d]" % (where, number)
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            parts.append(Text(part["text"]))
        elif kind == "image_url":
            parts.append(_image(part.get("image_url"), at))
        else:
            raise invalid_request(
                "`%s` must be a text part or an image_url part (type %r is not supported)." % (at, kind), at
            )
    return parts


def _image(image_url: Any, where: str) -> Image:
    """A data URL's image, or an http(s) URL the gateway fetches (when allowRemoteImages is on)."""
    url = image_url.get("url") if isinstance(image_url, dict) else image_url
    param = where + ".image_url.url"
    if isinstance(url, str) and url[:8].lower().startswith(("http://", "https://")):
        return Image("", "", url=url, param=param)
    if not isinstance(url, str) or not url.startswith("data:") or ";base64," not in url:
        raise invalid_request(
            "`%s` must be a base64 data URL (data:<mime>;base64,...) or an http(s) URL." % param, param
        )
    header, data = url[5:].split(";base64,", 1)
    return Image(data, header or "application/octet-stream")


def _text_only(content: Any, where: str) -> str:
    if content is None:
        return ""
    parts = _parts(content, where)
    if any(not isinstance(part, Text) for part in parts):
        raise invalid_request("`%s.content` may only hold text here." % where, where + ".content")
    return "".join(part.text for part in parts)


def _tools(tools: Any) -> List[Tool]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise invalid_request("`tools` must be an array.", "tools")
    out = []
    for number, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise invalid_request("`tools[%d].function.name` is required." % number, "tools[%d].function.name" % number)
        parameters = function.get("parameters")
        strict = function.get("strict")
        out.append(
            Tool(
                function["name"],
                function.get("description") or "",
                parameters if isinstance(parameters, dict) else {"type": "object", "properties": {}},
                strict if isinstance(strict, bool) else None,
            )
        )
    return out


def _options(body: Dict[str, Any]) -> Options:
    options = Options()
    options.stream = body.get("stream") is True
    options.temperature = _number(body, "temperature")
    options.top_p = _number(body, "top_p")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None:
        if not _is_int(max_tokens) or max_tokens < 1:
            field = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
            raise invalid_request("`%s` must be a positive integer." % field, field)
        options.max_tokens = max_tokens
    stop = body.get("stop")
    if isinstance(stop, str):
        options.stop = [stop]
    elif isinstance(stop, list) and all(isinstance(item, str) for item in stop):
        options.stop = stop or None
    elif stop is not None:
        raise invalid_request("`stop` must be a string or an array of strings.", "stop")
    seed = body.get("seed")
    if seed is not None:
        if not _is_int(seed):
            raise invalid_request("`seed` must be an integer.", "seed")
        options.seed = seed
    user = body.get("user")
    if user is not None:
        if not isinstance(user, str):
            raise invalid_request("`user` must be a string.", "user")
        options.user = user
    effort = body.get("reasoning_effort")
    reasoning = body.get("reasoning")
    if effort is None and isinstance(reasoning, dict):
        effort = reasoning.get("effort")
    elif reasoning is not None and not isinstance(reasoning, dict):
        raise invalid_request('`reasoning` must be an object such as {"effort": "high"}.', "reasoning")
    if effort is not None:
        if not isinstance(effort, str) or effort not in _EFFORTS:
            raise invalid_request("`reasoning_effort` must be one of %s." % ", ".join(_EFFORTS), "reasoning_effort")
        options.reasoning = _EFFORTS[effort]
    if body.get("tool_choice") is not None:
        options.tool_choice = _tool_choice(body["tool_choice"])
    parallel = body.get("parallel_tool_calls")
    if parallel is not None:
        if not isinstance(parallel, bool):
            raise invalid_request("`parallel_tool_calls` must be a boolean.", "parallel_tool_calls")
        options.parallel_tool_calls = parallel
    return options


def _tool_choice(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    function = choice.get("function") if isinstance(choice, dict) else None
    if isinstance(function, dict) and isinstance(function.get("name"), str):
        return {"name": function["name"]}
    raise invalid_request(
        '`tool_choice` must be "auto", "none", "required" or {"type": "function", "function": {"name": ...}}.',
        "tool_choice",
    )


def _number(body: Dict[str, Any], field: str) -> Optional[float]:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid_request("`%s` must be a number." % field, field)
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
