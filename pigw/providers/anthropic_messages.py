"""The `anthropic-messages` api: canonical Context to an Anthropic Messages request and its SSE stream back to Events.

Serves Anthropic itself (API key, or Claude Pro/Max through the headers and system prefix the
credential supplies) and the vendors that speak the same wire (reference/providers.md section 6).
Vendor differences are the model's ``compat`` flags; a credential kind contributes headers, betas
and the system prefix as data. The upstream is always asked to stream; a non-stream client answer
is the stream collected by the caller.
"""

import json
import os
import re
from typing import Any, Dict, Iterator, List, Optional, Tuple, cast

from pigw import __version__, fast_json, tool_schema
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
    Options,
    Start,
    Text,
    TextDelta,
    TextEnd,
    TextStart,
    Thinking,
    ThinkingDelta,
    ThinkingEnd,
    ThinkingStart,
    ToolCall,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    ToolResultMessage,
    Usage,
    UserMessage,
)
from pigw.errors import GatewayError, upstream_unreachable
from pigw.providers import upstream
from pigw.registry import clamp_thinking_level

_API = "anthropic-messages"
_ANTHROPIC_VERSION = "2023-06-01"
_STOP_REASONS = {
    "end_turn": STOP,
    "stop_sequence": STOP,
    "pause_turn": STOP,
    "max_tokens": LENGTH,
    "model_context_window_exceeded": LENGTH,
    "tool_use": TOOL_USE,
    "refusal": CONTENT_FILTER,
    "sensitive": CONTENT_FILTER,
}
# HTTP status of each Anthropic error type, for errors that arrive inside the stream.
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
_THINKING_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 16384, "max": 16384}
_EFFORTS = {"minimal": "low", "low": "low", "medium": "medium", "high": "high"}
_MIN_ANSWER_TOKENS = 1024
_TEXT_PATH = ("delta", "text")  # of a text delta event
_FINE_GRAINED_TOOL_STREAMING = "fine-grained-tool-streaming-2025-05-14"
_INTERLEAVED_THINKING = "interleaved-thinking-2025-05-14"
_SERVER_SIDE_FALLBACK = "server-side-fallback-2026-07-01"
_AUTH_HEADERS = ("authorization", "x-api-key", "cf-aig-authorization")
_ERROR_IMAGE_PLACEHOLDER = "(image attached after the tool results)"
_TOOL_ID_INVALID = re.compile(r"[^a-zA-Z0-9_-]")
_LONE_SURROGATES = re.compile("[\ud800-\udfff]")


def stream(model, context: Context, options: Options, credential, pool, cancel=None) -> Iterator[Event]:
    """Send the request and yield canonical events as the upstream streams them."""
    base_url = credential.base_url or model.base_url
    url = base_url.rstrip("/") + "/v1/messages?beta=true"
    body, betas = _build_body(model, context, options, credential)
    payload = _LONE_SURROGATES.sub("", json.dumps(body, ensure_ascii=False)).encode("utf-8")
    headers = _build_headers(model, credential, betas)
    response = upstream.post(pool, url, headers, payload, (credential.api_key,), cancel)
    return _parse_stream(response, url, model.id)


def _build_headers(model, credential, betas: List[str]) -> Dict[str, str]:
    """Request headers, later wins: identity, the model's catalog headers, the credential's, the key.

    ``anthropic-beta`` is the exception: the betas this request needs, then those of the model and
    the credential, comma-joined without repeats.
    """
    headers = {
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
        "anthropic-version": _ANTHROPIC_VERSION,
        "User-Agent": "pigw/" + __version__,
    }
    betas = list(betas)
    for extra in (model.headers, credential.headers):
        others = {}
        for name, value in (extra or {}).items():
            if name.lower() == "anthropic-beta":
                betas.extend(beta.strip() for beta in value.split(","))
            else:
                others[name] = value
        upstream.merge_headers(headers, others)
    joined = ",".join(dict.fromkeys(beta for beta in betas if beta))
    if joined:
        headers["anthropic-beta"] = joined
    lowered = {name.lower() for name in headers}
    if credential.api_key and not lowered.intersection(_AUTH_HEADERS):
        headers["x-api-key"] = credential.api_key
    return headers


