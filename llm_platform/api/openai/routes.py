"""OpenAI-compatible facade: `POST /v1/chat/completions` and `GET /v1/models`.

Existing OpenAI clients point their base URL at `<server>/v1` and name models
`"provider:model"`. Calls go through the same query service (validation, experiments,
resilience, logging) as `/api/v1/query`; errors come back in OpenAI's error body shape.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError

from llm_platform.api.json_body import JSONRoute
from llm_platform.api.v1.query import Context, plan_query
from llm_platform.core.errors import AppError, BadRequest
from llm_platform.core.security import Principal
from llm_platform.schemas.openai import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    ChatMessageIn,
    Choice,
    CompletionTokensDetails,
    CompletionUsage,
    ModelCard,
    ModelList,
    OpenAIErrorBody,
    PromptTokensDetails,
)
from llm_platform.schemas.query import Attachment, HistoryMessage, QueryRequest, Usage
from llm_platform.services.query import service as query_service
from llm_platform.services.streams.formats import SSE_HEADERS, sse_stream
from llm_platform.services.streams.frames import Frame


class OpenAIRoute(JSONRoute):
    """Strict JSON bodies (as every API route), and every error in OpenAI's shape:
    `{"error": {message, type, param, code}}`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except AppError as exc:
                return _error(exc.status_code, exc.detail, exc.type, exc.headers)
            except (ValidationError, RequestValidationError) as exc:
                return _error(400, _first_error(list(exc.errors())), "invalid_request")

        return route


def _first_error(errors: list[Any]) -> str:
    if not errors:
        return "Invalid request"
    first = errors[0]
    loc = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
    return f"{loc}: {first.get('msg', 'invalid')}"


router = APIRouter(prefix="/v1", tags=["openai-compatible"], route_class=OpenAIRoute)


def _error(
    status: int, message: str, code: str | None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(OpenAIErrorBody.of(status, message, code), status, headers=headers)


def _text(message: ChatMessageIn) -> str:
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    return "".join(part.text or "" for part in message.content if part.type == "text")


def _images(message: ChatMessageIn) -> list[Attachment]:
    if message.content is None or isinstance(message.content, str):
        return []
    out = []
    for part in message.content:
        if part.type == "image_url" and part.image_url is not None:
            if not part.image_url.url.startswith("data:"):
                raise BadRequest("Only data: URLs are accepted for images (nothing is fetched)")
            out.append(Attachment(type="image", base64=part.image_url.url))
    return out


def to_query_request(body: ChatCompletionRequest, user_id: str | None) -> QueryRequest:
    if body.tools or body.functions:
        raise BadRequest("tools: tool calling is not supported by this gateway yet")
    if body.n is not None and body.n > 1:
        raise BadRequest("n: only one choice per request is supported")
    last = body.messages[-1]
    if last.role != "user":
        raise BadRequest("messages: the last message must have role 'user'")
    system = "\n\n".join(_text(m) for m in body.messages if m.role in ("system", "developer"))
    history = [
        HistoryMessage(role="user" if m.role == "user" else "assistant", content=_text(m))
        for m in body.messages[:-1]
        if m.role in ("user", "assistant")
    ]
    provider, _, model = body.model.partition(":") if ":" in body.model else ("", "", body.model)
    return QueryRequest(
        user_id=user_id,
        query=_text(last) or " ",
        model_provider=provider or None,
        model_name=model or None,
        system=system or None,
        history=history,
        attachments=_images(last),
        temperature=body.temperature,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        reasoning_effort=body.reasoning_effort,
        use_rag=body.use_rag if body.use_rag is not None else (None if body.file_ids else False),
        file_ids=body.file_ids,
    )


def _acting_user(user: Principal, body: ChatCompletionRequest) -> str:
    if user.user_id is None and body.user is None:
        return "anonymous"
    return user.acting_user(body.user)


def _usage(usage: Usage) -> CompletionUsage:
    prompt = usage.input_tokens or 0
    completion = usage.output_tokens or 0
    return CompletionUsage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=usage.cached_tokens or 0),
        completion_tokens_details=CompletionTokensDetails(
            reasoning_tokens=usage.reasoning_tokens or 0
        ),
    )


