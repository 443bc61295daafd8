"""OpenTelemetry tracing, an optional extra (`pip install 'llm-platform[otel]'`).

Off by default, and then nothing of OpenTelemetry is imported: the instrumented code
checks a `None` tracer. On when `TRACING=true`, or (with `TRACING` unset) when the standard
variables ask for it: `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
`OTEL_TRACES_EXPORTER` (other than `none`); `OTEL_SDK_DISABLED=true` turns it off. Spans go
to an OTLP/HTTP exporter configured by the standard `OTEL_EXPORTER_OTLP_*` variables
(endpoint, headers, timeout), batched as `OTEL_BSP_*` say; the service is named by
`OTEL_SERVICE_NAME` (default `llm-platform`) and `OTEL_RESOURCE_ATTRIBUTES`.

One trace per request: the HTTP server span (FastAPI instrumentation), `query.plan`,
`rag.retrieve`, the model call (`chat {model}`, GenAI semantic conventions plus
`llm_platform.query_id`) and the SQLAlchemy statements run for the request.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llm_platform.core.config import Settings
from llm_platform.core.logging import get_logger

if TYPE_CHECKING:
    from fastapi import FastAPI

log = get_logger("llm_platform.tracing")

# Requests not worth a trace (probes and scrapes).
EXCLUDED_URLS = "/metrics,/api/v1/health"


def tracing_wanted(settings: Settings, environ: dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if settings.TRACING is not None:
        return settings.TRACING
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    return bool(
        exporter
        or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


@dataclass
class Tracing:
    """The app's tracer provider and tracer (both OpenTelemetry objects)."""

    provider: Any
    tracer: Any

    def instrument_engine(self, engine: Any) -> None:
        """Spans for the statements of this SQLAlchemy engine (async: its sync core).

        The instrumentation's engine tracer is attached per engine (its instrumentor is a
        process-wide singleton, and declares SQLAlchemy < 2.1 although the engine events it
        hooks are unchanged in 2.1; tested in tests/core/test_tracing.py)."""
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
        from opentelemetry.metrics import NoOpMeterProvider

        usage = NoOpMeterProvider().get_meter("llm_platform").create_up_down_counter("unused")
        tracer = self.provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
        EngineTracer(tracer, getattr(engine, "sync_engine", engine), usage)

    def shutdown(self) -> None:
        self.provider.shutdown()  # exports what is still batched


def setup_tracing(settings: Settings, app: FastAPI) -> Tracing | None:
    """Build the tracer provider and instrument the app, if tracing is wanted and installed."""
    if not tracing_wanted(settings):
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning(
            "tracing_unavailable",
            reason="OpenTelemetry is not installed: pip install 'llm-platform[otel]'",
        )
        return None
    from llm_platform import __version__

    name = os.environ.get("OTEL_SERVICE_NAME") or "llm-platform"
    resource = Resource.create({"service.name": name, "service.version": __version__})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=EXCLUDED_URLS,
        exclude_spans=["receive", "send"],
    )
    log.info("tracing_enabled", service=name)
    return Tracing(provider=provider, tracer=provider.get_tracer("llm_platform", __version__))
