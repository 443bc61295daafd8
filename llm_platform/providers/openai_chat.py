"""Chat Completions streaming through the `openai` SDK, shared by OpenAI itself and every
OpenAI-compatible server (DeepSeek, OpenRouter, Ollama, vLLM, llama.cpp server, LM Studio).

Reasoning arrives in different places depending on who serves the model:
`delta.reasoning_content` (DeepSeek, vLLM, llama.cpp server), `delta.reasoning` and
`delta.reasoning_details` (OpenRouter, Ollama), or inline `<think>…</think>` in the content
(servers without a reasoning parser). All of them become `ReasoningDelta`s.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from typing import Any

import openai
from openai import AsyncOpenAI

from llm_platform.providers.base import (
    ChatMessage,
    ChatRequest,
    DoneEvent,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    UsageEvent,
)
from llm_platform.providers.error_mapping import (
    error_for_status,
    scrub,
    transport_error,
    unexpected_error,
)
from llm_platform.providers.errors import (
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from llm_platform.providers.streaming import ErrorMapper
from llm_platform.providers.think_tags import ThinkTagSplitter

_FINISH = {"stop": "stop", "length": "length", "content_filter": "content_filter"}


def normalize_finish(reason: str | None) -> str | None:
    if reason is None:
        return None
    return _FINISH.get(
        reason, "tool_calls" if reason in ("tool_calls", "function_call") else reason
    )


def data_url(mime: str, data_b64: str) -> str:
    return f"data:{mime};base64,{data_b64}"


def chat_messages(request: ChatRequest, *, system_role: str = "system") -> list[dict[str, Any]]:
    """The request as Chat Completions messages (images as data-URL `image_url` parts)."""
    out: list[dict[str, Any]] = []
    if request.system:
        out.append({"role": system_role, "content": request.system})
    for message in request.messages:
        out.append(_chat_message(message, system_role))
    return out


def _chat_message(message: ChatMessage, system_role: str) -> dict[str, Any]:
    role = system_role if message.role == "system" else message.role
    if not message.images or message.role != "user":
        return {"role": role, "content": message.content}
    parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}]
    parts.extend(
        {"type": "image_url", "image_url": {"url": data_url(image.mime, image.data_b64)}}
        for image in message.images
    )
    return {"role": role, "content": parts}


def usage_event(usage: Any) -> UsageEvent:
    """`CompletionUsage` (plus DeepSeek's `prompt_cache_hit_tokens`) as a usage event.
    `output_tokens` includes reasoning tokens, as vendors bill them."""
    completion = getattr(usage, "completion_tokens_details", None)
    prompt = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(prompt, "cached_tokens", None) if prompt is not None else None
    if cached is None:
        cached = getattr(usage, "prompt_cache_hit_tokens", None)
    reasoning = getattr(completion, "reasoning_tokens", None) if completion is not None else None
    return UsageEvent(
        input_tokens=getattr(usage, "prompt_tokens", None),
        output_tokens=getattr(usage, "completion_tokens", None),
        reasoning_tokens=reasoning,
        cached_tokens=cached,
    )


def reasoning_from_delta(delta: Any) -> list[ReasoningDelta]:
    """Reasoning carried by a chunk's delta, whichever field the server uses.

    OpenRouter sends the same text in `reasoning` and `reasoning_details`; the plain string
    fields win so nothing is doubled, `reasoning_details` is read only when they are empty.
    """
    for field in ("reasoning_content", "reasoning"):
        value = getattr(delta, field, None)
        if isinstance(value, str) and value:
            return [ReasoningDelta(text=value)]
    details = getattr(delta, "reasoning_details", None)
    out: list[ReasoningDelta] = []
    for item in details if isinstance(details, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        text = item.get("text") if kind == "reasoning.text" else None
        if kind == "reasoning.summary":
            text = item.get("summary")
        signature = item.get("signature") if isinstance(item.get("signature"), str) else None
        if (isinstance(text, str) and text) or signature:
            out.append(ReasoningDelta(text=text or "", signature=signature))
    return out


async def chat_completion_events(
    client: AsyncOpenAI,
    params: dict[str, Any],
    *,
    split_think_tags: bool,
) -> AsyncGenerator[StreamEvent, None]:
    """Stream one Chat Completions call as events; closes the response when stopped."""
    stream = await client.chat.completions.create(
        **params, stream=True, stream_options={"include_usage": True}
    )
    async with stream:
        splitter = ThinkTagSplitter() if split_think_tags else None
        finish: str | None = None
        usage: UsageEvent | None = None
        async for chunk in stream:
            if chunk.usage is not None:
                usage = usage_event(chunk.usage)
            for choice in chunk.choices[:1]:
                delta = choice.delta
                if delta is not None:
                    for event in reasoning_from_delta(delta):
                        yield event
                    if delta.content:
                        if splitter is None:
                            yield TextDelta(text=delta.content)
                        else:
                            for piece in splitter.feed(delta.content):
                                yield piece
                if choice.finish_reason:
                    finish = choice.finish_reason
        if splitter is not None:
            for piece in splitter.flush():
                yield piece
        if usage is not None:
            yield usage
        yield DoneEvent(finish_reason=normalize_finish(finish))


def _body_error(body: object) -> dict[str, Any]:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return inner
    return {}


def openai_error_mapper(provider: str, model: str, secrets: Iterable[str]) -> ErrorMapper:
    """Map `openai` SDK exceptions (also raised for compatible servers) to provider errors."""
    secret_list = [s for s in secrets if s]

    def to_error(exc: BaseException) -> ProviderError:
        if isinstance(exc, openai.APIStatusError):
            detail = _body_error(exc.body)
            message = detail.get("message") if isinstance(detail.get("message"), str) else None
            return error_for_status(
                provider,
                exc.status_code,
                model=model,
                message=message or exc.message,
                headers=exc.response.headers,
                body=exc.body,
                secrets=secret_list,
            )
        if isinstance(exc, openai.APITimeoutError):
            return ProviderTimeout(provider, f"{provider} did not answer in time")
        if isinstance(exc, openai.APIConnectionError):
            return ProviderUnavailable(provider, f"could not reach {provider}")
        if isinstance(exc, openai.APIError):  # an error event inside a 200 stream
            return stream_error(provider, model, exc.code, exc.message, secret_list)
        return transport_error(provider, exc) or unexpected_error(provider, exc, secret_list)

    return to_error


def stream_error(
    provider: str, model: str, code: str | None, message: str | None, secrets: Iterable[str]
) -> ProviderError:
    """An error reported inside a stream (no HTTP status): classify by its code."""
    said = scrub(message or "stream failed", secrets)
    lowered = (code or "").lower()
    if "rate_limit" in lowered:
        return ProviderRateLimited(provider, f"{provider} rate limit reached: {said}")
    if lowered in ("model_not_found",):
        return error_for_status(provider, 404, model=model, message=said)
    if lowered.startswith("invalid") or lowered in ("context_length_exceeded", "bad_request"):
        return error_for_status(provider, 400, model=model, message=said)
    return ProviderUnavailable(provider, f"{provider} failed mid-stream: {said}")
