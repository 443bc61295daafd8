"""A server where nothing can answer (no key, no embedded model) says what to do."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import llm_platform.providers.local as local
from llm_platform.core.config import Settings
from tests.conftest import app_client


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_chat_without_any_provider_names_what_to_install_or_set(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local, "bundled_model_path", lambda: None)  # a wheel without [local]
    async with app_client(make_settings()) as client:
        r = await client.post("/api/v1/query", json={"user_id": "u1", "query": "Hello"})
        assert r.status_code == 400, r.text
        body = r.json()
        assert body["type"] == "provider_not_configured"
        assert "pip install 'llm-platform[local]'" in body["detail"]
        assert "OPENAI_API_KEY" in body["detail"]
        models = (await client.get("/api/v1/models")).json()
        assert models["default_provider"] is None and models["models"] == []