def _build_body(model, context: Context, options: Options, credential) -> Tuple[Dict[str, Any], List[str]]:
    """The Messages request body and the betas it needs (reference/providers.md 6.2)."""
    compat = model.compat or {}
    cache_control = _cache_control(compat, credential)
    thinking, effort, max_tokens = _convert_thinking(model, compat, options)
    thinking_on = thinking is not None and thinking["type"] != "disabled"
    body: Dict[str, Any] = {"model": model.id, "max_tokens": max_tokens, "stream": True}
    system = [text for text in (credential.system_prefix, context.system) if text]
    if system:
        body["system"] = [{"type": "text", "text": text, "cache_control": cache_control} for text in system]
    body["messages"] = _convert_messages(model, context, cache_control)
    betas: List[str] = []
    if context.tools:
        eager = compat.get("supportsEagerToolInputStreaming") is not False
        tool_cache = cache_control if compat.get("supportsCacheControlOnTools") is not False else None
        strict = compat.get("supportsStrictTools") is True
        inline = compat.get("supportsToolSchemaRefs") is False
        body["tools"] = _convert_tools(context, eager, strict, tool_cache, inline)
        if not eager:
            betas.append(_FINE_GRAINED_TOOL_STREAMING)
        tool_choice = _convert_tool_choice(options)
        if tool_choice is not None:
            body["tool_choice"] = tool_choice
    if thinking is not None:
        body["thinking"] = thinking
        if thinking_on and not compat.get("forceAdaptiveThinking"):
            betas.append(_INTERLEAVED_THINKING)
    if effort is not None:
        body["output_config"] = {"effort": effort}
    if (
        options.temperature is not None
        and not thinking_on
        and compat.get("supportsTemperature") is not False
        and not compat.get("supportsMidConvoEffort")
    ):
        body["temperature"] = options.temperature
    if options.top_p is not None and "temperature" not in body:  # Claude 4.5 and later refuse both
        body["top_p"] = options.top_p
    if options.top_k is not None:
        body["top_k"] = options.top_k
    if options.stop:
        body["stop_sequences"] = options.stop
    if options.user is not None:
        body["metadata"] = {"user_id": options.user}
    fallbacks = compat.get("allowedFallbackModels")
    if fallbacks:
        body["fallbacks"] = [{"model": fallback["model"]} for fallback in fallbacks]
        betas.append(_SERVER_SIDE_FALLBACK)
    return body, betas


def _convert_thinking(model, compat: dict, options: Options) -> Tuple[Optional[dict], Optional[str], int]:
    """The ``thinking`` param, the adaptive effort and ``max_tokens`` (reference/providers.md 0.5 and 6.2)."""
    max_tokens = options.max_tokens if options.max_tokens is not None else model.max_tokens
    level = options.reasoning
    if not model.reasoning or (level is None and options.thinking_budget is None):
        return None, None, max_tokens
    if level == "off":
        mapping = model.thinking_level_map or {}
        cannot_disable = "off" in mapping and mapping["off"] is None
        return (None if cannot_disable else {"type": "disabled"}), None, max_tokens
    if level is not None:
        level = clamp_thinking_level(model, level)
    if compat.get("forceAdaptiveThinking"):
        return {"type": "adaptive", "display": "summarized"}, _effort(model, level), max_tokens
    budget = options.thinking_budget
    if budget is None:
        budget = _THINKING_BUDGETS[cast(str, level)]  # with no budget given, a level was
    if options.max_tokens is not None:
        max_tokens = min(options.max_tokens + budget, model.max_tokens)
    budget = min(budget, max(0, max_tokens - _MIN_ANSWER_TOKENS)) or _MIN_ANSWER_TOKENS
    return {"type": "enabled", "budget_tokens": budget, "display": "summarized"}, None, max_tokens


def _effort(model, level: Optional[str]) -> Optional[str]:
    """The adaptive-thinking effort of a level: the model's own mapping, else pi's default."""
    if level is None:
        return None
    mapped = (model.thinking_level_map or {}).get(level)
    return mapped if isinstance(mapped, str) else _EFFORTS.get(level, "high")


def _cache_control(compat: dict, credential) -> dict:
    """Short retention by default; PI_CACHE_RETENTION=long asks for the 1-hour cache where the model allows it."""
    retention = credential.env.get("PI_CACHE_RETENTION") or os.environ.get("PI_CACHE_RETENTION")
    if retention == "long" and compat.get("supportsLongCacheRetention") is not False:
        return {"type": "ephemeral", "ttl": "1h"}
    return {"type": "ephemeral"}


