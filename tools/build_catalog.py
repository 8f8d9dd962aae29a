"""Convert pi's model catalog (pi-models.json) into pigw's compact pigw/data/catalog.json.

Usage: python tools/build_catalog.py [path/to/pi-models.json]   (default ../shared/data/pi-models.json)

Output layout (read back by pigw.registry.load_catalog):
    {"format": 2, "source": ..., "catalogGeneratedAt": ...,
     "values": [shared object or array, ...],
     "providers": [[provider id, {hoisted field: value}, [{model fields that differ}, ...]], ...]}
Providers and models keep catalog order. Per provider, each field takes the value most of its models share
(when at least two do) as the provider default; a model lists only fields that differ from it, `null` meaning
"absent although the provider default has it". `name` is omitted when it equals `id`. A SHARED_FIELDS value
(an object or array) is written once in `values`, in order of first use, and fields hold its index there, so
the models that share it share one object at run time. Same input, same bytes.
"""

import json
import os
import sys
from collections import OrderedDict

FORMAT = 2

# Model fields pigw keeps, in pi's spelling; `id` and `name` are never hoisted.
HOISTED_FIELDS = (
    "api",
    "baseUrl",
    "reasoning",
    "thinkingLevelMap",
    "input",
    "cost",
    "contextWindow",
    "maxTokens",
    "headers",
    "compat",
    "promptCache",
    "inputLimits",
    "samplingParams",
    "samplingParamsByThinkingLevel",
)
# The hoisted fields whose values are objects or arrays: written as indexes into `values`.
SHARED_FIELDS = (
    "thinkingLevelMap",
    "input",
    "cost",
    "headers",
    "compat",
    "promptCache",
    "inputLimits",
    "samplingParams",
    "samplingParamsByThinkingLevel",
)
# Source fields left out: `provider` is the group key; the rest are informational (Radius `lab`, `enabled`,
# `providers`; OpenRouter `free`).
DROPPED_FIELDS = ("provider", "lab", "enabled", "providers", "free")

_ABSENT = "\x00absent"


def main(argv: list) -> int:
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    source = argv[1] if len(argv) > 1 else os.path.join(repo, "..", "shared", "data", "pi-models.json")
    target = os.path.join(repo, "pigw", "data", "catalog.json")
    with open(source, encoding="utf-8") as f:
        catalog = json.load(f, object_pairs_hook=OrderedDict)
    data = build(catalog)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as f:
        f.write(data)
    count = sum(len(models) for models in catalog["providers"].values())
    print(f"wrote {target}: {len(catalog['providers'])} providers, {count} models, {len(data)} bytes")
    return 0


def build(catalog: dict) -> bytes:
    """The compact catalog.json bytes for a parsed pi-models.json (chat models under `providers` only)."""
    providers = []
    shared: dict = {}
    for provider, models in catalog["providers"].items():
        for model in models:
            _check_fields(provider, model)
        defaults = _provider_defaults(models)
        entries = [_compact_model(model, defaults) for model in models]
        providers.append([provider, _indexed(defaults, shared), [_indexed(entry, shared) for entry in entries]])
    document = {
        "format": FORMAT,
        "source": catalog.get("source"),
        "catalogGeneratedAt": catalog.get("catalogGeneratedAt"),
        "values": [json.loads(value) for value in shared],
        "providers": providers,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


def _check_fields(provider: str, model: dict) -> None:
    if model.get("provider") != provider:
        raise ValueError(
            f"{provider}/{model['id']}: listed under {provider!r} but says provider {model.get('provider')!r}"
        )
    for key, value in model.items():
        if key not in HOISTED_FIELDS and key not in DROPPED_FIELDS and key not in ("id", "name"):
            raise ValueError(f"{provider}/{model['id']}: unknown field {key!r} (teach build_catalog.py and Model)")
        if value is None:
            raise ValueError(f"{provider}/{model['id']}: field {key!r} is null")
        if key in HOISTED_FIELDS and (key in SHARED_FIELDS) != isinstance(value, (dict, list)):
            raise ValueError(f"{provider}/{model['id']}: field {key!r} has a value of type {type(value).__name__}")


def _provider_defaults(models: list) -> dict:
    defaults = {}
    for field in HOISTED_FIELDS:
        counts: dict = {}
        for model in models:
            key = _canonical(model[field]) if field in model else _ABSENT
            counts[key] = counts.get(key, 0) + 1
        best = max(counts, key=lambda key: counts[key]) if counts else _ABSENT
        if best != _ABSENT and counts[best] >= 2:
            defaults[field] = json.loads(best)
    return defaults


def _compact_model(model: dict, defaults: dict) -> dict:
    entry = {"id": model["id"]}
    if model["name"] != model["id"]:
        entry["name"] = model["name"]
    for field in HOISTED_FIELDS:
        if field not in model:
            if field in defaults:
                entry[field] = None
        elif field not in defaults or _canonical(model[field]) != _canonical(defaults[field]):
            entry[field] = model[field]
    return entry


def _indexed(fields: dict, shared: dict) -> dict:
    """fields with each SHARED_FIELDS value replaced by its index in `shared` (canonical JSON -> index)."""
    indexed = dict(fields)
    for field in SHARED_FIELDS:
        if indexed.get(field) is not None:
            indexed[field] = shared.setdefault(_canonical(indexed[field]), len(shared))
    return indexed


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
