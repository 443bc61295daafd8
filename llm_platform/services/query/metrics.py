"""Prometheus collectors for model calls (registered on the app's metrics registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class QueryMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "llm_model_calls_total",
            "Model calls by outcome",
            ["provider", "model", "status"],
            registry=registry,
        )
        self.tokens = Counter(
            "llm_tokens_total",
            "Tokens by kind (input, output, reasoning, cached)",
            ["provider", "model", "kind"],
            registry=registry,
        )
        self.latency = Histogram(
            "llm_model_call_duration_seconds",
            "Model call duration",
            ["provider", "model"],
            registry=registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
        )
        self.ttft = Histogram(
            "llm_time_to_first_token_seconds",
            "Time to first token",
            ["provider", "model"],
            registry=registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.retries = Counter(
            "llm_provider_retries_total",
            "Retries before the first token",
            ["provider", "error"],
            registry=registry,
        )
        self.active_streams = Gauge(
            "llm_active_streams", "Generations running in this process", registry=registry
        )