def _convert_tools(
    context: Context, eager: bool, strict_supported: bool, cache_control: Optional[dict], inline_refs: bool
) -> List[dict]:
    tools = []
    for tool in context.tools:
        converted: Dict[str, Any] = {"name": tool.name, "description": tool.description}
        if eager:
            converted["eager_input_streaming"] = True
        if tool.strict and strict_supported:
            converted["strict"] = True
        converted["input_schema"] = _input_schema(tool.parameters, inline_refs)
        tools.append(converted)
    if cache_control is not None:
        tools[-1]["cache_control"] = cache_control
    return tools


def _input_schema(schema: Any, inline_refs: bool) -> dict:
    """An object root without root combinators, with `properties` (pi's rule); `$ref`s inlined when asked."""
    converted = tool_schema.normalize(schema, inline_refs)
    converted.setdefault("properties", {})
    return converted


def _convert_tool_choice(options: Options) -> Optional[dict]:
    """OpenAI-style tool_choice and parallel_tool_calls as one Anthropic tool_choice."""
    choice = options.tool_choice
    if choice is None and options.parallel_tool_calls is not False:
        return None
    if isinstance(choice, dict):
        converted = {"type": "tool", "name": choice["name"]}
    elif choice == "required":
        converted = {"type": "any"}
    elif choice == "none":
        converted = {"type": "none"}
    else:
        converted = {"type": "auto"}
    if options.parallel_tool_calls is False and converted["type"] != "none":
        converted["disable_parallel_tool_use"] = True
    return converted


def _convert_messages(model, context: Context, cache_control: dict) -> List[dict]:
    """Canonical messages to Messages turns (reference/providers.md 6.3); same-role turns are merged."""
    out: List[dict] = []
    messages = context.messages
    position = 0
    while position < len(messages):
        message = messages[position]
        if isinstance(message, ToolResultMessage):
            results = []
            while position < len(messages):
                result = messages[position]
                if not isinstance(result, ToolResultMessage):
                    break
                results.append(result)
                position += 1
            _append_turn(out, "user", _convert_tool_results(results))
            continue
        position += 1
        if isinstance(message, AssistantMessage):
            _append_turn(out, "assistant", _assistant_blocks(message, model))
        elif isinstance(message, UserMessage):
            _append_turn(out, "user", _content_blocks(message.content))
    if out and out[-1]["role"] == "user":
        out[-1]["content"][-1]["cache_control"] = cache_control
    return out


def _append_turn(out: List[dict], role: str, blocks: List[dict]) -> None:
    if not blocks:
        return
    if out and out[-1]["role"] == role:
        out[-1]["content"].extend(blocks)
    else:
        out.append({"role": role, "content": blocks})


def _content_blocks(parts: list) -> List[dict]:
    """User text and images; blank texts are dropped."""
    blocks = []
    for part in parts:
        if isinstance(part, Text) and part.text.strip():
            blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, Image):
            blocks.append(_image(part))
    return blocks


def _assistant_blocks(message: AssistantMessage, model) -> List[dict]:
    """Text, signed or redacted thinking (only the target model's own) and tool calls."""
    own_thinking = _same_model(message, model)
    blocks: List[dict] = []
    for part in message.content:
        if isinstance(part, Text):
            if part.text.strip():
                blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, Thinking):
            if not own_thinking or not part.signature:
                continue
            if part.redacted:
                blocks.append({"type": "redacted_thinking", "data": part.signature})
            else:
                blocks.append({"type": "thinking", "thinking": part.thinking, "signature": part.signature})
        elif isinstance(part, ToolCall):
            arguments = part.arguments if isinstance(part.arguments, dict) else {}
            blocks.append({"type": "tool_use", "id": _tool_id(part.id), "name": part.name, "input": arguments})
    return blocks


def _same_model(message: AssistantMessage, model) -> bool:
    """False only when the message says it came from another model (reference/providers.md 0.7)."""
    said = ((message.provider, model.provider), (message.api, _API), (message.model, model.id))
    return all(value is None or value == expected for value, expected in said)