@router.post("/chat/completions", response_model=None)
async def chat_completions(body: ChatCompletionRequest, ctx: Context, http: Request) -> Response:
    """Chat Completions; `X-Session-ID` ties the call to a study session."""
    runtime = ctx.runtime
    request = to_query_request(body, _acting_user(ctx.user, body))
    session_id = http.headers.get("x-session-id")
    if session_id:
        request = QueryRequest.model_validate({**request.model_dump(), "session_id": session_id})
    plan = await plan_query(ctx, request)
    if not body.stream:
        plan.answer_at_once()
        result = await query_service.run_once(runtime, plan)
        if result.status == "error" and result.error_exc is not None:
            raise result.error_exc
        completion = ChatCompletion(
            id=f"chatcmpl-{plan.query_id}",
            created=int(plan.created_wall),
            model=f"{result.provider}:{result.model}",
            choices=[
                Choice(
                    message=AssistantMessage(
                        content=result.text, reasoning_content=result.reasoning or None
                    ),
                    finish_reason=_finish_reason(result.status, result.finish_reason),
                )
            ],
            usage=_usage(result.usage),
            citations=result.citations or None,
        )
        return Response(
            orjson.dumps(completion.model_dump(exclude_none=True)),
            media_type="application/json",
            headers={"X-Query-ID": plan.query_id},
        )
    stream_id = query_service.start_stream(runtime, plan)
    head, frames = await query_service.open_stream(runtime, stream_id, wait_first=True)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    encoder = _ChunkEncoder(
        f"chatcmpl-{plan.query_id}", int(plan.created_wall), plan.primary.name, include_usage
    )
    return StreamingResponse(
        sse_stream(head, frames, encoder.encode),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, "X-Stream-ID": stream_id, "X-Query-ID": plan.query_id},
    )


def _finish_reason(status: str, reason: str | None) -> str:
    if status != "ok":
        return "stop" if status == "cancelled" else "error"
    return reason if reason in ("stop", "length", "tool_calls", "content_filter") else "stop"


class _ChunkEncoder:
    """Stream frames as `chat.completion.chunk` SSE lines (JSON prefix encoded once)."""

    def __init__(self, chunk_id: str, created: int, model: str, include_usage: bool) -> None:
        self.prefix = (
            b'data: {"id":'
            + orjson.dumps(chunk_id)
            + b',"object":"chat.completion.chunk","created":'
            + str(created).encode()
            + b',"model":'
            + orjson.dumps(model)
        )
        self.include_usage = include_usage

    def chunk(self, delta: dict[str, str], finish: str | None = None) -> bytes:
        return (
            self.prefix
            + b',"choices":[{"index":0,"delta":'
            + orjson.dumps(delta)
            + b',"finish_reason":'
            + orjson.dumps(finish)
            + b"}]}\n\n"
        )

    def encode(self, frame: Frame) -> bytes | None:
        data = frame.data
        kind = frame.type
        if kind == "token":
            return self.chunk({"content": data["content"]})
        if kind == "thought":
            return self.chunk({"reasoning_content": data["content"]})
        if kind == "start":
            return self.chunk({"role": "assistant", "content": ""})
        if kind == "done":
            meta = data["metadata"]
            out = self.chunk({}, _finish_reason(meta["status"], meta.get("finish_reason")))
            if self.include_usage:
                usage = _usage(Usage.model_validate(meta["tokens"])).model_dump()
                out += self.prefix + b',"choices":[],"usage":' + orjson.dumps(usage) + b"}\n\n"
            return out
        if kind == "error":
            body = OpenAIErrorBody.of(
                int(data.get("http_status") or 502), str(data.get("error")), data.get("code")
            )
            return b"data: " + orjson.dumps(body) + b"\n\n"
        if kind == "citation":  # before the first token: a platform extension field
            return (
                self.prefix
                + b',"choices":[{"index":0,"delta":{},"finish_reason":null}],"citations":['
                + orjson.dumps(data["citation"])
                + b"]}\n\n"
            )
        return None  # usage frames: usage comes with `done`


@router.get("/models", response_model=ModelList)
async def list_models(ctx: Context) -> ModelList:
    models = await ctx.runtime.registry.list_models()
    return ModelList(
        data=[ModelCard(id=f"{m.provider}:{m.model}", owned_by=m.provider) for m in models]
    )
