"""Cost of a model call from the configured price table (USD per million tokens)."""

from __future__ import annotations

from llm_platform.core.config import ModelPrice


def call_cost(
    prices: dict[str, ModelPrice],
    provider: str,
    model: str,
    *,
    input_tokens: int | None,
    output_tokens: int | None,
    cached_tokens: int | None = None,
) -> float | None:
    """None when the model has no known price or the call reported no usage: unknown, not 0."""
    price = prices.get(f"{provider}:{model}")
    if price is None or input_tokens is None or output_tokens is None:
        return None
    cached = min(cached_tokens or 0, input_tokens)
    cached_rate = price.cached_input if price.cached_input is not None else price.input
    total = (
        (input_tokens - cached) * price.input + cached * cached_rate + output_tokens * price.output
    )
    return round(total / 1_000_000, 8)
