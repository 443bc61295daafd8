"""One adapter for every OpenAI-compatible server, through the `openai` SDK and a base URL.

Flavors differ only in small ways:
  * `deepseek`: `deepseek-reasoner` streams `reasoning_content`; no effort knob.
  * `openrouter`: `reasoning` / `reasoning_details` deltas; effort goes in `reasoning.effort`.
  * `generic` (Ollama, vLLM, llama.cpp server, LM Studio, proxies): reasoning in
    `reasoning_content` / `reasoning` when the server parses it, otherwise inline
    `<think>…</think>` in the text, split out by `ThinkTagSplitter`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

from llm_platform.providers.base import ChatRequest, StreamEvent
from llm_platform.providers.capabilities import CatalogProvider
from llm_platform.providers.openai import make_client
from llm_platform.providers.openai_chat import (
    chat_completion_events,
    chat_messages,
    openai_error_mapper,
    tool_params,
)
from llm_platform.providers.streaming import guarded_stream

Flavor = Literal["deepseek", "openrouter", "generic"]

# Local servers usually take no key, but the SDK insists on one.
NO_KEY = "not-needed"


class OpenAICompatibleProvider(CatalogProvider):
    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        api_key: str | None = None,
        default_model: str,
        models: list[str] | None = None,
        flavor: Flavor = "generic",
        connect_timeout: float = 10.0,
        request_timeout: float = 600.0,
        max_connections: int = 256,
    ) -> None:
        super().__init__(
            name=name, default_model=default_model, secrets=[api_key] if api_key else []
        )
        self.flavor: Flavor = flavor
        self.family = {"deepseek": "deepseek", "openrouter": "openrouter"}.get(flavor, "open")
        self.base_url = base_url
        self.configured_models = list(models or [])
        self.client = make_client(
            api_key or NO_KEY,
            base_url,
            connect_timeout=connect_timeout,
            request_timeout=request_timeout,
            max_connections=max_connections,
        )

    def chat_params(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {"model": request.model, "messages": chat_messages(request)}
        if request.max_tokens is not None:
            params["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            params["temperature"] = request.temperature
        effort = request.reasoning_effort
        if effort is not None:
            if self.flavor == "openrouter":
                params["reasoning"] = {"effort": effort}
            elif self.flavor == "generic":
                params["reasoning_effort"] = effort
        # DeepSeek has JSON mode only; the others (OpenRouter, Ollama, vLLM, llama.cpp
        # server) take a `json_schema` response format.
        params.update(tool_params(request, json_schema=self.flavor != "deepseek"))
        return params

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        mapper = openai_error_mapper(self.name, request.model, self._secrets)
        events = chat_completion_events(
            self.client,
            self.chat_params(request),
            split_think_tags=self.flavor == "generic",
            stream=request.stream,
        )
        return guarded_stream(events, mapper)

    async def list_models(self) -> list[str]:
        models = [m.id async for m in self.client.models.list()]
        return sorted(models)

    async def aclose(self) -> None:
        await self.client.close()
