"""The model vendors the platform knows, in one table.

Each record names the settings that configure the vendor (their env names are the settings'
names), which adapter serves it, the reasoning quirks of OpenAI-compatible vendors, and the
models listed when neither the configuration nor the vendor names any; its models'
capabilities are in the table of the same name in `providers/capabilities.py`. The settings, the
provider registry, the capability lookups and `/status` all read this table: adding a
vendor is one record here (plus its settings fields, checked by tests/core/test_vendors.py).

The tuple's order is the order in which a vendor with a key becomes the default provider
when DEFAULT_PROVIDER is not set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

# Which adapter serves the vendor: its own SDK, or the OpenAI-compatible one.
AdapterKind = Literal["openai", "anthropic", "google", "openai_compatible"]
# How an OpenAI-compatible vendor streams reasoning and takes the effort knob
# (providers/openai_compatible.py); None for vendors with their own adapter.
ReasoningFlavor = Literal["deepseek", "openrouter"]


class VendorSettings(NamedTuple):
    """Names of the settings fields (and env vars) that configure a vendor."""

    key: str  # the API key
    base_url: str
    default_model: str  # the model used when a request names none


@dataclass(frozen=True, slots=True)
class VendorSpec:
    name: str  # the provider name in "provider:model"
    settings: VendorSettings
    adapter: AdapterKind
    flavor: ReasoningFlavor | None = None
    suggested_models: tuple[str, ...] = ()

    @property
    def key_setting(self) -> str:
        return self.settings.key

    @property
    def base_url_setting(self) -> str:
        return self.settings.base_url

    @property
    def default_model_setting(self) -> str:
        return self.settings.default_model

    @property
    def family(self) -> str:
        """The capability table its model names are looked up in (named after it)."""
        return self.name


VENDORS: tuple[VendorSpec, ...] = (
    VendorSpec(
        "openai",
        VendorSettings("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_DEFAULT_MODEL"),
        adapter="openai",
        suggested_models=(
            *("gpt-5", "gpt-5-mini", "gpt-4.1", "gpt-4.1-mini"),
            *("gpt-4o", "gpt-4o-mini", "o4-mini"),
        ),
    ),
    VendorSpec(
        "anthropic",
        VendorSettings("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_DEFAULT_MODEL"),
        adapter="anthropic",
        suggested_models=("claude-sonnet-4-6", "claude-opus-4-6", "claude-haiku-4-5"),
    ),
    VendorSpec(
        "google",
        VendorSettings("GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_DEFAULT_MODEL"),
        adapter="google",
        suggested_models=("gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite"),
    ),
    VendorSpec(
        "deepseek",
        VendorSettings("DEEPSEEK_API_KEY", "DEEPSEEK_BASE_URL", "DEEPSEEK_DEFAULT_MODEL"),
        adapter="openai_compatible",
        flavor="deepseek",
        suggested_models=("deepseek-chat", "deepseek-reasoner"),
    ),
    VendorSpec(
        "openrouter",
        VendorSettings("OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "OPENROUTER_DEFAULT_MODEL"),
        adapter="openai_compatible",
        flavor="openrouter",
    ),
)

VENDOR_NAMES: tuple[str, ...] = tuple(spec.name for spec in VENDORS)


def vendor(name: str) -> VendorSpec | None:
    """The vendor called `name` (None: not a built-in vendor)."""
    return next((spec for spec in VENDORS if spec.name == name), None)
