"""Where a request meets a model: resolve the model and its credential, pick the provider, return its Events.

``build`` assembles a Gateway from a Config: the built-in catalog composed with models.json,
the credential store of the auth dir, the upstream connection pool and, with ``--demo``, the
offline ``pigw/demo`` model.
"""

import base64
import email.utils
import os
import random
import threading
import time
from typing import TYPE_CHECKING, Dict, Iterator, List, Optional, Set, Tuple

from pigw import models_json, providers
from pigw.config import Config, is_loopback
from pigw.core import Event, Image, Request
from pigw.credentials import Credentials, oauth
from pigw.errors import GatewayError, invalid_request
from pigw.limits import ProviderSlots
from pigw.net.http import Pool
from pigw.registry import Model, Registry, load_catalog

if TYPE_CHECKING:
    from pigw.net.remote_image import Fetcher

MAX_RETRY_DELAY = 10.0  # seconds; an upstream asking for a longer wait gets its error passed on
AUTH_RECHECK_S = 0.1  # auth.json is stat'ed at most this often, not once per request
DEMO_MODEL = Model("pigw", "demo", name="pigw offline demo", api="pigw-demo", base_url="")


class Gateway:
    def __init__(
        self,
        registry: Registry,
        credentials: Credentials,
        pool: Pool,
        warnings: List[str],
        strict: bool = False,
        retries: int = 0,
        slots: Optional[ProviderSlots] = None,
    ) -> None:
        self.registry = registry
        self.credentials = credentials
        self.pool = pool
        self.warnings = warnings  # problems found while loading models.json and auth.json, for the CLI
        self.strict = strict  # unknown or unsupported request fields are 400s instead of being dropped
        self.retries = retries  # upstream failures before the first byte retried this many times at most
        self.slots = slots or ProviderSlots({})
        self.log = None  # set by the server: where "dropped a field" is said once per field
        self.remote_images: Optional[Fetcher] = None  # set when allowRemoteImages is on
        self._reported: Set[str] = set()

    def stream(self, request: Request) -> Iterator[Event]:
        """The provider's event stream for this request; resolution and upstream HTTP errors raise before it."""
        model, level = self.registry.resolve(request.model)
        request.target = model
        if level is not None and request.options.reasoning is None:
            request.options.reasoning = level
        provider = providers.for_api(model.api)
        self._fit_extras(request, model, getattr(provider, "NATIVE_PARAMS", frozenset()))
        credential = self.credentials.resolve(model) if providers.needs_credential(model.api) else None
        self._fetch_images(request)
        secrets = _secrets(model, credential)
        held = self.slots.acquire(model.provider)
        try:
            events = _scrubbing(self._start(provider, model, request, credential), secrets)
        except BaseException as error:
            if held:
                self.slots.release(model.provider)
            if isinstance(error, GatewayError):
                raise _scrubbed(error, secrets) from None
            raise
        return self.slots.release_after(model.provider, events) if held else events

    def _start(self, provider, model: Model, request: Request, credential) -> Iterator[Event]:
        """Call the provider; retry what failed before any byte came back, when the failure is worth a retry."""
        attempt = 0
        while True:
            try:
                return provider.stream(model, request.context, request.options, credential, self.pool, request.cancel)
            except GatewayError as error:
                delay = retry_delay(error, attempt) if attempt < self.retries else None
                if delay is None or request.cancel.cancelled:
                    raise
                if self.log is not None:
                    self.log.info("retry", model=model.public_id, status=error.status, attempt=attempt + 1, delay=delay)
                woken = threading.Event()
                request.cancel.add(woken.set)
                if woken.wait(delay):
                    raise
                attempt += 1

    def _fetch_images(self, request: Request) -> None:
        """Images the client gave by URL become inline base64 (allowRemoteImages), else a 400 naming the part."""
        fetched: Dict[str, Tuple[str, str]] = {}
        for message in request.context.messages:
            for part in message.content:
                if not isinstance(part, Image) or part.url is None:
                    continue
                if self.remote_images is None:
                    raise invalid_request(
                        "`%s`: pigw does not fetch image URLs unless allowRemoteImages is on (config key "
                        "`allowRemoteImages`, flag --allow-remote-images); send the image as base64 data instead."
                        % part.param,
                        part.param,
                        "remote_images_disabled",
                    )
                if part.url not in fetched:
                    from pigw.net.remote_image import RemoteImageError  # loaded with the fetcher

                    try:
                        data, mime_type = self.remote_images.fetch(part.url)
                    except RemoteImageError as error:
                        message_text = "`%s`: the image could not be fetched: %s." % (part.param, error)
                        raise invalid_request(message_text, part.param, "invalid_image_url") from None
                    fetched[part.url] = (base64.b64encode(data).decode("ascii"), mime_type)
                part.data, part.mime_type = fetched[part.url]

    def _fit_extras(self, request: Request, model: Model, native: frozenset) -> None:
        """Drop the client's provider-native fields this provider lacks, or refuse them when they matter."""
        extra = request.options.extra
        for name in [name for name in extra if name not in native]:
            if self.strict or name in request.must_honour:
                raise invalid_request(
                    "`%s` is not supported by `%s` (a model of the `%s` api)." % (name, model.public_id, model.api),
                    name,
                )
            del extra[name]
            request.dropped.append(name)
        for name in request.dropped:
            if name not in self._reported:
                self._reported.add(name)
                if self.log is not None:
                    self.log.info("dropped_param", param=name, model=model.public_id)


