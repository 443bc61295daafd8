"""The vendor table drives the settings names, the registry, capabilities and `/status`."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from llm_platform.core.config import Settings
from llm_platform.core.vendors import VENDOR_NAMES, VENDORS, vendor
from llm_platform.providers.capabilities import capabilities_for, known_models
from llm_platform.providers.registry import DEFAULT_ORDER, KEY_SETTINGS, build_registry


def settings(**values: Any) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, LOG_LEVEL="WARNING", LOCAL_MODEL_ENABLED=False, **values
    )


def test_every_named_setting_exists_with_its_env_name() -> None:
    fields = Settings.model_fields
    for spec in VENDORS:
        for name in (spec.key_setting, spec.base_url_setting, spec.default_model_setting):
            assert name in fields, f"{spec.name}: no setting {name}"
        assert spec.key_setting == f"{spec.name.upper()}_API_KEY"  # the env names users set
    assert len(set(VENDOR_NAMES)) == len(VENDORS)


def test_settings_are_read_through_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-deep")
    monkeypatch.setenv("DEEPSEEK_DEFAULT_MODEL", "deepseek-reasoner")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9/gemini")
    loaded = settings()
    deepseek, google = vendor("deepseek"), vendor("google")
    assert deepseek is not None and google is not None
    key = loaded.vendor_key(deepseek)
    assert isinstance(key, SecretStr) and key.get_secret_value() == "sk-deep"
    assert loaded.vendor_default_model(deepseek) == "deepseek-reasoner"
    assert loaded.vendor_base_url(google) == "http://127.0.0.1:9/gemini"
    assert loaded.provider_keys() == {name: name == "deepseek" for name in VENDOR_NAMES}
    assert vendor("nobody") is None


async def test_the_registry_registers_each_keyed_vendor_by_its_adapter() -> None:
    keys = {spec.key_setting: f"sk-{spec.name}" for spec in VENDORS}
    registry = build_registry(settings(**keys))
    try:
        assert registry.names() == sorted(VENDOR_NAMES)
        for spec in VENDORS:
            adapter = registry.get(spec.name)
            assert adapter.name == spec.name
            assert getattr(adapter, "family", spec.name) == spec.family
            assert adapter.default_model == getattr(settings(), spec.default_model_setting)
        assert registry.default_provider == VENDORS[0].name
    finally:
        await registry.aclose()


async def test_an_unkeyed_vendor_says_which_setting_enables_it() -> None:
    registry = build_registry(settings())
    try:
        hints = registry.unconfigured()
        for spec in VENDORS:
            assert hints[spec.name] == f"set {spec.key_setting}"
        assert (
            DEFAULT_ORDER == VENDOR_NAMES
            and tuple(spec.key_setting for spec in VENDORS) == KEY_SETTINGS
        )
    finally:
        await registry.aclose()


def test_capabilities_and_suggestions_come_from_the_table() -> None:
    for spec in VENDORS:
        assert known_models(spec.family) == list(spec.suggested_models)
    # OpenRouter resells the table's vendors: their names resolve in their own tables.
    assert capabilities_for("openrouter", "anthropic/claude-sonnet-4.5").reasoning
    assert capabilities_for("openrouter", "deepseek/deepseek-reasoner").reasoning
