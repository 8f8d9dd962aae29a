"""The `openai-completions` api: canonical Context to Chat Completions and its SSE stream back to Events.

Serves OpenAI-compatible vendors (Groq, Cerebras, xAI, OpenRouter, DeepSeek, Together, z.ai, ...)
and models.json custom providers (Ollama, LM Studio, vLLM). Vendor differences are compat flags
(reference/providers.md 2.6), detected from data in ``data/openai_compat.json`` and overridden
field by field by the model's own ``compat``. A streaming client's request streams upstream;
a non-stream one asks the upstream for one body, read as a single chunk by the same event mapping.
"""

import json
import pkgutil
from typing import Any, Dict, Iterator, List, Optional, Union

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
    TextStart,
    Thinking,
    ThinkingDelta,
    ThinkingStart,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolResultMessage,
    Usage,
)
from pigw.errors import GatewayError, upstream_unreachable
from pigw.providers import upstream
from pigw.registry import clamp_thinking_level

_FINISH_REASONS = {
    "stop": STOP,
    "end": STOP,
    "length": LENGTH,
    "tool_calls": TOOL_USE,
    "function_call": TOOL_USE,
    "content_filter": CONTENT_FILTER,
}
_REASONING_FIELDS = ("reasoning_content", "reasoning", "reasoning_text")
_TEXT_PATH = ("choices", 0, "delta", "content")
# Fixed body fields turning thinking on or off, per compat thinkingFormat (reference/providers.md 2.3).
_THINKING_ON: Dict[str, Dict[str, Any]] = {
    "deepseek": {"thinking": {"type": "enabled"}},
    "zai": {"thinking": {"type": "enabled", "clear_thinking": False}},
    "qwen": {"enable_thinking": True},
    "qwen-chat-template": {"chat_template_kwargs": {"enable_thinking": True, "preserve_thinking": True}},
    "together": {"reasoning": {"enabled": True}},
}
_THINKING_OFF: Dict[str, Dict[str, Any]] = {
    "zai": {"thinking": {"type": "disabled"}},
    "qwen": {"enable_thinking": False},
    "qwen-chat-template": {"chat_template_kwargs": {"enable_thinking": False, "preserve_thinking": False}},
    "together": {"reasoning": {"enabled": False}},
}
# OpenAI request fields this api forwards as they are (options.extra).
NATIVE_PARAMS = frozenset("frequency_penalty presence_penalty response_format logprobs top_logprobs logit_bias".split())
_compat_rules: Optional[dict] = None
_compat_cache: Dict[Any, dict] = {}


def stream(model, context: Context, options: Options, credential, pool, cancel=None) -> Iterator[Event]:
    """Send the request and yield canonical events as the upstream streams them."""
    compat = compat_for(model)
    base_url = credential.base_url or model.base_url
    url = base_url.rstrip("/") + "/chat/completions"
    body = json.dumps(build_body(model, compat, context, options), ensure_ascii=False).encode()
    headers = build_headers(model, credential, options.stream)
    response = upstream.post(pool, url, headers, body, (credential.api_key,), cancel)
    return _parse_stream(response, url, compat, model.id, options.stream)


def build_headers(model, credential, stream: bool = True) -> Dict[str, str]:
    """Request headers, later wins: identity, the model's catalog headers, the credential's, the key."""
    accept = "text/event-stream" if stream else "application/json"
    headers = {"User-Agent": "pigw/" + __version__, "Content-Type": "application/json", "Accept": accept}
    upstream.merge_headers(headers, model.headers)
    upstream.merge_headers(headers, credential.headers)
    lowered = {name.lower() for name in headers}
    if credential.api_key and "authorization" not in lowered and "cf-aig-authorization" not in lowered:
        headers["Authorization"] = "Bearer " + credential.api_key
    return headers


def build_body(model, compat: dict, context: Context, options: Options) -> Dict[str, Any]:
    """The Chat Completions request body for this model and its compat flags."""
    body: Dict[str, Any] = {
        "model": model.id,
        "messages": convert_messages(model, compat, context),
        "stream": options.stream,
    }
    if options.stream and compat["supportsUsageInStreaming"]:
        body["stream_options"] = {"include_usage": True}
    if options.max_tokens is not None:
        body[compat["maxTokensField"]] = options.max_tokens
    if model.reasoning and options.reasoning is not None:
        body.update(reasoning_params(model, compat, options.reasoning))
    for field in ("temperature", "top_p", "stop", "seed", "user", "parallel_tool_calls"):
        value = getattr(options, field)
        if value is not None:
            body[field] = value
    if context.tools:
        body["tools"] = convert_tools(context, compat)
        if compat["zaiToolStream"]:
            body["tool_stream"] = True
    elif compat["requiresToolsWithToolHistory"] and _has_tool_history(context):
        body["tools"] = []
    if options.tool_choice is not None:
        choice = options.tool_choice
        if isinstance(choice, dict):
            choice = {"type": "function", "function": {"name": choice["name"]}}
        body["tool_choice"] = choice
    if compat.get("openRouterRouting"):
        body["provider"] = compat["openRouterRouting"]
    if compat.get("vercelGatewayRouting"):
        body["providerOptions"] = {"gateway": compat["vercelGatewayRouting"]}
    if compat.get("vllmPriority") is not None:
        body["priority"] = compat["vllmPriority"]
    if model.sampling_params:
        body.update(model.sampling_params)
    body.update(options.extra)
    return body


