"""The canonical vocabulary every surface and provider speaks: context, options, events, usage.

It mirrors pi-ai's canonical model (reference/providers.md section 0): a request is a Context
(system prompt, messages of text/image/thinking/tool-call/tool-result parts, tools) plus Options;
a provider answers with a stream of Events; a non-stream answer is that stream folded by
``collect``. Failures are raised as ``pigw.errors.GatewayError``, never yielded.
This module imports nothing of pigw.
"""

import json
import threading
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Union

THINKING_LEVELS = ("off", "minimal", "low", "medium", "high", "xhigh", "max")

# Stop reasons (pi's StopReason, plus content_filter kept apart so OpenAI clients see it).
STOP = "stop"
LENGTH = "length"
TOOL_USE = "toolUse"
CONTENT_FILTER = "contentFilter"


class Text:
    __slots__ = ("text", "signature")
    type = "text"

    def __init__(self, text: str, signature: Optional[str] = None) -> None:
        self.text = text
        self.signature = signature


class Image:
    __slots__ = ("data", "mime_type", "url", "param")
    type = "image"

    def __init__(self, data: str, mime_type: str, url: Optional[str] = None, param: Optional[str] = None) -> None:
        self.data = data  # base64
        self.mime_type = mime_type
        # A remote image the client gave by http(s) URL: the gateway fetches it into data and
        # mime_type before any provider sees it. param names where it was in the request, for errors.
        self.url = url
        self.param = param


class Thinking:
    __slots__ = ("thinking", "signature", "redacted")
    type = "thinking"

    def __init__(self, thinking: str, signature: Optional[str] = None, redacted: bool = False) -> None:
        self.thinking = thinking
        self.signature = signature
        self.redacted = redacted


class ToolCall:
    __slots__ = ("id", "name", "arguments", "raw_arguments")
    type = "toolCall"

    def __init__(self, id: str, name: str, arguments: Any, raw_arguments: Optional[str] = None) -> None:
        self.id = id
        self.name = name
        self.arguments = arguments  # parsed JSON (normally a dict)
        self.raw_arguments = raw_arguments  # the exact JSON text, when known


Part = Union[Text, Image, Thinking, ToolCall]


class UserMessage:
    __slots__ = ("content",)
    role = "user"

    def __init__(self, content: List[Part]) -> None:
        self.content = content


class AssistantMessage:
    __slots__ = ("content", "provider", "api", "model")
    role = "assistant"

    def __init__(
        self,
        content: List[Part],
        provider: Optional[str] = None,
        api: Optional[str] = None,
        model: Optional[str] = None,
    ) -> None:
        self.content = content
        self.provider = provider
        self.api = api
        self.model = model


class ToolResultMessage:
    __slots__ = ("tool_call_id", "tool_name", "content", "is_error")
    role = "toolResult"

    def __init__(self, tool_call_id: str, tool_name: str, content: List[Part], is_error: bool = False) -> None:
        self.tool_call_id = tool_call_id
        self.tool_name = tool_name
        self.content = content
        self.is_error = is_error


Message = Union[UserMessage, AssistantMessage, ToolResultMessage]


class Tool:
    __slots__ = ("name", "description", "parameters", "strict")

    def __init__(self, name: str, description: str, parameters: dict, strict: Optional[bool] = None) -> None:
        self.name = name
        self.description = description
        self.parameters = parameters
        self.strict = strict  # None: the client did not say


class Context:
    """What the model sees: one system prompt (all system/developer text, in order), messages, tools."""

    __slots__ = ("system", "messages", "tools")

    def __init__(self, system: Optional[str], messages: List[Message], tools: Optional[List[Tool]] = None) -> None:
        self.system = system
        self.messages = messages
        self.tools = tools or []


