"""Where a request meets a model: resolve the model and its credential, pick the provider, return its Events.

``build`` assembles a Gateway from a Config: the built-in catalog composed with models.json,
the credential store of the auth dir, the upstream connection pool and, with ``--demo``, the
offline ``pigw/demo`` model.
"""

import os
from typing import Iterator, List, Optional

from pigw import models_json, providers
from pigw.config import Config
from pigw.core import Event, Request
from pigw.credentials import Credentials
from pigw.net.http import Pool
from pigw.registry import Model, Registry, load_catalog

DEMO_MODEL = Model("pigw", "demo", name="pigw offline demo", api="pigw-demo", base_url="")


class Gateway:
    def __init__(self, registry: Registry, credentials: Credentials, pool: Pool, warnings: List[str]) -> None:
        self.registry = registry
        self.credentials = credentials
        self.pool = pool
        self.warnings = warnings  # problems found while loading models.json and auth.json, for the CLI

    def stream(self, request: Request) -> Iterator[Event]:
        """The provider's event stream for this request; resolution and upstream HTTP errors raise before it."""
        model, level = self.registry.resolve(request.model)
        if level is not None and request.options.reasoning is None:
            request.options.reasoning = level
        provider = providers.for_api(model.api)
        credential = self.credentials.resolve(model) if providers.needs_credential(model.api) else None
        return provider.stream(model, request.context, request.options, credential, self.pool)


def build(config: Config) -> Gateway:
    """A Gateway for this Config (reads models.json and the catalog; runs no credential commands)."""
    catalog = load_catalog()
    config_data, warnings = models_json.load(os.path.join(config.auth_dir, "models.json"))
    if config_data:
        catalog, compose_errors = models_json.compose(catalog, config_data)
        warnings = warnings + compose_errors
    models = [model for provider_models in catalog.values() for model in provider_models]
    if config.demo:
        models.insert(0, DEMO_MODEL)
    credentials = Credentials(config.auth_dir)

    def available(model: Model) -> bool:
        if not providers.supported(model.api):
            return False
        return not providers.needs_credential(model.api) or credentials.configured(model)

    def explain(model: Model) -> Optional[str]:
        if providers.supported(model.api):
            return None
        return "The model `%s` uses the `%s` api, which this version of pigw does not speak yet." % (
            model.public_id,
            model.api,
        )

    registry = Registry(models, available, config.model_allowlist, config.model_denylist, explain)
    pool = Pool(
        connect_timeout=config.connect_timeout_ms / 1000.0,
        read_timeout=config.upstream_timeout_ms / 1000.0,
        ca_file=config.ca_bundle,
    )
    warnings.extend(credentials.warnings())
    return Gateway(registry, credentials, pool, warnings)
