"""pi's `<agent dir>/models.json`: reading it, validating it, and composing it with the built-in catalog.

Follows `reference/models-json.md` (pi 1.5.2): §1 schema, §2 errors, §3 merge algorithm.
"""

import copy
import json
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

from .core import THINKING_LEVELS
from .registry import Model


def load(path: str) -> Tuple[dict, List[str]]:
    """The parsed, schema-checked models.json at `path` and its error messages: ({}, []) when the file is missing,
    ({}, [message]) when it cannot be read, parsed or validated. Messages never quote values from the file."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return {}, []
    except OSError as e:
        return {}, [f"Failed to load models.json: {e.strerror or type(e).__name__}\n\nFile: {path}"]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return {}, [f"Failed to load models.json: the file is not UTF-8 text\n\nFile: {path}"]
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        config = json.loads(_strip_json_comments(text), parse_constant=_reject_constant)
    except ValueError as e:
        return {}, [f"Failed to parse models.json: {e}\n\nFile: {path}"]
    problems: List[Tuple[str, str]] = []
    _check("", config, _CONFIG, problems)
    if problems:
        lines = "\n".join(f"  - {where or 'root'}: {what}" for where, what in problems)
        return {}, [f"Invalid models.json schema:\n{lines}\n\nFile: {path}"]
    return config, []


def compose(
    catalog: "OrderedDict[str, List[Model]]", config: dict
) -> Tuple["OrderedDict[str, List[Model]]", List[str]]:
    """The catalog with a loaded models.json applied (models-json.md §3), and one message per provider entry that
    failed (that provider keeps its built-in models, or is left out when it is not built in) or needs a word.

    Returns new lists; the catalog's Model objects are never changed (changed models are copies)."""
    composed = OrderedDict((provider, list(models)) for provider, models in catalog.items())
    messages = []
    providers = copy.deepcopy(config.get("providers") or {})
    for provider, settings in providers.items():
        try:
            _check_provider(provider, settings)
            if settings.get("oauth") == "radius":
                composed[provider] = []
                messages.append(
                    f'Provider {provider}: "oauth": "radius" gateways list their own models, and pigw does not '
                    f"fetch gateway catalogs yet, so it serves no models from {settings['baseUrl']}."
                )
                continue
            composed[provider] = _compose_provider(provider, catalog.get(provider, []), settings)
        except _ProviderError as e:
            messages.append(str(e))
    return composed, messages


class _ProviderError(Exception):
    """A provider entry that cannot be applied (pi's per-provider composition errors)."""


def _check_provider(provider: str, settings: dict) -> None:
    if settings.get("oauth") and not settings.get("baseUrl"):
        raise _ProviderError(f'Provider {provider}: "baseUrl" is required when "oauth" is set.')
    if not (
        settings.get("models")
        or settings.get("baseUrl")
        or "headers" in settings
        or "compat" in settings
        or settings.get("modelOverrides")
        or settings.get("apiKey")
        or settings.get("oauth")
        or "authHeader" in settings
    ):
        raise _ProviderError(
            f'Provider {provider}: must specify "baseUrl", "headers", "compat", "modelOverrides", or "models".'
        )


def _compose_provider(provider: str, base: List[Model], settings: dict) -> List[Model]:
    base_url = settings.get("baseUrl")
    compat = settings.get("compat")
    models = [
        model.replace(base_url=base_url or model.base_url, compat=_merge_compat(model.compat, compat)) for model in base
    ]
    entry_headers: Dict[str, Optional[dict]] = {}
    for entry in settings.get("models") or []:
        model = _custom_model(provider, entry, settings, models)
        entry_headers[model.id] = entry.get("headers")
        index = next((i for i, existing in enumerate(models) if existing.id == model.id), None)
        if index is None:
            models.append(model)
        else:
            models[index] = model
    overrides = settings.get("modelOverrides") or {}
    models = [_apply_override(model, overrides[model.id]) if model.id in overrides else model for model in models]
    return [
        model.replace(
            api_key_config=settings.get("apiKey"),
            header_configs=_merge_headers(
                settings.get("headers"), overrides.get(model.id, {}).get("headers"), entry_headers.get(model.id)
            ),
            auth_header=bool(settings.get("authHeader")),
        )
        for model in models
    ]


