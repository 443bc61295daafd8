"""The one error body every 4xx answer carries: `{"detail", "type", "request_id"}`."""

from __future__ import annotations

from typing import Any

import httpx


def assert_error(r: httpx.Response, status: int, type_: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) >= {"detail", "type", "request_id"}, body
    assert body["request_id"] == r.headers["x-request-id"]
    assert isinstance(body["detail"], str) and body["detail"]
    if type_ is not None:
        assert body["type"] == type_, body
    return body