def reasoning_params(model, compat: dict, level: str) -> Dict[str, Any]:
    """The body fields asking a reasoning model for a thinking level, per compat thinkingFormat (providers.md 2.3).

    Formats driven by chat templates (``chat-template``, ``baseten``) get nothing: the model's default.
    """
    mapping = model.thinking_level_map or {}
    style = compat.get("thinkingFormat") or "openai"
    with_effort = compat.get("supportsReasoningEffort") is not False
    if level == "off":
        off = mapping.get("off")
        off_refused = "off" in mapping and off is None  # the model cannot turn thinking off
        if style == "openai":
            return {"reasoning_effort": off} if isinstance(off, str) else {}
        if style in ("openrouter", "string-thinking"):
            value = off if isinstance(off, str) else "none"
            return (
                {}
                if off_refused
                else ({"reasoning": {"effort": value}} if style == "openrouter" else {"thinking": value})
            )
        if style == "deepseek":
            return {} if off_refused else {"thinking": {"type": "disabled"}}
        return dict(_THINKING_OFF.get(style, {}))
    level = clamp_thinking_level(model, level)
    mapped = mapping.get(level)
    effort = mapped if isinstance(mapped, str) else level
    if style == "openrouter":
        return {"reasoning": {"effort": effort}}
    if style == "string-thinking":
        return {"thinking": effort}
    if style == "ant-ling":
        return {"reasoning": {"effort": mapped}} if isinstance(mapped, str) else {}
    fields = dict(_THINKING_ON.get(style, {}))
    if with_effort and style in ("openai", "deepseek", "qwen", "together", "zai"):
        if style != "zai" or isinstance(mapped, str):
            fields["reasoning_effort"] = effort
    return fields


def convert_messages(model, compat: dict, context: Context) -> List[dict]:
    """Canonical messages to Chat Completions messages (reference/providers.md 2.2)."""
    out: List[dict] = []
    if context.system:
        role = "developer" if model.reasoning and compat["supportsDeveloperRole"] else "system"
        out.append({"role": role, "content": context.system})
    after_tool_result = False
    images: List[Image] = []  # of the current run of tool results, for a vision model
    vision = "image" in model.input
    for message in list(context.messages) + [None]:
        if isinstance(message, ToolResultMessage):
            out.append(_tool_result(message, compat))
            after_tool_result = True
            if vision:
                images += [part for part in message.content if isinstance(part, Image)]
            continue
        bridge = after_tool_result and compat["requiresAssistantAfterToolResult"]
        if images:
            if bridge:
                out.append(_BRIDGE)
                bridge = False
            attached = _user([Text("Attached image(s) from tool result:")] + images)
            if attached is not None:
                out.append(attached)
            images = []
        if message is None:
            break
        if bridge and message.role == "user":
            out.append(_BRIDGE)
        after_tool_result = False
        if isinstance(message, AssistantMessage):
            converted = _assistant(message, model, compat)
            if converted is not None:
                out.append(converted)
        else:
            converted = _user(message.content)
            if converted is not None:
                out.append(converted)
    return out


_BRIDGE = {"role": "assistant", "content": "I have processed the tool results."}


def convert_tools(context: Context, compat: dict) -> List[dict]:
    """Tools as functions; parameter schemas get an object root and, for vendors that reject `$ref`, inlined refs."""
    inline = compat.get("supportsToolSchemaRefs") is False
    tools = []
    for tool in context.tools:
        parameters = tool_schema.normalize(tool.parameters, inline)
        function: Dict[str, Any] = {"name": tool.name, "description": tool.description, "parameters": parameters}
        if tool.strict is not None:
            function["strict"] = tool.strict
        tools.append({"type": "function", "function": function})
    return tools


def compat_for(model) -> dict:
    """The model's compat flags: detected defaults, overridden by its own compat field by field."""
    cached = _compat_cache.get(model)
    if cached is None:
        cached = _detect(model)
        cached.update(model.compat or {})
        _compat_cache[model] = cached
    return cached


def _parse_stream(response, url: str, compat: dict, model_id: str, stream: bool = True) -> Iterator[Event]:
    """The upstream's answer, an SSE stream or (``stream`` False) one JSON body, as canonical events."""
    chunks = _stream_chunks(response, url) if stream else _body_as_chunk(response, url)
    return _to_events(chunks, response, compat, model_id)


