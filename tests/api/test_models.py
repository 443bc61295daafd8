"""GET /api/v1/models through the app: configured providers, models, capabilities."""

from __future__ import annotations

from collections.abc import Callable

from llm_platform.core.config import Settings
from llm_platform.providers.local import runtime_available
from tests.conftest import start_client
from tests.support.fake_servers import OPENAI_TEST_KEY, FakeOpenAI


async def test_models_lists_configured_providers(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    settings = make_settings(
        OPENAI_API_KEY=OPENAI_TEST_KEY,
        OPENAI_BASE_URL=fake_openai.base_url,
        MODEL_ALLOWLIST=["openai:*", "local:*"],
    )
    async for client in start_client(settings):
        response = await client.get("/api/v1/models")
        assert response.status_code == 200
        body = response.json()
        assert body["default_provider"] == "openai"
        providers = {p["name"]: p for p in body["providers"]}
        assert providers["openai"]["configured"] is True
        assert providers["anthropic"] == {
            "name": "anthropic",
            "configured": False,
            "hint": "set ANTHROPIC_API_KEY",
        }
        models = {(m["provider"], m["model"]): m for m in body["models"]}
        assert models[("openai", "o4-mini")]["capabilities"]["reasoning"] is True
        assert models[("openai", "gpt-5-mini")]["default"] is True
        if runtime_available():
            local = models[("local", "smollm2-135m-instruct")]
            assert local["default"] is True and local["capabilities"]["streaming"] is True
        assert OPENAI_TEST_KEY not in response.text
