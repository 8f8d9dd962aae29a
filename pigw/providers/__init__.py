"""Upstream protocols, one module per api kind, each with ``stream(model, context, options, credential, pool, cancel)``.

``for_api`` maps an api kind to its module; adding a protocol is one module and one line here.
Modules are imported on first use, so start-up pays only for what is served.
"""

import importlib
from typing import Dict

from pigw.errors import GatewayError

_MODULES: Dict[str, str] = {
    "anthropic-messages": "pigw.providers.anthropic_messages",
    "openai-completions": "pigw.providers.openai_completions",
    "pigw-demo": "pigw.providers.demo",
}
_KEYLESS = frozenset(["pigw-demo"])  # api kinds that need no credential


def for_api(api: str):
    """The provider module for an api kind; 501 when pigw does not speak it yet."""
    name = _MODULES.get(api)
    if name is None:
        raise GatewayError(
            501,
            "pigw does not speak the `%s` api yet; models of this kind cannot be used through it." % api,
            "invalid_request_error",
            "unsupported_api",
            "model",
        )
    return importlib.import_module(name)


def supported(api: str) -> bool:
    return api in _MODULES


def needs_credential(api: str) -> bool:
    return api not in _KEYLESS