def _stream_chunks(response, url: str) -> Iterator[Union[dict, str]]:
    """The decoded `chat.completion.chunk` objects of an SSE body.

    A chunk that repeats the stream's first text-only chunk but for its text (and padding) comes as
    just that text, read by a template rather than parsed (``fast_json.Template``).
    """
    template = None
    learning = True
    for _name, data in upstream.events(response, url):
        if template is not None:
            text = template.match(data)
            if text is not None:
                yield text
                continue
        if data == "[DONE]":
            continue  # read on to the end of the body, so the connection goes back to the pool
        try:
            chunk = fast_json.loads(data)
        except ValueError:
            raise upstream_unreachable("The upstream sent a stream chunk that is not JSON.") from None
        if not isinstance(chunk, dict):
            continue
        if learning and _text_only(chunk):
            learning = False
            template = fast_json.Template.learn(data, chunk, _TEXT_PATH, padding="obfuscation")
        yield chunk


def _text_only(chunk: dict) -> bool:
    """Whether the chunk is one choice's non-empty content and nothing else `_to_events` acts on.

    Its delta may also name the role, and carry other fields empty (DeepSeek's `reasoning_content: null`).
    """
    choices = chunk.get("choices")
    if chunk.get("error") or chunk.get("usage") or not isinstance(choices, list) or len(choices) != 1:
        return False
    choice = choices[0]
    if not isinstance(choice, dict) or choice.get("usage") or choice.get("finish_reason"):
        return False
    delta = choice.get("delta")
    if not isinstance(delta, dict) or not isinstance(delta.get("content"), str) or delta["content"] == "":
        return False
    return all(not value or key in ("content", "role") for key, value in delta.items())


def _body_as_chunk(response, url: str) -> Iterator[dict]:
    """A non-stream `chat.completion` body as the one chunk that streams the same answer."""
    body = upstream.json_body(response, url)
    if isinstance(body, dict):
        for choice in body.get("choices") or ():
            if isinstance(choice, dict):
                delta = choice.pop("message", None)
                choice["delta"] = delta if isinstance(delta, dict) else {}
                for number, call in enumerate(choice["delta"].get("tool_calls") or ()):
                    if isinstance(call, dict):
                        call.setdefault("index", number)
        yield body


def _to_events(chunks: Iterator[Any], response, compat: dict, model_id: str) -> Iterator[Event]:
    """Chat Completions chunks (or a text-only chunk's text, see `_stream_chunks`) to canonical events.

    reference/providers.md 2.4.
    """
    finished = False
    try:
        started = False
        next_index = 0
        text_index = thinking_index = None
        tool_blocks: Dict[Any, int] = {}
        usage: Optional[Usage] = None
        finish: Optional[str] = None
        for chunk in chunks:
            if type(chunk) is str:  # after the text-only chunk it repeats, so text_index is set
                if chunk:
                    yield TextDelta(text_index, chunk)  # type: ignore[arg-type]
                continue
            if chunk.get("error"):
                raise _stream_error(chunk["error"])
            if not started:
                started = True
                upstream_model = chunk.get("model")
                yield Start(chunk.get("id"), upstream_model if upstream_model != model_id else None)
            choices = chunk.get("choices") or ()
            choice = choices[0] if choices and isinstance(choices[0], dict) else None
            raw_usage = chunk.get("usage") or (choice.get("usage") if choice else None)
            if raw_usage:
                usage = parse_usage(raw_usage)
            if choice is None:
                continue
            delta = choice.get("delta") or {}
            for field in _REASONING_FIELDS:
                piece = delta.get(field)
                if piece:
                    if thinking_index is None:
                        thinking_index = next_index
                        next_index += 1
                        yield ThinkingStart(thinking_index)
                    yield ThinkingDelta(thinking_index, piece)
                    break
            piece = delta.get("content") or delta.get("refusal")  # a refusal is what the model said
            if piece:
                if text_index is None:
                    text_index = next_index
                    next_index += 1
                    yield TextStart(text_index)
                yield TextDelta(text_index, piece)
            for call in delta.get("tool_calls") or ():
                key = call.get("index", call.get("id"))
                function = call.get("function") or {}
                index = tool_blocks.get(key)
                if index is None:
                    index = tool_blocks[key] = next_index
                    next_index += 1
                    yield ToolCallStart(index, call.get("id") or "call_%d" % index, function.get("name") or "")
                arguments = function.get("arguments")
                if arguments:
                    yield ToolCallDelta(index, arguments)
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
        reason = _FINISH_REASONS.get(finish) if finish else None
        if finish and reason is None:
            raise upstream_unreachable("Provider finish_reason: %s" % finish)
        if reason is None:
            if compat["supportsFinishReason"]:
                raise upstream_unreachable("The upstream stream ended without a finish_reason.")
            reason = TOOL_USE if tool_blocks else STOP
        if not started:
            yield Start()
        if reason == STOP and tool_blocks:
            reason = TOOL_USE
        finished = True
        yield Done(reason, usage, finish)
    finally:
        if finished:
            response.release()
        else:
            response.close()