def _convert_tool_results(results: List[ToolResultMessage]) -> List[dict]:
    """One run of tool results as ``tool_result`` blocks; images of error results follow them, captioned."""
    blocks: List[dict] = []
    trailing: List[dict] = []
    for result in results:
        parts: List[Any] = result.content
        images = [part for part in parts if isinstance(part, Image)]
        if result.is_error and images:
            parts = [part for part in parts if not isinstance(part, Image)] + [Text(_ERROR_IMAGE_PLACEHOLDER)]
            caption = "Images from the error result of tool call %s (%s):" % (result.tool_call_id, result.tool_name)
            trailing.append({"type": "text", "text": caption})
            trailing.extend(_image(image) for image in images)
        block = {"type": "tool_result", "tool_use_id": _tool_id(result.tool_call_id), "content": _tool_content(parts)}
        block["is_error"] = result.is_error
        blocks.append(block)
    return blocks + trailing


def _tool_content(parts: list) -> Any:
    """Text only: the texts joined; with images: blocks, led by a placeholder text when there is none."""
    if not any(isinstance(part, Image) for part in parts):
        return "\n".join(part.text for part in parts if isinstance(part, Text))
    blocks = [
        {"type": "text", "text": part.text} if isinstance(part, Text) else _image(part)
        for part in parts
        if isinstance(part, (Text, Image))
    ]
    if not any(block["type"] == "text" for block in blocks):
        blocks.insert(0, {"type": "text", "text": "(see attached image)"})
    return blocks


def _image(image: Image) -> dict:
    return {"type": "image", "source": {"type": "base64", "media_type": image.mime_type, "data": image.data}}


def _tool_id(call_id: str) -> str:
    """Anthropic tool ids match ^[a-zA-Z0-9_-]+$ and are at most 64 characters (reference/providers.md 0.7)."""
    return _TOOL_ID_INVALID.sub("_", call_id)[:64]


def _parse_stream(response, url: str, model_id: str) -> Iterator[Event]:
    """Messages SSE events to canonical events (reference/providers.md 6.4)."""
    finished = False
    try:
        started = stopped = False
        blocks: Dict[int, str] = {}  # open block index -> "text" | "thinking" | "redacted" | "tool"
        signatures: Dict[int, str] = {}  # thinking block index -> its signature so far
        usage: Dict[str, Any] = {}
        stop_reason: Optional[str] = None
        stop_sequence: Optional[str] = None
        # The stream's first text delta, as a template: later ones to the same block are read, not parsed.
        text_template: Optional[fast_json.Template] = None
        text_index = -1
        for name, data in upstream.events(response, url):
            if stopped:
                continue  # read on to the end of the body, so the connection goes back to the pool
            if name == "error":
                raise _stream_error(data)
            if text_template is not None:
                text = text_template.match(data)
                if text is not None:  # what _block_events does with this text delta
                    if text and blocks.get(text_index) == "text":
                        yield TextDelta(text_index, text)
                    continue
            try:
                event = fast_json.loads(data)
            except ValueError:
                raise upstream_unreachable("The upstream sent a stream event that is not JSON.") from None
            if not isinstance(event, dict):
                continue
            kind = event.get("type")
            if kind == "error":
                raise _stream_error(data)
            if not started and kind != "ping":
                started = True
                message = event.get("message") or {}
                upstream_model = message.get("model")
                yield Start(message.get("id"), upstream_model if upstream_model != model_id else None)
            if kind == "message_start":
                usage.update(_present((event.get("message") or {}).get("usage")))
            elif kind in ("content_block_start", "content_block_delta", "content_block_stop"):
                index = event.get("index")
                if isinstance(index, int):
                    if text_index < 0 and _text_delta_only(event):
                        text_index = index
                        text_template = fast_json.Template.learn(data, event, _TEXT_PATH)
                    yield from _block_events(kind, index, event, blocks, signatures)
            elif kind == "message_delta":
                delta = event.get("delta") or {}
                stop_reason = delta.get("stop_reason") or stop_reason
                stop_sequence = delta.get("stop_sequence") or stop_sequence
                usage.update(_present(event.get("usage")))
            elif kind == "message_stop":
                stopped = True
        if not stopped:
            raise upstream_unreachable("The upstream stream ended before message_stop.")
        if stop_reason is None:
            raise upstream_unreachable("The upstream stream ended without a stop_reason.")
        reason = _map_stop_reason(stop_reason)
        for index in sorted(blocks):  # left open by the upstream (max_tokens inside a tool call does it)
            yield _block_end(index, blocks[index], signatures)
        finished = True
        yield Done(reason, _usage(usage), stop_reason, stop_sequence)
    finally:
        if finished:
            response.release()
        else:
            response.close()


