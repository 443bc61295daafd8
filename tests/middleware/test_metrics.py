"""Prometheus metrics at /metrics (ENABLE_METRICS): requests and latency by route and status."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from llm_platform.core.config import Settings
from tests.conftest import AppClient, app_client, staff_headers


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_off_by_default(client: AppClient) -> None:
    assert (await client.get("/metrics")).status_code == 404


async def test_requests_and_latency_by_route_template_and_status(
    make_settings: Callable[..., Settings],
) -> None:
    async with app_client(make_settings(ENABLE_METRICS=True)) as client:
        await client.post("/api/v1/sessions", json={"session_id": "s1", "user_id": "u"})
        for sid in ("s1", "s1", "missing-1", "missing-2"):
            await client.get(f"/api/v1/sessions/{sid}")
        await client.get("/no/such/page-1")
        await client.get("/no/such/page-2")
        await client.delete("/api/v1/events")
        r = await client.get("/metrics", headers=await staff_headers(client))
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/plain")
        found = samples(r.text)

    route = "/api/v1/sessions/{session_id}"
    assert value(found, "http_requests_total", method="GET", route=route, status="200") == 2
    assert value(found, "http_requests_total", method="GET", route=route, status="404") == 2
    assert (
        value(found, "http_requests_total", method="POST", route="/api/v1/sessions", status="201")
        == 1
    )
    assert value(found, "http_requests_total", method="GET", route="unmatched", status="404") == 2
    assert (
        value(found, "http_requests_total", method="DELETE", route="/api/v1/events", status="405")
        == 1
    )
    assert value(found, "http_request_duration_seconds_count", method="GET", route=route) == 4
    assert value(found, "http_request_duration_seconds_sum", method="GET", route=route) > 0
    # Raw paths never become labels (unbounded series).
    assert not any("missing" in str(key) or "page-1" in str(key) for key in found)