def parse_usage(raw: dict) -> Usage:
    """Usage per reference/providers.md 2.5: input excludes cache reads and writes."""
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    cache_read = prompt_details.get("cached_tokens") or raw.get("prompt_cache_hit_tokens") or raw.get("cached_tokens")
    cache_read = cache_read or 0
    cache_write = prompt_details.get("cache_write_tokens") or 0
    prompt = raw.get("prompt_tokens") or 0
    return Usage(
        input=max(0, prompt - cache_read - cache_write),
        output=raw.get("completion_tokens") or 0,
        cache_read=cache_read,
        cache_write=cache_write,
        reasoning=completion_details.get("reasoning_tokens") or 0,
    )


def _stream_error(error: Any) -> GatewayError:
    if isinstance(error, dict):
        message = error.get("message") or "The upstream reported an error in the stream."
        code = error.get("code")
        status = code if isinstance(code, int) and 400 <= code < 600 else 502
        return GatewayError(
            status, str(message), str(error.get("type") or "api_error"), None if code is None else str(code)
        )
    return GatewayError(502, str(error), "api_error")


def _user(content: list) -> Optional[dict]:
    if len(content) == 1 and isinstance(content[0], Text):
        return {"role": "user", "content": content[0].text}
    parts: List[dict] = []
    for part in content:
        if isinstance(part, Text) and part.text:
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, Image):
            parts.append({"type": "image_url", "image_url": {"url": "data:%s;base64,%s" % (part.mime_type, part.data)}})
    return {"role": "user", "content": parts} if parts else None


def _assistant(message: AssistantMessage, model, compat: dict) -> Optional[dict]:
    texts = [part.text for part in message.content if isinstance(part, Text) and part.text.strip()]
    thinkings = [part for part in message.content if isinstance(part, Thinking)]
    calls = [part for part in message.content if isinstance(part, ToolCall)]
    if not texts and not thinkings and not calls:
        return None
    content: Any = "".join(texts) if texts else None
    if content is None and (compat["requiresNonNullAssistantContent"] or compat["requiresAssistantAfterToolResult"]):
        content = ""
    out: Dict[str, Any] = {"role": "assistant", "content": content}
    if thinkings and compat["requiresThinkingAsText"]:
        joined = "\n\n".join(part.thinking for part in thinkings)
        out["content"] = [{"type": "text", "text": joined}] + ([{"type": "text", "text": content}] if content else [])
    elif thinkings and thinkings[0].signature in _REASONING_FIELDS:
        out[thinkings[0].signature] = "\n".join(part.thinking for part in thinkings)
    if compat["requiresReasoningContentOnAssistantMessages"] and model.reasoning and "reasoning_content" not in out:
        out["reasoning_content"] = ""
    if calls:
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {
                    "name": call.name,
                    "arguments": call.raw_arguments
                    if call.raw_arguments is not None
                    else json.dumps(call.arguments, ensure_ascii=False),
                },
            }
            for call in calls
        ]
    return out


def _tool_result(message: ToolResultMessage, compat: dict) -> dict:
    texts = [part.text for part in message.content if isinstance(part, Text)]
    if texts:
        text = "\n".join(texts)
    elif any(isinstance(part, Image) for part in message.content):
        text = "(see attached image)"
    else:
        text = "(no tool output)"
    out = {"role": "tool", "tool_call_id": message.tool_call_id, "content": text}
    if compat["requiresToolResultName"]:
        out["name"] = message.tool_name
    return out


def _has_tool_history(context: Context) -> bool:
    return any(isinstance(message, ToolResultMessage) for message in context.messages)


def _detect(model) -> dict:
    global _compat_rules
    if _compat_rules is None:
        _compat_rules = json.loads(pkgutil.get_data("pigw", "data/openai_compat.json") or b"{}")
    rules = _compat_rules
    base_url = (model.base_url or "").lower()
    groups = {
        name: model.provider in group["providers"] or any(host in base_url for host in group["hosts"])
        for name, group in rules["groups"].items()
    }
    groups["nonStandard"] = any(groups[name] for name in rules["nonStandard"])
    detected = {}
    for flag, flag_rules in rules["flags"].items():
        for rule in flag_rules:
            group = rule.get("group")
            if group is not None and not groups[group]:
                continue
            prefixes = rule.get("idPrefix")
            if prefixes and not model.id.startswith(tuple(prefixes)):
                continue
            detected[flag] = rule["value"]
            break
    return detected