def _custom_model(provider: str, entry: dict, settings: dict, models: List[Model]) -> Model:
    """A `models[]` entry as a Model: api/baseUrl from the entry, the provider, then a default model (§3.3)."""
    defaults = _default_model(models, entry["id"], entry.get("api") or settings.get("api"))
    api = entry.get("api") or settings.get("api") or (defaults.api if defaults else None)
    if not api:
        raise _ProviderError(
            f'Provider {provider}, model {entry["id"]}: no "api" specified. Set at provider or model level.'
        )
    base_url = entry.get("baseUrl") or settings.get("baseUrl") or (defaults.base_url if defaults else None)
    if not base_url:
        raise _ProviderError(f'Provider {provider}: "baseUrl" is required when defining custom models.')
    data = dict(entry, api=api, baseUrl=base_url, compat=_merge_compat(settings.get("compat"), entry.get("compat")))
    data.pop("headers", None)  # request-time headers (header_configs), not catalog headers
    return Model.from_dict(provider, data)


def _default_model(models: List[Model], model_id: str, api: Optional[str]) -> Optional[Model]:
    """The model a custom entry inherits api/baseUrl from: same id, else same api, else openai-completions, else
    the first."""
    return (
        next((model for model in models if model.id == model_id), None)
        or next((model for model in models if api and model.api == api), None)
        or next((model for model in models if model.api == "openai-completions"), None)
        or (models[0] if models else None)
    )


def _apply_override(model: Model, override: dict) -> Model:
    """`modelOverrides[id]` applied with the per-field rules of models-json.md §1 (headers go to header_configs)."""
    changes: Dict[str, object] = {}
    for key, slot in (
        ("name", "name"),
        ("reasoning", "reasoning"),
        ("contextWindow", "context_window"),
        ("maxTokens", "max_tokens"),
    ):
        if key in override:
            changes[slot] = override[key]
    if "input" in override:
        changes["input"] = tuple(override["input"])
    if "thinkingLevelMap" in override:
        changes["thinking_level_map"] = _merged(model.thinking_level_map, override["thinkingLevelMap"])
    if "inputLimits" in override:
        changes["input_limits"] = _merge_input_limits(model.input_limits, override["inputLimits"])
    if "cost" in override:
        changes["cost"] = _merge_cost(model.cost, override["cost"])
    if "promptCache" in override:
        changes["prompt_cache"] = _merged(model.prompt_cache, override["promptCache"])
    if "samplingParams" in override:
        changes["sampling_params"] = _merged(model.sampling_params, override["samplingParams"])
    if "samplingParamsByThinkingLevel" in override:
        by_level = dict(model.sampling_params_by_thinking_level or {})
        for level in THINKING_LEVELS:
            params = override["samplingParamsByThinkingLevel"].get(level)
            if params is not None:
                by_level[level] = _merged(by_level.get(level), params)
        changes["sampling_params_by_thinking_level"] = by_level
    if "compat" in override:
        changes["compat"] = _merge_compat(model.compat, override["compat"])
    return model.replace(**changes)


def _merge_cost(base: dict, override: dict) -> dict:
    cost = {key: override.get(key, base.get(key)) for key in ("input", "output", "cacheRead", "cacheWrite")}
    tiers = override.get("tiers", base.get("tiers"))
    if tiers is not None:
        cost["tiers"] = tiers
    return cost


def _merge_input_limits(base: Optional[dict], override: dict) -> dict:
    merged = _merged(base, override)
    images = override.get("images")
    if images is not None:
        base_images = (base or {}).get("images") or {}
        merged["images"] = _merged(base_images, images)
        if images.get("resize") is not None:
            merged["images"]["resize"] = _merged(base_images.get("resize"), images["resize"])
    return merged


_DEEP_COMPAT_KEYS = ("openRouterRouting", "vercelGatewayRouting", "chatTemplateKwargs", "chatTemplateArgs")


def _merge_compat(base: Optional[dict], override: Optional[dict]) -> dict:
    """pi's mergeCompat: shallow, except a few routing/template objects merged one level deeper."""
    if override is None:
        return base or {}
    merged = _merged(base, override)
    for key in _DEEP_COMPAT_KEYS:
        inner_base = (base or {}).get(key)
        inner_override = override.get(key)
        if isinstance(inner_base, dict) or isinstance(inner_override, dict):
            merged[key] = _merged(
                inner_base if isinstance(inner_base, dict) else None,
                inner_override if isinstance(inner_override, dict) else None,
            )
    return merged


def _merge_headers(*layers: Optional[dict]) -> Dict[str, str]:
    """Header layers merged in order: later wins, names compared case-insensitively (the later spelling is kept)."""
    merged: Dict[str, Tuple[str, str]] = {}
    for layer in layers:
        for name, value in (layer or {}).items():
            merged.pop(name.lower(), None)
            merged[name.lower()] = (name, value)
    return dict(merged.values())