class Options:
    """Sampling and output options. ``None`` means "not sent by the client"."""

    __slots__ = (
        "max_tokens",
        "temperature",
        "top_p",
        "stop",
        "seed",
        "user",
        "reasoning",
        "thinking_budget",
        "top_k",
        "tool_choice",
        "parallel_tool_calls",
        "extra",
        "stream",
    )

    def __init__(
        self,
        max_tokens: Optional[int] = None,
        temperature: Optional[float] = None,
        top_p: Optional[float] = None,
        stop: Optional[List[str]] = None,
        seed: Optional[int] = None,
        user: Optional[str] = None,
        reasoning: Optional[str] = None,
        thinking_budget: Optional[int] = None,
        top_k: Optional[int] = None,
        tool_choice: Any = None,
        parallel_tool_calls: Optional[bool] = None,
        extra: Optional[Dict[str, Any]] = None,
    ) -> None:
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.stop = stop
        self.seed = seed
        self.user = user
        self.reasoning = reasoning  # a THINKING_LEVELS value
        self.thinking_budget = thinking_budget  # explicit thinking token budget, where the client gave one
        self.top_k = top_k
        self.tool_choice = tool_choice  # "auto" | "none" | "required" | {"name": str}
        self.parallel_tool_calls = parallel_tool_calls
        self.extra = extra or {}  # provider-native fields passed through as they are
        # False: the client waits for the whole answer, so a provider may ask its upstream for one body.
        self.stream = True


class Cancel:
    """A request's cancellation: callbacks (closing upstream sockets) run once, when the client goes away."""

    __slots__ = ("cancelled", "reason", "_callbacks", "_lock")

    def __init__(self) -> None:
        self.cancelled = False
        self.reason: Optional[str] = None  # said to a client still listening (e.g. the gateway is stopping)
        self._callbacks: List[Callable[[], None]] = []
        self._lock = threading.Lock()

    def add(self, callback: Callable[[], None]) -> None:
        """Run callback on cancel; at once when already cancelled."""
        with self._lock:
            if not self.cancelled:
                self._callbacks.append(callback)
                return
        callback()

    def cancel(self, reason: Optional[str] = None) -> None:
        with self._lock:
            if self.cancelled:
                return
            self.cancelled = True
            self.reason = reason
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback()
            except OSError:
                pass


class Request:
    """One parsed client request: which model, what context, which options."""

    __slots__ = ("model", "context", "options", "dropped", "must_honour", "cancel", "target")

    def __init__(self, model: str, context: Context, options: Options) -> None:
        self.model = model
        self.context = context
        self.options = options
        self.cancel = Cancel()
        self.target: Any = None  # the model the gateway resolved this request to
        self.dropped: List[str] = []  # client fields left out of the upstream request, for the response header
        self.must_honour: Set[str] = set()  # fields of options.extra whose loss would change the answer


class Usage:
    __slots__ = ("input", "output", "cache_read", "cache_write", "reasoning")

    def __init__(
        self, input: int = 0, output: int = 0, cache_read: int = 0, cache_write: int = 0, reasoning: int = 0
    ) -> None:
        self.input = input  # prompt tokens not read from or written to the cache
        self.output = output  # includes reasoning
        self.cache_read = cache_read
        self.cache_write = cache_write
        self.reasoning = reasoning

    @property
    def prompt_tokens(self) -> int:
        return self.input + self.cache_read + self.cache_write

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.output


# Events. ``index`` addresses a content block of the answer (pi's contentIndex); events of
# different blocks may interleave, and each block starts before its deltas.


class Event:
    __slots__ = ()


class Start(Event):
    """First event of every stream."""

    __slots__ = ("response_id", "model")

    def __init__(self, response_id: Optional[str] = None, model: Optional[str] = None) -> None:
        self.response_id = response_id
        self.model = model  # the upstream's model name, when it says


class TextStart(Event):
    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class TextDelta(Event):
    __slots__ = ("index", "delta")

    def __init__(self, index: int, delta: str) -> None:
        self.index = index
        self.delta = delta


