"""OpenTelemetry tracing against an in-process OTLP/HTTP receiver: one trace per request
through planning, the model call (GenAI attributes, query id) and the database."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from llm_platform.core.config import Settings
from llm_platform.core.tracing import tracing_wanted
from tests.conftest import app_client


class Receiver:
    """An OTLP/HTTP trace receiver: decodes each ExportTraceServiceRequest into spans."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.paths.append(self.path)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource_spans in request.resource_spans:
                    service = {
                        a.key: _value(a.value) for a in resource_spans.resource.attributes
                    }.get("service.name")
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            receiver.spans.append(
                                {
                                    "name": span.name,
                                    "trace_id": span.trace_id.hex(),
                                    "span_id": span.span_id.hex(),
                                    "parent": span.parent_span_id.hex(),
                                    "service": service,
                                    "attributes": {a.key: _value(a.value) for a in span.attributes},
                                }
                            )
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def named(self, prefix: str) -> list[dict[str, Any]]:
        return [s for s in self.spans if s["name"].startswith(prefix)]


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    found = Receiver()
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{found.port}")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "llm-platform-test")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    yield found
    found.server.shutdown()
    found.server.server_close()


def test_tracing_is_off_unless_asked_for() -> None:
    settings = Settings(_env_file=None)
    assert not tracing_wanted(settings, {})
    assert tracing_wanted(settings, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert tracing_wanted(settings, {"OTEL_TRACES_EXPORTER": "otlp"})
    assert not tracing_wanted(settings, {"OTEL_TRACES_EXPORTER": "none"})
    on = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_SDK_DISABLED": "true"}
    assert not tracing_wanted(settings, on)
    assert tracing_wanted(Settings(_env_file=None, TRACING=True), {})
    assert not tracing_wanted(Settings(_env_file=None, TRACING=False), on)


async def test_a_query_is_one_trace_with_genai_attributes(
    make_settings: Callable[..., Settings], receiver: Receiver
) -> None:
    settings = make_settings(ENABLE_SCRIPTED_PROVIDER=True)
    body = {
        "query": "hello tracing",
        "model_provider": "scripted",
        "model_name": "echo",
        "user_id": "tracer",
        "session_id": "traced-session",
    }
    async with app_client(settings) as client:
        r = await client.post("/api/v1/query", json=body)
        assert r.status_code == 200, r.text
        query_id = r.json()["query_id"]
        r = await client.post("/api/v1/query/stream", json={**body, "query": "and a stream"})
        assert r.status_code == 200 and "event: done" in r.text
        stream_query = r.headers["x-query-id"]
    # The app's shutdown flushed its spans to the receiver.
    assert receiver.paths and set(receiver.paths) == {"/v1/traces"}
    calls = {s["attributes"]["llm_platform.query_id"]: s for s in receiver.named("chat ")}
    assert set(calls) == {query_id, stream_query}
    for call in calls.values():
        attrs = call["attributes"]
        assert call["name"] == "chat echo" and call["service"] == "llm-platform-test"
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.system"] == "scripted"
        assert attrs["gen_ai.request.model"] == "echo"
        assert attrs["gen_ai.response.model"] == "echo"
        assert attrs["gen_ai.usage.input_tokens"] > 0
        assert attrs["gen_ai.usage.output_tokens"] > 0
        assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    # One trace per request: the HTTP server span, the planning (with its database read)
    # and the model call share it.
    for query in (query_id, stream_query):
        trace = calls[query]["trace_id"]
        in_trace = [s for s in receiver.spans if s["trace_id"] == trace]
        names = {s["name"] for s in in_trace}
        assert any(n.startswith("POST /api/v1/query") for n in names), names
        assert "query.plan" in names and "rag.retrieve" in names
        assert any(
            "db.system" in s["attributes"] or "db.system.name" in s["attributes"] for s in in_trace
        ), names
        roots = [s for s in in_trace if not s["parent"]]
        assert len(roots) == 1 and roots[0]["name"].startswith("POST /api/v1/query")
