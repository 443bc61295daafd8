"""The model vendors the platform knows, in one table.

Each record names the settings that configure the vendor (their env names are the settings'
names), which adapter serves it, the capability family its model names are looked up in
(`providers/capabilities.py`), the reasoning quirks of OpenAI-compatible vendors, and the
models listed when neither the configuration nor the vendor names any. The settings, the
provider registry, the capability lookups and `/status` all read this table: adding a
vendor is one record here (plus its settings fields, checked by tests/core/test_vendors.py).

The tuple's order is the order in which a vendor with a key becomes the default provider
when DEFAULT_PROVIDER is not set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Which adapter serves the vendor: its own SDK, or the OpenAI-compatible one.
AdapterKind = Literal["openai", "anthropic", "google", "openai_compatible"]
# How an OpenAI-compatible vendor streams reasoning and takes the effort knob
# (providers/openai_compatible.py); None for vendors with their own adapter.
ReasoningFlavor = Literal["deepseek", "openrouter"]


@dataclass(frozen=True, slots=True)
class VendorSpec:
    name: str  # the provider name in "provider:model"
    key_setting: str  # settings field (and env var) of the API key
    base_url_setting: str  # settings field of the base URL
    default_model_setting: str  # settings field of the model used when a request names none
    adapter: AdapterKind
    family: str  # capability table the vendor's model names are looked up in
    flavor: ReasoningFlavor | None = None
    suggested_models: tuple[str, ...] = ()


VENDORS: tuple[VendorSpec, ...] = (
    VendorSpec(
        name="openai",
        key_setting="OPENAI_API_KEY",
        base_url_setting="OPENAI_BASE_URL",
        default_model_setting="OPENAI_DEFAULT_MODEL",
        adapter="openai",
        family="openai",
        suggested_models=(
            "gpt-5",
            "gpt-5-mini",
            "gpt-4.1",
            "gpt-4.1-mini",
            "gpt-4o",
            "gpt-4o-mini",
            "o4-mini",
        ),
    ),
    VendorSpec(
        name="anthropic",
        key_setting="ANTHROPIC_API_KEY",
        base_url_setting="ANTHROPIC_BASE_URL",
        default_model_setting="ANTHROPIC_DEFAULT_MODEL",
        adapter="anthropic",
        family="anthropic",
        suggested_models=("claude-sonnet-4-6", "claude-opus-4-6", "claude-haiku-4-5"),
    ),
    VendorSpec(
        name="google",
        key_setting="GOOGLE_API_KEY",
        base_url_setting="GOOGLE_GEMINI_BASE_URL",
        default_model_setting="GOOGLE_DEFAULT_MODEL",
        adapter="google",
        family="google",
        suggested_models=("gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite"),
    ),
    VendorSpec(
        name="deepseek",
        key_setting="DEEPSEEK_API_KEY",
        base_url_setting="DEEPSEEK_BASE_URL",
        default_model_setting="DEEPSEEK_DEFAULT_MODEL",
        adapter="openai_compatible",
        family="deepseek",
        flavor="deepseek",
        suggested_models=("deepseek-chat", "deepseek-reasoner"),
    ),
    VendorSpec(
        name="openrouter",
        key_setting="OPENROUTER_API_KEY",
        base_url_setting="OPENROUTER_BASE_URL",
        default_model_setting="OPENROUTER_DEFAULT_MODEL",
        adapter="openai_compatible",
        family="openrouter",
        flavor="openrouter",
    ),
)

VENDOR_NAMES: tuple[str, ...] = tuple(spec.name for spec in VENDORS)


def vendor(name: str) -> VendorSpec | None:
    """The vendor called `name` (None: not a built-in vendor)."""
    return next((spec for spec in VENDORS if spec.name == name), None)
