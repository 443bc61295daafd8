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
from llm_platform.api.openai.stream import ChunkEncoder, completion_usage, finish_reason
from llm_platform.api.v1.query import Context
from llm_platform.core.errors import AppError, BadRequest
from llm_platform.core.security import Principal
from llm_platform.schemas.openai import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    ChatMessageIn,
    Choice,
    FunctionCall,
    ModelCard,
    ModelList,
    OpenAIErrorBody,
    ToolCall,
)
from llm_platform.schemas.query import (
    Attachment,
    HistoryMessage,
    QueryRequest,
    ToolCallRecord,
    ToolDefinition,
)
from llm_platform.services.query import service as query_service
from llm_platform.services.query.service import PlanOptions
from llm_platform.services.streams.formats import SSE_HEADERS, sse_stream


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


def _history(message: ChatMessageIn) -> HistoryMessage:
    calls = [
        ToolCallRecord(id=c.id, name=c.function.name, arguments=c.function.arguments)
        for c in message.tool_calls or []
    ]
    return HistoryMessage.model_validate(
        {
            "role": message.role,  # user, assistant or tool (system messages join `system`)
            "content": _text(message),
            "tool_calls": calls,
            "tool_call_id": message.tool_call_id if message.role == "tool" else None,
            "name": message.name if message.role == "tool" else None,
        }
    )


def _tools(body: ChatCompletionRequest) -> tuple[list[ToolDefinition], str | None]:
    tools = [
        ToolDefinition(
            name=t.function.name,
            description=t.function.description or "",
            parameters=t.function.parameters or {"type": "object", "properties": {}},
        )
        for t in body.tools or []
    ]
    choice = body.tool_choice
    return tools, choice if isinstance(choice, str) or choice is None else choice.function.name


LAST_MESSAGE = (
    "messages: the last message must have role 'user', or 'tool' (the results of the "
    "assistant's tool calls that follow the last user message)"
)


def to_query_request(body: ChatCompletionRequest, user_id: str | None) -> QueryRequest:
    if body.functions:
        raise BadRequest("functions: deprecated; declare them as `tools`")
    if body.n is not None and body.n > 1:
        raise BadRequest("n: only one choice per request is supported")
    # The turn: the last user message, then (after tool calls) the calls and their results.
    turn = max((i for i, m in enumerate(body.messages) if m.role == "user"), default=None)
    rounds = body.messages[turn + 1 :] if turn is not None else body.messages
    for index, message in enumerate(rounds, start=len(body.messages) - len(rounds)):
        if message.role == "tool":
            if not message.tool_call_id:
                raise BadRequest(f"messages.{index}: a tool message needs its tool_call_id")
        elif message.role != "assistant" or not message.tool_calls:
            raise BadRequest(LAST_MESSAGE)
    if turn is None or (rounds and rounds[-1].role != "tool"):
        raise BadRequest(LAST_MESSAGE)
    last = body.messages[turn]
    system = "\n\n".join(_text(m) for m in body.messages if m.role in ("system", "developer"))
    history = [_history(m) for m in body.messages[:turn] if m.role in ("user", "assistant", "tool")]
    tools, tool_choice = _tools(body)
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
        tools=tools,
        tool_choice=tool_choice,
        parallel_tool_calls=body.parallel_tool_calls,
        tool_rounds=[_history(m) for m in rounds],
        # A gateway: a plain model call unless the caller asks for the agents.
        agent_mode=body.agent_mode or "off",
    )


def _acting_user(user: Principal, body: ChatCompletionRequest) -> str:
    if user.user_id is None and body.user is None:
        return "anonymous"
    return user.acting_user(body.user)


@router.post("/chat/completions", response_model=None)
async def chat_completions(body: ChatCompletionRequest, ctx: Context, http: Request) -> Response:
    """Chat Completions; `X-Session-ID` ties the call to a study session."""
    runtime = ctx.runtime
    request = to_query_request(body, _acting_user(ctx.user, body))
    session_id = http.headers.get("x-session-id")
    if session_id:
        request = QueryRequest.model_validate({**request.model_dump(), "session_id": session_id})
    plan = await query_service.prepare(
        runtime, ctx.user, request, PlanOptions(at_once=not body.stream)
    )
    if not body.stream:
        result = await query_service.answer(runtime, plan)
        calls = [
            ToolCall(id=c.id, function=FunctionCall(name=c.name, arguments=c.arguments))
            for c in result.tool_calls
        ]
        message = AssistantMessage(
            content=result.text if result.text or not calls else None,
            reasoning_content=result.reasoning or None,
            tool_calls=calls or None,
        )
        completion = ChatCompletion(
            id=f"chatcmpl-{plan.query_id}",
            created=int(plan.created_wall),
            model=f"{result.provider}:{result.model}",
            choices=[
                Choice(
                    message=message,
                    finish_reason=finish_reason(result.status, result.finish_reason),
                )
            ],
            usage=completion_usage(result.usage),
            citations=result.citations or None,
        )
        data = completion.model_dump(exclude_none=True)
        data["choices"][0]["message"]["content"] = message.content  # null with tool calls
        return Response(
            orjson.dumps(data),
            media_type="application/json",
            headers={"X-Query-ID": plan.query_id},
        )
    opened = await query_service.stream(runtime, plan)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    encoder = ChunkEncoder(
        f"chatcmpl-{plan.query_id}", int(plan.created_wall), plan.primary.name, include_usage
    )
    return StreamingResponse(
        sse_stream(opened.head, opened.frames, encoder.encode),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, "X-Stream-ID": opened.stream_id, "X-Query-ID": plan.query_id},
    )


@router.get("/models", response_model=ModelList)
async def list_models(ctx: Context) -> ModelList:
    models = await ctx.runtime.registry.list_models()
    return ModelList(
        data=[ModelCard(id=f"{m.provider}:{m.model}", owned_by=m.provider) for m in models]
    )