def _secrets(model: Model, credential) -> List[str]:
    """What an upstream's error message might echo: the key, the credential's headers and environment, the
    model's headers (values of 8+ characters)."""
    if credential is None:
        return []
    values = [
        credential.api_key,
        *credential.headers.values(),
        *credential.env.values(),
        *(model.headers or {}).values(),
    ]
    return [value for value in values if isinstance(value, str) and len(value) >= 8]


def _scrubbed(error: GatewayError, secrets: List[str]) -> GatewayError:
    from pigw.providers import upstream  # loaded with the first provider; not needed to start

    error.message = upstream.scrub(error.message, secrets)
    return error


def _scrubbing(events: Iterator[Event], secrets: List[str]) -> Iterator[Event]:
    """The events; an error raised mid-stream (often the upstream's own words) with every secret scrubbed."""
    try:
        yield from events
    except GatewayError as error:
        raise _scrubbed(error, secrets) from None


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
    pool = Pool(
        connect_timeout=config.connect_timeout_ms / 1000.0,
        read_timeout=config.upstream_timeout_ms / 1000.0,
        idle_timeout=config.stream_idle_timeout_ms / 1000.0,
        ca_file=config.ca_bundle,
    )
    credentials = Credentials(
        config.auth_dir,
        refreshers=oauth.refreshers(pool),
        read_only=config.read_only_auth,
        auth_recheck_s=AUTH_RECHECK_S,
    )
    hide_subscriptions = not is_loopback(config.bind) and not config.expose_oauth_subscriptions
    # The registry decides what is served once, at start. Models that present the same credential inputs
    # (most of a provider's catalog) get the same answer, so each such shape is decided once.
    decided: Dict[tuple, bool] = {}

    def available(model: Model) -> bool:
        shape = (model.provider, model.api, model.base_url, model.api_key_config, tuple(model.header_configs.items()))
        answer = decided.get(shape)
        if answer is None:
            answer = decided[shape] = decide(model)
        return answer

    def decide(model: Model) -> bool:
        if not providers.supported(model.api):
            return False
        if not providers.needs_credential(model.api):
            return True
        if hide_subscriptions and credentials.is_subscription(model):
            return False
        return credentials.configured(model)

    def explain(model: Model) -> Optional[str]:
        if not providers.supported(model.api):
            return "The model `%s` uses the `%s` api, which this version of pigw does not speak yet." % (
                model.public_id,
                model.api,
            )
        if hide_subscriptions and credentials.is_subscription(model):
            return (
                "The model `%s` uses a subscription login, which pigw serves only on loopback binds "
                "(see --expose-oauth-subscriptions)." % model.public_id
            )
        return None

    registry = Registry(models, available, config.model_allowlist, config.model_denylist, explain)
    warnings.extend(credentials.warnings())
    slots = ProviderSlots(config.provider_concurrency)
    gateway = Gateway(registry, credentials, pool, warnings, config.strict_params, config.upstream_retries, slots)
    if config.allow_remote_images:
        from pigw.net.remote_image import Fetcher  # only when asked for: it costs start-up time and memory

        gateway.remote_images = Fetcher(
            config.remote_image_max_bytes, config.connect_timeout_ms / 1000.0, ca_file=config.ca_bundle
        )
    return gateway


def retry_delay(error: GatewayError, attempt: int) -> Optional[float]:
    """Seconds to wait before retrying after this error, or None when it is not worth a retry.

    Retried: 408, 409, 429, 5xx and unreachable upstreams (pi's rule), but not timeouts, not
    pigw's own 501, and not when the upstream asks for a wait longer than MAX_RETRY_DELAY.
    """
    if error.code == "upstream_timeout" or error.status == 501:
        return None
    if error.status not in (408, 409, 429) and error.status < 500:
        return None
    asked = _retry_after(error.headers.get("Retry-After"))
    if asked is not None:
        return asked if asked <= MAX_RETRY_DELAY else None
    return min(0.5 * 2**attempt, 8.0) * (1 - random.random() * 0.25)


def _retry_after(value: Optional[str]) -> Optional[float]:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())
