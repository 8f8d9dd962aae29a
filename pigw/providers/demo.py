"""The offline `pigw/demo` model: a deterministic streamed reply, so a client can be wired up before any key exists."""

from typing import Iterator, List

from pigw.core import STOP, Context, Done, Event, Options, Start, Text, TextDelta, TextEnd, TextStart, Usage

REPLY = (
    "Hello from pigw! This is the offline demo model, so your client is wired up correctly. "
    "Add a credential (pi /login, an API key in the environment, or ~/.pi/agent/models.json) "
    "and every model pi can reach appears in /v1/models."
)
_WORDS_PER_CHUNK = 6


def stream(model, context: Context, options: Options, credential, pool, cancel=None) -> Iterator[Event]:
    """Yield the fixed reply in chunks of a few words, with usage estimated at 4 characters a token."""
    return _events(context, options)


def _events(context: Context, options: Options) -> Iterator[Event]:
    yield Start("demo", None)
    yield TextStart(0)
    for piece in _chunks(REPLY):
        yield TextDelta(0, piece)
    yield TextEnd(0)
    yield Done(STOP, Usage(input=max(1, _prompt_chars(context) // 4), output=len(REPLY) // 4), "stop")


def _chunks(text: str) -> List[str]:
    words = text.split(" ")
    return [
        " ".join(words[start : start + _WORDS_PER_CHUNK]) + (" " if start + _WORDS_PER_CHUNK < len(words) else "")
        for start in range(0, len(words), _WORDS_PER_CHUNK)
    ]


def _prompt_chars(context: Context) -> int:
    total = len(context.system or "")
    for message in context.messages:
        total += sum(len(part.text) for part in message.content if isinstance(part, Text))
    return total
