"""OpenAI through the official `openai` SDK: Chat Completions and the Responses API.

Which API serves a model (`OPENAI_API_MODE=auto`, the default):
  * the Responses API for reasoning models (o-series, gpt-5 class; see `capabilities.py`),
    because only it streams reasoning summaries (`response.reasoning_summary_text.delta`),
    and for any request that asks for web search on a model that supports it;
  * Chat Completions for everything else (gpt-4o, gpt-4.1, unknown names), the most widely
    supported surface.
`OPENAI_API_MODE=chat` or `=responses` forces one API for every model.

Reasoning summaries need a verified OpenAI organization; an unverified one gets a 400 on
`reasoning.summary`. The adapter then retries once without summaries and stops asking for
them (reasoning is still counted in usage), instead of failing every reasoning request.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Literal

import httpx2
import openai
from openai import AsyncOpenAI
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseErrorEvent,
    ResponseFailedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionToolCall,
    ResponseIncompleteEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputTextAnnotationAddedEvent,
    ResponseReasoningSummaryPartAddedEvent,
    ResponseReasoningSummaryTextDeltaEvent,
    ResponseReasoningTextDeltaEvent,
    ResponseStreamEvent,
    ResponseTextDeltaEvent,
)
from openai.types.responses.response_output_text_annotation_added_event import (
    AnnotationURLCitation,
)

from llm_platform.core.logging import get_logger
from llm_platform.providers.base import (
    ChatRequest,
    CitationEvent,
    DoneEvent,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    UsageEvent,
)
from llm_platform.providers.capabilities import CatalogProvider
from llm_platform.providers.errors import ProviderError
from llm_platform.providers.http_transport import LeanTransport, uses_proxy
from llm_platform.providers.openai_chat import (
    chat_completion_events,
    chat_messages,
    data_url,
    openai_error_mapper,
    stream_error,
    tool_params,
)
from llm_platform.providers.streaming import guarded_stream

log = get_logger("llm_platform.providers.openai")

ApiMode = Literal["auto", "chat", "responses"]
ReasoningSummary = Literal["auto", "concise", "detailed", "none"]

_CHAT_MODEL = re.compile(r"^(gpt-|o\d|chatgpt)")
_NOT_CHAT = re.compile(r"(audio|realtime|tts|transcribe|image|embedding|moderation|search)")


class _ResponseFailed(Exception):
    """`response.failed` / `error` events of a Responses stream."""

    def __init__(self, code: str | None, message: str | None) -> None:
        super().__init__(message or code or "response failed")
        self.code = code
        self.message = message


# Where the SDK sends requests when no base URL is given.
OPENAI_API_URL = "https://api.openai.com/v1"


def make_client(
    api_key: str,
    base_url: str | None,
    *,
    connect_timeout: float,
    request_timeout: float,
    max_connections: int = 256,
) -> AsyncOpenAI:
    """An SDK client without its own retries (the query service owns retry policy), its
    httpx2 client on the lean transport (`http_transport.LeanTransport`): the SDK builds and
    reads every call, the transport moves the bytes, at most `max_connections` sockets to
    the upstream. When the environment's proxy settings apply to the upstream, the SDK's
    stock client instead (it sends through HTTP(S)_PROXY / ALL_PROXY; docs/providers.md)."""
    timeout = openai.Timeout(request_timeout, connect=connect_timeout)
    http_client = None
    if not uses_proxy(base_url or OPENAI_API_URL):
        transport = LeanTransport(max_connections_per_origin=max_connections)
        http_client = httpx2.AsyncClient(timeout=timeout, transport=transport)
    return AsyncOpenAI(
        api_key=api_key,
        base_url=base_url or None,
        max_retries=0,
        timeout=timeout,
        http_client=http_client,
    )


class OpenAIProvider(CatalogProvider):
    family = "openai"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        default_model: str = "gpt-5-mini",
        api_mode: ApiMode = "auto",
        reasoning_summary: ReasoningSummary = "auto",
        connect_timeout: float = 10.0,
        request_timeout: float = 600.0,
        max_connections: int = 256,
        name: str = "openai",
    ) -> None:
        super().__init__(name=name, default_model=default_model, secrets=[api_key])
        self.api_mode: ApiMode = api_mode
        self.reasoning_summary: ReasoningSummary = reasoning_summary
        self._summaries_refused = False
        self.client = make_client(
            api_key,
            base_url,
            connect_timeout=connect_timeout,
            request_timeout=request_timeout,
            max_connections=max_connections,
        )

    def uses_responses_api(self, request: ChatRequest) -> bool:
        if self.api_mode != "auto":
            return self.api_mode == "responses"
        caps = self.capabilities(request.model)
        return caps.reasoning or (request.web_search and caps.web_search)

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        sdk_errors = openai_error_mapper(self.name, request.model, self._secrets)

        def mapper(exc: BaseException) -> ProviderError:
            if isinstance(exc, _ResponseFailed):
                return stream_error(self.name, request.model, exc.code, exc.message, self._secrets)
            return sdk_errors(exc)

        if self.uses_responses_api(request):
            return guarded_stream(self._responses_events(request), mapper)
        events = chat_completion_events(
            self.client, self.chat_params(request), split_think_tags=False, stream=request.stream
        )
        return guarded_stream(events, mapper)

    # ------------------------------------------------------------------ chat completions

    def chat_params(self, request: ChatRequest) -> dict[str, Any]:
        caps = self.capabilities(request.model)
        params: dict[str, Any] = {
            "model": request.model,
            # o-series / gpt-5 take instructions as "developer" messages.
            "messages": chat_messages(
                request, system_role="developer" if caps.reasoning else "system"
            ),
        }
        if request.max_tokens is not None:
            params["max_completion_tokens"] = request.max_tokens
        if request.temperature is not None and not caps.reasoning:
            params["temperature"] = request.temperature
        if request.reasoning_effort is not None and caps.reasoning:
            params["reasoning_effort"] = _effort(request.model, request.reasoning_effort)
        params.update(tool_params(request))
        return params

    # ------------------------------------------------------------------ responses API

    def responses_params(self, request: ChatRequest) -> dict[str, Any]:
        caps = self.capabilities(request.model)
        params: dict[str, Any] = {
            "model": request.model,
            "input": responses_input(request),
            "store": False,
        }
        if request.system:
            params["instructions"] = request.system
        if request.max_tokens is not None:
            params["max_output_tokens"] = request.max_tokens
        if request.temperature is not None and not caps.reasoning:
            params["temperature"] = request.temperature
        if caps.reasoning:
            reasoning: dict[str, Any] = {}
            if request.reasoning_effort is not None:
                reasoning["effort"] = _effort(request.model, request.reasoning_effort)
            if self.reasoning_summary != "none" and not self._summaries_refused:
                reasoning["summary"] = self.reasoning_summary
            if reasoning:
                params["reasoning"] = reasoning
        tools: list[dict[str, Any]] = [
            {
                "type": "function",
                "name": spec.name,
                "description": spec.description,
                "parameters": spec.parameters,
                "strict": False,
            }
            for spec in request.tools
        ]
        if request.web_search and caps.web_search:
            tools.append({"type": "web_search"})
        if tools:
            params["tools"] = tools
        choice = request.tool_choice
        if request.tools and choice in ("auto", "none", "required"):
            params["tool_choice"] = choice
        elif request.tools and choice:
            params["tool_choice"] = {"type": "function", "name": choice}
        if request.tools and request.parallel_tool_calls is not None:
            params["parallel_tool_calls"] = request.parallel_tool_calls
        if request.response_schema is not None:
            params["text"] = {
                "format": {
                    "type": "json_schema",
                    "name": "response",
                    "schema": request.response_schema,
                    "strict": False,
                }
            }
        return params

    async def _responses_events(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        params = self.responses_params(request)
        try:
            stream = await self.client.responses.create(**params, stream=True)
        except openai.BadRequestError as exc:
            if not _refuses_summaries(exc) or "summary" not in params.get("reasoning", {}):
                raise
            self._summaries_refused = True
            log.warning("openai_reasoning_summaries_refused", provider=self.name)
            stream = await self.client.responses.create(
                **self.responses_params(request), stream=True
            )
        async with stream:
            state = ResponsesState()
            async for event in stream:
                for out in state.handle(event):
                    yield out

    # ------------------------------------------------------------------ models

    async def list_models(self) -> list[str]:
        models = [m.id async for m in self.client.models.list()]
        return sorted(m for m in models if _CHAT_MODEL.match(m) and not _NOT_CHAT.search(m))

    async def aclose(self) -> None:
        await self.client.close()


def _effort(model: str, effort: str) -> str:
    """Only the gpt-5 family knows "minimal"; o-series models get "low" instead."""
    return "low" if effort == "minimal" and not model.startswith("gpt-5") else effort


def _refuses_summaries(exc: openai.BadRequestError) -> bool:
    body = exc.body if isinstance(exc.body, dict) else {}
    inner = body.get("error", body)
    return isinstance(inner, dict) and inner.get("param") == "reasoning.summary"


def responses_input(request: ChatRequest) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role == "tool":
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": message.tool_call_id or "",
                    "output": message.content,
                }
            )
        elif message.role == "assistant":
            if message.content:
                items.append({"role": "assistant", "content": message.content})
            items.extend(
                {
                    "type": "function_call",
                    "call_id": call.id,
                    "name": call.name,
                    "arguments": call.arguments,
                }
                for call in message.tool_calls
            )
        elif message.role == "system":
            items.append({"role": "developer", "content": message.content})
        elif message.images:
            parts: list[dict[str, Any]] = [{"type": "input_text", "text": message.content}]
            parts.extend(
                {
                    "type": "input_image",
                    "image_url": data_url(image.mime, image.data_b64),
                    "detail": "auto",
                }
                for image in message.images
            )
            items.append({"role": "user", "content": parts})
        else:
            items.append({"role": "user", "content": message.content})
    return items


def responses_usage(usage: Any) -> UsageEvent:
    inputs = getattr(usage, "input_tokens_details", None)
    outputs = getattr(usage, "output_tokens_details", None)
    return UsageEvent(
        input_tokens=getattr(usage, "input_tokens", None),
        output_tokens=getattr(usage, "output_tokens", None),
        reasoning_tokens=getattr(outputs, "reasoning_tokens", None) if outputs else None,
        cached_tokens=getattr(inputs, "cached_tokens", None) if inputs else None,
    )


class ResponsesState:
    """Responses API stream events to ours. Function calls: `output_item.added` opens one
    (call id, name), `function_call_arguments.delta`s carry its arguments in pieces, and
    `output_item.done` closes it: one `ToolCallEvent` per call, arguments whole."""

    def __init__(self) -> None:
        self.arguments: dict[str, list[str]] = {}
        self.saw_calls = False

    def handle(self, event: ResponseStreamEvent) -> list[StreamEvent]:
        match event:
            case ResponseOutputItemAddedEvent(item=ResponseFunctionToolCall() as item):
                self.arguments[item.id or item.call_id] = [item.arguments or ""]
                return []
            case ResponseFunctionCallArgumentsDeltaEvent():
                self.arguments.setdefault(event.item_id, []).append(event.delta)
                return []
            case ResponseOutputItemDoneEvent(item=ResponseFunctionToolCall() as item):
                pieces = self.arguments.pop(item.id or item.call_id, [])
                self.saw_calls = True
                arguments = item.arguments or "".join(pieces) or "{}"
                return [ToolCallEvent(id=item.call_id, name=item.name, arguments=arguments)]
        events = responses_event(event)
        last = events[-1] if events else None
        if self.saw_calls and isinstance(last, DoneEvent) and last.finish_reason == "stop":
            events[-1] = DoneEvent(finish_reason="tool_calls")
        return events


def responses_event(event: ResponseStreamEvent) -> list[StreamEvent]:
    """One Responses API stream event as zero or more of our events, matched on the SDK's
    event classes (a change there is a type error here)."""
    match event:
        case ResponseReasoningSummaryTextDeltaEvent() | ResponseReasoningTextDeltaEvent():
            return [ReasoningDelta(text=event.delta)] if event.delta else []
        case ResponseReasoningSummaryPartAddedEvent():
            # separate summary paragraphs
            return [ReasoningDelta(text="\n\n")] if event.summary_index else []
        case ResponseTextDeltaEvent():
            return [TextDelta(text=event.delta)] if event.delta else []
        case ResponseOutputTextAnnotationAddedEvent():
            annotation = event.annotation
            if isinstance(annotation, AnnotationURLCitation):
                return [CitationEvent(url=annotation.url, title=annotation.title)]
            return []
        case ResponseCompletedEvent():
            return [*_usage_of(event.response), DoneEvent(finish_reason="stop")]
        case ResponseIncompleteEvent():
            details = event.response.incomplete_details
            reason = details.reason if details is not None else None
            finish = "length" if reason == "max_output_tokens" else (reason or "incomplete")
            return [*_usage_of(event.response), DoneEvent(finish_reason=finish)]
        case ResponseFailedEvent():
            error = event.response.error
            raise _ResponseFailed(
                error.code if error is not None else None,
                error.message if error is not None else None,
            )
        case ResponseErrorEvent():
            raise _ResponseFailed(event.code, event.message)
    return []


def _usage_of(response: Response) -> list[StreamEvent]:
    return [responses_usage(response.usage)] if response.usage is not None else []
