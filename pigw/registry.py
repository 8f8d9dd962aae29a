"""The model registry: `Model`, the built-in catalog, and which models are served and how a reference finds one."""

import fnmatch
import json
import pkgutil
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from .core import THINKING_LEVELS
from .errors import GatewayError

ZERO_COST = {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0}
_CATALOG_FORMAT = 2
# Catalog fields stored as an index into the file's `values` (tools/build_catalog.py SHARED_FIELDS).
_SHARED_FIELDS = (
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
_AMBIGUOUS_SHOWN = 5
_EMPTY: dict = {}  # the one empty headers/compat/header_configs dict of every model without any (models are read-only)


class Model:
    """One chat model: its catalog fields (pi's model object) plus the models.json settings its requests need.

    Treat instances and their dict fields as read-only; derive changed copies with `replace`.
    """

    __slots__ = (
        "provider",
        "id",
        "name",
        "api",
        "base_url",
        "reasoning",
        "input",
        "context_window",
        "max_tokens",
        "cost",
        "headers",
        "compat",
        "thinking_level_map",
        "prompt_cache",
        "input_limits",
        "sampling_params",
        "sampling_params_by_thinking_level",
        "api_key_config",
        "header_configs",
        "auth_header",
    )

    def __init__(
        self,
        provider: str,
        id: str,
        name: Optional[str] = None,
        api: str = "",
        base_url: str = "",
        reasoning: bool = False,
        input: Sequence[str] = ("text",),
        context_window: int = 128000,
        max_tokens: int = 16384,
        cost: Optional[dict] = None,
        headers: Optional[Dict[str, str]] = None,
        compat: Optional[dict] = None,
        thinking_level_map: Optional[dict] = None,
        prompt_cache: Optional[dict] = None,
        input_limits: Optional[dict] = None,
        sampling_params: Optional[dict] = None,
        sampling_params_by_thinking_level: Optional[dict] = None,
        api_key_config: Optional[str] = None,
        header_configs: Optional[Dict[str, str]] = None,
        auth_header: bool = False,
    ) -> None:
        self.provider = provider
        self.id = id
        self.name = name or id
        self.api = api
        self.base_url = base_url
        self.reasoning = reasoning
        self.input = tuple(input)
        self.context_window = context_window
        self.max_tokens = max_tokens
        self.cost = dict(ZERO_COST) if cost is None else cost
        self.headers = headers or _EMPTY
        self.compat = compat or _EMPTY
        self.thinking_level_map = thinking_level_map
        self.prompt_cache = prompt_cache
        self.input_limits = input_limits
        self.sampling_params = sampling_params
        self.sampling_params_by_thinking_level = sampling_params_by_thinking_level
        self.api_key_config = api_key_config
        self.header_configs = header_configs or _EMPTY
        self.auth_header = auth_header

    @classmethod
    def from_dict(cls, provider: str, data: dict) -> "Model":
        """A model from pi's model object (camelCase keys); missing fields take the models.json defaults."""
        get = data.get
        return cls(
            provider,
            data["id"],
            get("name"),
            get("api", ""),
            get("baseUrl", ""),
            get("reasoning", False),
            get("input", ("text",)),
            get("contextWindow", 128000),
            get("maxTokens", 16384),
            get("cost"),
            get("headers"),
            get("compat"),
            get("thinkingLevelMap"),
            get("promptCache"),
            get("inputLimits"),
            get("samplingParams"),
            get("samplingParamsByThinkingLevel"),
        )

    @property
    def public_id(self) -> str:
        """The id clients use: `provider/id`."""
        return f"{self.provider}/{self.id}"

    def to_dict(self) -> dict:
        """pi's model object for this model (catalog fields only; optional ones only when set)."""
        data = {
            "id": self.id,
            "name": self.name,
            "api": self.api,
            "provider": self.provider,
            "baseUrl": self.base_url,
            "reasoning": self.reasoning,
            "input": list(self.input),
            "cost": self.cost,
            "contextWindow": self.context_window,
            "maxTokens": self.max_tokens,
        }
        optional = (
            ("thinkingLevelMap", self.thinking_level_map),
            ("headers", self.headers or None),
            ("compat", self.compat or None),
            ("promptCache", self.prompt_cache),
            ("inputLimits", self.input_limits),
            ("samplingParams", self.sampling_params),
            ("samplingParamsByThinkingLevel", self.sampling_params_by_thinking_level),
        )
        for key, value in optional:
            if value is not None:
                data[key] = value
        return data

    def replace(self, **changes: object) -> "Model":
        """A copy with some attributes changed (this model is left as it is)."""
        clone = Model.__new__(Model)
        for slot in Model.__slots__:
            setattr(clone, slot, changes.pop(slot) if slot in changes else getattr(self, slot))
        if changes:
            raise TypeError(f"Model has no attribute(s) {', '.join(sorted(changes))}")
        return clone

    def __repr__(self) -> str:
        return f"Model({self.public_id!r})"


def clamp_thinking_level(model: Model, level: str) -> str:
    """pi's clampThinkingLevel: an unsupported level becomes the next supported one above, else below."""
    levels = THINKING_LEVELS[1:]
    if level not in levels:
        return level
    mapping = model.thinking_level_map or {}

    def supported(candidate: str) -> bool:
        if candidate in mapping:
            return mapping[candidate] is not None
        return candidate not in ("xhigh", "max")

    position = levels.index(level)
    for candidate in levels[position:] + tuple(reversed(levels[:position])):
        if supported(candidate):
            return candidate
    return level


def load_catalog() -> "OrderedDict[str, List[Model]]":
    """The built-in catalog (pigw/data/catalog.json): provider id -> its models, both in catalog order.

    The file is written by tools/build_catalog.py (its docstring has the layout). Models with equal object or
    array fields (cost, compat, ...) share one object, as the file stores each such value once.
    """
    document = json.loads(_catalog_bytes())
    if document.get("format") != _CATALOG_FORMAT:
        raise RuntimeError(f"pigw/data/catalog.json has format {document.get('format')!r}, expected {_CATALOG_FORMAT}")
    # The only top-level arrays are `input` lists, which Model keeps as tuples.
    values = [tuple(value) if isinstance(value, list) else value for value in document["values"]]
    catalog: OrderedDict[str, List[Model]] = OrderedDict()
    from_dict = Model.from_dict
    for provider, defaults, entries in document["providers"]:
        defaults = _shared(defaults, values)
        models = []
        for entry in entries:
            data = dict(defaults)
            data.update(_shared(entry, values))
            models.append(from_dict(provider, data))
        catalog[provider] = models
    return catalog


def _catalog_bytes() -> bytes:
    raw = pkgutil.get_data("pigw", "data/catalog.json")
    if raw is None:
        raise RuntimeError("pigw/data/catalog.json is missing")
    return raw


def _shared(fields: dict, values: list) -> dict:
    """Catalog fields with each index into `values` replaced by the value it names (in place)."""
    for field in _SHARED_FIELDS:
        index = fields.get(field)
        if index is not None:
            fields[field] = values[index]
    return fields


class Registry:
    """The served models (available, allowed, not denied) and resolution of client model references."""

    def __init__(
        self,
        models: Sequence[Model],
        available: Callable[[Model], bool],
        allow: Sequence[str] = (),
        deny: Sequence[str] = (),
        explain: Optional[Callable[[Model], Optional[str]]] = None,
    ) -> None:
        self._all = list(models)
        self._available = available
        self._explain = explain  # why an allowed model is unavailable, when it is not a missing credential
        self._allow = [pattern.lower() for pattern in allow]
        self._deny = [pattern.lower() for pattern in deny]
        self._served: Optional[List[Model]] = None
        self._served_set: Set[Model] = set()
        # One index, lower-cased id -> its models in catalog order; the tiers of _lookup are filtered from it.
        self._providers = {model.provider.lower() for model in self._all}
        self._by_id_lower: Dict[str, List[Model]] = {}
        for model in self._all:
            folded = model.id.lower()
            key = model.id if folded == model.id else folded  # most ids are lower-case already: no second copy
            self._by_id_lower.setdefault(key, []).append(model)

    def models(self) -> List[Model]:
        """The served models in catalog order (computed on first use, then cached)."""
        return list(self._served_models())

    def _served_models(self) -> List[Model]:
        if self._served is None:
            served = [model for model in self._all if self._allowed(model) and self._available(model)]
            self._served_set = set(served)
            self._served = served
        return self._served

    def all_models(self) -> List[Model]:
        """Every known model, served or not, in catalog order."""
        return list(self._all)

    def resolve(self, ref: str) -> Tuple[Model, Optional[str]]:
        """The served model a client reference names, and the thinking level its `:level` suffix selects (or None).

        `provider/id` (provider case-insensitive, longest matching provider id first), else a bare id unique among
        served models; ids match exactly first, then case-insensitively. `:level` is only a suffix when the whole
        reference names no model. Raises a 404 GatewayError saying why nothing is served under that name.
        """
        tiers = self._lookup(ref)
        level = None
        if not tiers:
            head, colon, tail = ref.rpartition(":")
            if colon and tail.lower() in THINKING_LEVELS:
                tiers = self._lookup(head)
                if tiers:
                    ref, level = head, tail.lower()
        if not tiers:
            raise _not_found(
                f"The model `{ref}` does not exist. List the models this gateway serves with GET /v1/models "
                "or `pigw models`."
            )
        self._served_models()
        for tier in tiers:
            served = [model for model in tier if model in self._served_set]
            if len(served) == 1:
                return served[0], level
            if served:
                raise _ambiguous(ref, served)
        raise self._unserved(tiers[0][0])

    def _lookup(self, ref: str) -> List[List[Model]]:
        """Candidate models for a reference (served or not), most specific tier first; [] when none matches."""
        slash = len(ref)
        while True:
            slash = ref.rfind("/", 0, slash)
            if slash <= 0:
                break
            provider = ref[:slash].lower()
            if provider in self._providers:
                model_id = ref[slash + 1 :]
                folded = [
                    model for model in self._by_id_lower.get(model_id.lower(), ()) if model.provider.lower() == provider
                ]
                exact = [model for model in folded if model.id == model_id]
                if exact:
                    return [exact[:1]]
                if folded:
                    return [folded]
        folded = self._by_id_lower.get(ref.lower(), [])
        return [tier for tier in ([model for model in folded if model.id == ref], folded) if tier]

    def _allowed(self, model: Model) -> bool:
        if not self._allow and not self._deny:
            return True
        names = (model.public_id.lower(), model.id.lower())
        if self._allow and not _matches_any(names, self._allow):
            return False
        return not _matches_any(names, self._deny)

    def _unserved(self, model: Model) -> GatewayError:
        if not self._allowed(model):
            return _not_found(
                f"The model `{model.public_id}` is not served by this gateway (model allowlist/denylist)."
            )
        reason = self._explain(model) if self._explain else None
        if reason:
            return _not_found(reason)
        return _not_found(
            f"The model `{model.public_id}` needs credentials for provider `{model.provider}`, and it has none. "
            f"Run `pi /login {model.provider}` or set its API key, then try again."
        )


def _matches_any(names: Sequence[str], patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns for name in names)


def _ambiguous(ref: str, models: List[Model]) -> GatewayError:
    shown = ", ".join(f"`{model.public_id}`" for model in models[:_AMBIGUOUS_SHOWN])
    more = len(models) - _AMBIGUOUS_SHOWN
    if more > 0:
        shown += f" and {more} more"
    return _not_found(f"The model id `{ref}` matches several models: {shown}. Use the full `provider/model` id.")


def _not_found(message: str) -> GatewayError:
    return GatewayError(404, message, "invalid_request_error", "model_not_found", "model")