def _merged(base: Optional[dict], override: Optional[dict]) -> dict:
    merged = dict(base or {})
    merged.update(override or {})
    return merged


# JSON strings (kept) or `//` comments to end of line (dropped); then strings (kept) or a comma before `}`/`]`.
_STRING_OR_COMMENT = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*')
_STRING_OR_TRAILING_COMMA = re.compile(r'"(?:\\.|[^"\\])*"|,(\s*[}\]])')


def _strip_json_comments(text: str) -> str:
    """pi's stripJsonComments: `//` line comments and trailing commas removed, string literals untouched."""
    text = _STRING_OR_COMMENT.sub(lambda m: m.group(0) if m.group(0)[0] == '"' else "", text)
    return _STRING_OR_TRAILING_COMMA.sub(lambda m: m.group(0) if m.group(1) is None else m.group(1), text)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


# The schema as data: (kind, ...) tuples walked by _check. Kinds: ("string", min length), ("number", exclusive
# minimum or None), ("boolean",), ("enum", values), ("nullable", schema), ("array", item), ("record", value),
# ("object", {field: schema}, required fields), ("template_arg",). Unknown extra keys are allowed everywhere.
_STRING = ("string", 0)
_NON_EMPTY = ("string", 1)
_NUMBER = ("number", None)
_POSITIVE = ("number", 0)
_BOOLEAN = ("boolean",)
_ANY_OBJECT = ("record", None)
_STRINGS = ("array", _STRING)
_HEADERS = ("record", _STRING)
_THINKING_LEVEL_MAP = ("object", {level: ("nullable", _STRING) for level in THINKING_LEVELS}, ())
_BY_THINKING_LEVEL = ("object", {level: _ANY_OBJECT for level in THINKING_LEVELS}, ())
_INPUT = ("array", ("enum", ("text", "image")))
_RATES = ("input", "output", "cacheRead", "cacheWrite")
_TIERS = ("array", ("object", dict.fromkeys(("inputTokensAbove",) + _RATES, _NUMBER), ("inputTokensAbove",) + _RATES))
_COST = ("object", dict(dict.fromkeys(_RATES, _NUMBER), tiers=_TIERS), _RATES)
_COST_OVERRIDE = ("object", dict(dict.fromkeys(_RATES, _NUMBER), tiers=_TIERS), ())
_PROMPT_CACHE = ("object", {"short": _NUMBER, "long": _NUMBER}, ())
_RESIZE = ("object", dict.fromkeys(("maxWidth", "maxHeight", "maxBytes", "jpegQuality"), _NUMBER), ())
_IMAGES = ("object", {"resize": _RESIZE, "maxPerMessage": _NUMBER, "maxPerRequest": _NUMBER}, ())
_INPUT_LIMITS = ("object", {"maxRequestBytes": _NUMBER, "images": _IMAGES}, ())
_COMPAT_FLAGS = (
    "supportsStore supportsDeveloperRole supportsReasoningEffort supportsUsageInStreaming supportsFinishReason "
    "requiresToolResultName requiresAssistantAfterToolResult requiresNonNullAssistantContent "
    "requiresToolsWithToolHistory requiresThinkingAsText requiresReasoningContentOnAssistantMessages zaiToolStream "
    "supportsThinkingTokenBudget supportsOpenAIGrammarTools supportsMidConvoSystemMessages "
    "supportsMidConvoToolAdditions supportsStrictMode sendSessionAffinityHeaders supportsLongCacheRetention "
    "supportsAdditionalTools supportsToolSearch supportsExplicitPromptCacheMode supportsMidConvoEffort "
    "supportsMaxOutputTokens supportsEagerToolInputStreaming supportsCacheControlOnTools supportsTemperature "
    "forceAdaptiveThinking allowEmptySignature supportsStrictTools supportsMidConvoToolChanges "
    "supportsMessageThreads imageInput sendImageOptInHeader"
).split()
_THINKING_FORMATS = (
    "openai openrouter deepseek together baseten zai qwen chat-template qwen-chat-template string-thinking ant-ling"
).split()
_COMPAT = (
    "object",
    dict(
        dict.fromkeys(_COMPAT_FLAGS, _BOOLEAN),
        maxTokensField=("enum", ("max_completion_tokens", "max_tokens")),
        thinkingFormat=("enum", tuple(_THINKING_FORMATS)),
        thinkingTokenBudgetField=("enum", ("thinking_token_budget", "thinking_budget", "thinking_budget_tokens")),
        chatTemplateKwargs=("record", ("template_arg",)),
        chatTemplateArgs=("record", ("template_arg",)),
        openRouterRouting=_ANY_OBJECT,
        vercelGatewayRouting=("object", {"only": _STRINGS, "order": _STRINGS}, ()),
        cacheControlFormat=("enum", ("anthropic",)),
        sessionAffinityFormat=("enum", ("openai", "openai-nosession", "openrouter")),
        promptCacheKeyMode=("enum", ("auto", "enabled", "disabled")),
        vllmPriority=_NUMBER,
        allowedFallbackModels=("array", ("object", {"provider": _NON_EMPTY, "model": _NON_EMPTY}, ())),
    ),
    (),
)
_TEMPLATE_VARIABLE = (
    "object",
    {"$var": ("enum", ("thinking.enabled", "thinking.effort", "thinking.budget")), "omitWhenOff": _BOOLEAN},
    ("$var",),
)
_MODEL_FIELDS = {
    "name": _NON_EMPTY,
    "reasoning": _BOOLEAN,
    "thinkingLevelMap": _THINKING_LEVEL_MAP,
    "input": _INPUT,
    "inputLimits": _INPUT_LIMITS,
    "promptCache": _PROMPT_CACHE,
    "contextWindow": _POSITIVE,
    "maxTokens": _POSITIVE,
    "samplingParams": _ANY_OBJECT,
    "samplingParamsByThinkingLevel": _BY_THINKING_LEVEL,
    "headers": _HEADERS,
    "compat": _COMPAT,
}
_MODEL_DEFINITION = (
    "object",
    dict(_MODEL_FIELDS, id=_NON_EMPTY, api=_NON_EMPTY, baseUrl=_NON_EMPTY, cost=_COST),
    ("id",),
)
_MODEL_OVERRIDE = ("object", dict(_MODEL_FIELDS, cost=_COST_OVERRIDE), ())
_PROVIDER = (
    "object",
    {
        "name": _NON_EMPTY,
        "baseUrl": _NON_EMPTY,
        "apiKey": _NON_EMPTY,
        "api": _NON_EMPTY,
        "oauth": ("enum", ("radius",)),
        "headers": _HEADERS,
        "compat": _COMPAT,
        "authHeader": _BOOLEAN,
        "models": ("array", _MODEL_DEFINITION),
        "modelOverrides": ("record", _MODEL_OVERRIDE),
    },
    (),
)
_CONFIG = ("object", {"$schema": _STRING, "providers": ("record", _PROVIDER)}, ("providers",))


