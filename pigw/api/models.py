"""`GET /v1/models` and `GET /v1/models/{id}`: the served models in OpenAI's list shape."""

from typing import Any, Dict

from pigw.api import Reply, json_reply, openai_error
from pigw.errors import GatewayError

# Models have no creation date of their own: every entry carries the built-in catalog's
# generation time (pi 1.5.2, 2026-11-10T12:05:37Z), so the list is stable between runs.
CREATED = 1794312337


def list_models(registry) -> Reply:
    return json_reply({"object": "list", "data": [_entry(model) for model in registry.models()]})


def retrieve_model(registry, model_id: str) -> Reply:
    try:
        model, _level = registry.resolve(model_id)
    except GatewayError as error:
        return openai_error(error)
    return json_reply(_entry(model))


def _entry(model) -> Dict[str, Any]:
    return {"id": model.public_id, "object": "model", "created": CREATED, "owned_by": model.provider}