class TextEnd(Event):
    __slots__ = ("index", "signature")

    def __init__(self, index: int, signature: Optional[str] = None) -> None:
        self.index = index
        self.signature = signature


class ThinkingStart(Event):
    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class ThinkingDelta(Event):
    __slots__ = ("index", "delta")

    def __init__(self, index: int, delta: str) -> None:
        self.index = index
        self.delta = delta


class ThinkingEnd(Event):
    __slots__ = ("index", "signature", "redacted")

    def __init__(self, index: int, signature: Optional[str] = None, redacted: bool = False) -> None:
        self.index = index
        self.signature = signature
        self.redacted = redacted


class ToolCallStart(Event):
    __slots__ = ("index", "id", "name")

    def __init__(self, index: int, id: str, name: str) -> None:
        self.index = index
        self.id = id
        self.name = name


class ToolCallDelta(Event):
    __slots__ = ("index", "delta")

    def __init__(self, index: int, delta: str) -> None:
        self.index = index
        self.delta = delta  # a fragment of the arguments' JSON text


class ToolCallEnd(Event):
    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class Done(Event):
    """Last event of a successful stream."""

    __slots__ = ("reason", "usage", "raw_reason", "stop_sequence")

    def __init__(
        self,
        reason: str,
        usage: Optional[Usage] = None,
        raw_reason: Optional[str] = None,
        stop_sequence: Optional[str] = None,
    ) -> None:
        self.reason = reason
        self.usage = usage
        self.raw_reason = raw_reason  # the upstream's own stop reason
        self.stop_sequence = stop_sequence  # which stop sequence ended the answer, when the upstream says


class Answer:
    """A whole answer: the stream folded (non-stream responses are built from this)."""

    __slots__ = ("response_id", "model", "content", "reason", "usage", "raw_reason", "stop_sequence")

    def __init__(self) -> None:
        self.response_id: Optional[str] = None
        self.model: Optional[str] = None
        self.content: List[Part] = []
        self.reason = STOP
        self.usage: Optional[Usage] = None
        self.raw_reason: Optional[str] = None
        self.stop_sequence: Optional[str] = None


def collect(events: Iterable[Event]) -> Answer:
    """Fold a stream of events into one Answer, blocks in index order."""
    answer = Answer()
    blocks: Dict[int, Part] = {}
    pieces: Dict[int, List[str]] = {}
    for event in events:
        if isinstance(event, (TextDelta, ThinkingDelta, ToolCallDelta)):
            pieces[event.index].append(event.delta)
        elif isinstance(event, (TextStart, ThinkingStart, ToolCallStart)):
            if isinstance(event, TextStart):
                blocks[event.index] = Text("")
            elif isinstance(event, ThinkingStart):
                blocks[event.index] = Thinking("")
            else:
                blocks[event.index] = ToolCall(event.id, event.name, None)
            pieces[event.index] = []
        elif isinstance(event, TextEnd):
            blocks[event.index].signature = event.signature  # type: ignore[union-attr]
        elif isinstance(event, ThinkingEnd):
            thinking = blocks[event.index]
            if isinstance(thinking, Thinking):
                thinking.signature = event.signature
                thinking.redacted = event.redacted
        elif isinstance(event, Start):
            answer.response_id = event.response_id
            answer.model = event.model
        elif isinstance(event, Done):
            answer.reason = event.reason
            answer.usage = event.usage
            answer.raw_reason = event.raw_reason
            answer.stop_sequence = event.stop_sequence
    for index in sorted(blocks):
        block = blocks[index]
        text = "".join(pieces[index])
        if isinstance(block, Text):
            block.text = text
        elif isinstance(block, Thinking):
            block.thinking = text
        elif isinstance(block, ToolCall):
            block.raw_arguments = text
            block.arguments = parse_arguments(text)
        answer.content.append(block)
    return answer


def parse_arguments(text: str) -> Any:
    """Tool-call arguments as pi reads them: empty is {}, unparseable or non-object is {}."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