def _check(path: str, value: object, schema: tuple, problems: List[Tuple[str, str]]) -> None:
    """Append (path, message) for every way `value` breaks `schema`; messages never include the value."""
    kind = schema[0]
    if kind == "string":
        if not isinstance(value, str):
            problems.append((path, "must be string"))
        elif len(value) < schema[1]:
            problems.append((path, f"must NOT have fewer than {schema[1]} characters"))
    elif kind == "number":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.append((path, "must be number"))
        elif schema[1] is not None and not value > schema[1]:
            problems.append((path, f"must be > {schema[1]}"))
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append((path, "must be boolean"))
    elif kind == "enum":
        if not isinstance(value, str) or value not in schema[1]:
            problems.append((path, "must be one of: " + ", ".join(f'"{option}"' for option in schema[1])))
    elif kind == "nullable":
        if value is not None:
            _check(path, value, schema[1], problems)
    elif kind == "template_arg":
        if isinstance(value, dict):
            _check(path, value, _TEMPLATE_VARIABLE, problems)
        elif value is not None and not isinstance(value, (str, int, float)):
            problems.append((path, 'must be a string, number, boolean, null or {"$var": ...} object'))
    elif kind == "array":
        if not isinstance(value, list):
            problems.append((path, "must be array"))
        else:
            for index, item in enumerate(value):
                _check(_join(path, str(index)), item, schema[1], problems)
    elif not isinstance(value, dict):
        problems.append((path, "must be object"))
    elif kind == "record":
        if schema[1] is not None:
            for key, item in value.items():
                _check(_join(path, key), item, schema[1], problems)
    else:  # object
        fields, required = schema[1], schema[2]
        for key in required:
            if key not in value:
                problems.append((_join(path, key), f"must have required property '{key}'"))
        for key, item in value.items():
            if key in fields:
                _check(_join(path, key), item, fields[key], problems)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
