"""What a model can do, from a small table of name patterns per vendor family.

Model names pass through to vendors unchanged (new ones appear weekly), so this table is
best knowledge, not a gate: a name it does not know gets conservative defaults (streaming
only, no declared output limit). Patterns are `fnmatch` globs, first match wins.
"""

from __future__ import annotations

import functools
import re
from fnmatch import fnmatchcase

from llm_platform.core.vendors import VENDORS
from llm_platform.providers.base import ModelCapabilities, Provider

CONSERVATIVE = ModelCapabilities()


def _caps(
    *,
    reasoning: bool = False,
    vision: bool = False,
    tools: bool = False,
    web_search: bool = False,
    max_out: int | None = None,
) -> ModelCapabilities:
    return ModelCapabilities(
        streaming=True,
        reasoning=reasoning,
        vision=vision,
        tools=tools,
        web_search=web_search,
        max_output_tokens=max_out,
    )


_TABLES: dict[str, list[tuple[str, ModelCapabilities]]] = {
    "openai": [
        ("o1-mini*", _caps(reasoning=True, max_out=65_536)),
        ("o1*", _caps(reasoning=True, vision=True, tools=True, max_out=100_000)),
        ("o3-mini*", _caps(reasoning=True, tools=True, max_out=100_000)),
        (
            "o[3-9]*",
            _caps(reasoning=True, vision=True, tools=True, web_search=True, max_out=100_000),
        ),
        ("gpt-5*-chat*", _caps(vision=True, tools=True, max_out=16_384)),
        (
            "gpt-[5-9]*",
            _caps(reasoning=True, vision=True, tools=True, web_search=True, max_out=128_000),
        ),
        ("gpt-4.1*", _caps(vision=True, tools=True, web_search=True, max_out=32_768)),
        ("gpt-4o*", _caps(vision=True, tools=True, web_search=True, max_out=16_384)),
        ("gpt-4-turbo*", _caps(vision=True, tools=True, max_out=4_096)),
        ("gpt-4*", _caps(tools=True, max_out=8_192)),
        ("gpt-3.5*", _caps(tools=True, max_out=4_096)),
    ],
    "anthropic": [
        (
            "claude-3-7*",
            _caps(reasoning=True, vision=True, tools=True, web_search=True, max_out=64_000),
        ),
        ("claude-3-5-haiku*", _caps(vision=True, tools=True, web_search=True, max_out=8_192)),
        ("claude-3-5*", _caps(vision=True, tools=True, web_search=True, max_out=8_192)),
        ("claude-3*", _caps(vision=True, tools=True, max_out=4_096)),
        (
            "claude-opus-4-1*",
            _caps(reasoning=True, vision=True, tools=True, web_search=True, max_out=32_000),
        ),
        (
            "claude-opus-4",
            _caps(reasoning=True, vision=True, tools=True, web_search=True, max_out=32_000),
        ),
        (
            "claude-opus-4-2025*",
            _caps(reasoning=True, vision=True, tools=True, web_search=True, max_out=32_000),
        ),
        (
            "claude-*",
            _caps(reasoning=True, vision=True, tools=True, web_search=True, max_out=64_000),
        ),
    ],
    "google": [
        ("gemini-*-image*", _caps(vision=True, max_out=8_192)),
        ("gemini-2.0-flash-thinking*", _caps(reasoning=True, vision=True, max_out=65_536)),
        ("gemini-1*", _caps(vision=True, tools=True, web_search=True, max_out=8_192)),
        ("gemini-2.0*", _caps(vision=True, tools=True, web_search=True, max_out=8_192)),
        (
            "gemini-*",
            _caps(reasoning=True, vision=True, tools=True, web_search=True, max_out=65_536),
        ),
        ("gemma-*", _caps(max_out=8_192)),
    ],
    "deepseek": [
        ("deepseek-reasoner*", _caps(reasoning=True, tools=True, max_out=65_536)),
        ("deepseek-r1*", _caps(reasoning=True, max_out=32_768)),
        ("deepseek-chat*", _caps(tools=True, max_out=8_192)),
    ],
    # Open-weight models behind local / compatible servers: only reasoning is worth knowing
    # (they write <think> blocks); limits depend on how the server was started.
    "open": [
        ("*deepseek-r1*", _caps(reasoning=True)),
        ("*qwq*", _caps(reasoning=True)),
        ("*qwen3*", _caps(reasoning=True, tools=True)),
        ("*gpt-oss*", _caps(reasoning=True, tools=True)),
        ("*magistral*", _caps(reasoning=True)),
        ("*phi-4-reasoning*", _caps(reasoning=True)),
        ("*-thinking*", _caps(reasoning=True)),
        ("*llava*", _caps(vision=True)),
        ("*-vl*", _caps(vision=True)),
        ("*vision*", _caps(vision=True)),
    ],
}

# OpenRouter names models "vendor/model"; its Anthropic names use dots ("claude-sonnet-4.5").
# The vendors whose models it resells are looked up in those vendors' tables.
_OPENROUTER_VENDORS = {spec.name: spec.family for spec in VENDORS if spec.family in _TABLES}


def lookup(family: str, model: str) -> ModelCapabilities | None:
    name = model.lower()
    for pattern, caps in _TABLES.get(family, []):
        if fnmatchcase(name, pattern):
            return caps
    return None


@functools.lru_cache(maxsize=4096)
def capabilities_for(family: str, model: str) -> ModelCapabilities:
    """Capabilities of `model` served by a provider of `family`; conservative if unknown."""
    if family == "openrouter":
        vendor, _, bare = model.partition("/")
        target = _OPENROUTER_VENDORS.get(vendor.lower())
        if target and bare:
            bare = bare.split(":", 1)[0]  # ":free", ":thinking" variants
            if target == "anthropic":
                bare = re.sub(r"(\d)\.(\d)", r"\1-\2", bare)
            found = lookup(target, bare)
            if found is not None:
                return found
        return lookup("open", model) or CONSERVATIVE
    found = lookup(family, model)
    if found is None and family not in ("openai", "anthropic", "google"):
        found = lookup("open", model)
    return found or CONSERVATIVE


def known_models(family: str) -> list[str]:
    """Models to list for a family when neither config nor the vendor names any."""
    return [model for spec in VENDORS if spec.family == family for model in spec.suggested_models]


class CatalogProvider(Provider):
    """A vendor adapter whose model knowledge is this module's table for its `family` and
    whose default model is fixed when it is built."""

    family: str

    def __init__(self, *, name: str, default_model: str, secrets: list[str]) -> None:
        self.name = name
        self._default_model = default_model
        self._secrets = secrets  # redacted from the vendor's error messages

    @property
    def default_model(self) -> str:
        return self._default_model

    def capabilities(self, model: str) -> ModelCapabilities:
        return capabilities_for(self.family, model)