def _text_delta_only(event: dict) -> bool:
    """Whether a content_block_delta event has its type, index and a delta of non-empty text, and nothing else."""
    delta = event.get("delta")
    return (
        event.get("type") == "content_block_delta"
        and len(event) == 3
        and isinstance(delta, dict)
        and len(delta) == 2
        and delta.get("type") == "text_delta"
        and isinstance(delta.get("text"), str)
        and delta["text"] != ""
    )


def _block_events(
    kind: str, index: int, event: dict, blocks: Dict[int, str], signatures: Dict[int, str]
) -> Iterator[Event]:
    """One content_block_* event; block types pigw does not carry (server tools, fallback) are skipped."""
    if kind == "content_block_start":
        block = event.get("content_block") or {}
        block_type = block.get("type")
        if block_type == "text":
            blocks[index] = "text"
            yield TextStart(index)
        elif block_type == "thinking":
            blocks[index] = "thinking"
            signatures[index] = block.get("signature") or ""
            yield ThinkingStart(index)
        elif block_type == "redacted_thinking":
            blocks[index] = "redacted"
            signatures[index] = block.get("data") or ""
            yield ThinkingStart(index)  # no text: the opaque payload comes as the end's signature
        elif block_type == "tool_use":
            blocks[index] = "tool"
            yield ToolCallStart(index, block.get("id") or "", block.get("name") or "")
    elif kind == "content_block_delta":
        delta = event.get("delta") or {}
        delta_type = delta.get("type")
        open_as = blocks.get(index)
        if delta_type == "text_delta" and open_as == "text" and delta.get("text"):
            yield TextDelta(index, delta["text"])
        elif delta_type == "thinking_delta" and open_as == "thinking" and delta.get("thinking"):
            yield ThinkingDelta(index, delta["thinking"])
        elif delta_type == "signature_delta" and open_as == "thinking":
            signatures[index] += delta.get("signature") or ""
        elif delta_type == "input_json_delta" and open_as == "tool" and delta.get("partial_json"):
            yield ToolCallDelta(index, delta["partial_json"])
    elif index in blocks:
        yield _block_end(index, blocks.pop(index), signatures)


def _map_stop_reason(stop_reason: str) -> str:
    reason = _STOP_REASONS.get(stop_reason)
    if reason is None:
        raise upstream_unreachable("Unhandled stop reason: %s" % stop_reason)
    return reason


def _block_end(index: int, kind: str, signatures: Dict[int, str]) -> Event:
    if kind == "text":
        return TextEnd(index)
    if kind == "tool":
        return ToolCallEnd(index)
    return ThinkingEnd(index, signatures.pop(index) or None, kind == "redacted")


def _present(raw: Any) -> Dict[str, Any]:
    """The usage fields that carry a value (message_delta may repeat some as null)."""
    if not isinstance(raw, dict):
        return {}
    present = {name: value for name, value in raw.items() if value is not None}
    details = raw.get("output_tokens_details")
    if isinstance(details, dict) and details.get("thinking_tokens") is not None:
        present["thinking_tokens"] = details["thinking_tokens"]
    return present


def _usage(raw: Dict[str, Any]) -> Usage:
    return Usage(
        input=raw.get("input_tokens") or 0,
        output=raw.get("output_tokens") or 0,
        cache_read=raw.get("cache_read_input_tokens") or 0,
        cache_write=raw.get("cache_creation_input_tokens") or 0,
        reasoning=raw.get("thinking_tokens") or 0,
    )


def _stream_error(data: str) -> GatewayError:
    """An ``error`` event: the status its type stands for (502 if unknown), the upstream's type and message."""
    try:
        detail = json.loads(data).get("error")
    except (ValueError, AttributeError):
        detail = None
    kind = detail.get("type") if isinstance(detail, dict) else None
    status = _ERROR_STATUS.get(kind, 502) if isinstance(kind, str) else 502
    return upstream.error_from_body(status, data.encode("utf-8"))
