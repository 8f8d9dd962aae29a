"""`GET /v1/models` and `GET /v1/models/{id}`: the served models in OpenAI's list shape."""

from json.encoder import encode_basestring as _quote  # type: ignore[attr-defined]
from typing import Any, Dict

from pigw.api import JSON, Reply, json_reply, openai_error
from pigw.errors import GatewayError

# Models have no creation date of their own: every entry carries the built-in catalog's
# generation time (pi 1.5.2, 2026-11-10T12:05:37Z), so the list is stable between runs.
CREATED = 1794312337
# One list entry as json_reply writes _entry(model): the same bytes, without a dict per model.
_ENTRY = '{"id": %s, "object": "model", "created": ' + str(CREATED) + ', "owned_by": %s}'


def list_models(registry) -> Reply:
    entries = [_ENTRY % (_quote(model.public_id), _quote(model.provider)) for model in registry.models()]
    return Reply(200, {"Content-Type": JSON}, ('{"object": "list", "data": [%s]}' % ", ".join(entries)).encode())


def retrieve_model(registry, model_id: str) -> Reply:
    try:
        model, _level = registry.resolve(model_id)
    except GatewayError as error:
        return openai_error(error)
    return json_reply(_entry(model))


def _entry(model) -> Dict[str, Any]:
    return {"id": model.public_id, "object": "model", "created": CREATED, "owned_by": model.provider}
