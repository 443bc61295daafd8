"""The original client's query routes, on the v1 query service.

`POST /api/v1/query/stream` is also the v1 route's path. `LegacyFormatRoute` claims it only
for requests that want the old format (`?format=legacy`, or no `format` while
`LEGACY_CLIENT_COMPAT` is on); every other request falls through to the v1 endpoint, which
knows nothing of the old client. Both prepare and run with the same query service: only
the request mapping and the stream's wire format differ.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from starlette.routing import Match
from starlette.types import Scope

from llm_platform.api.json_body import JSONRoute
from llm_platform.api.legacy.schemas import LegacyQueryRequest, LegacyQueryResponse
from llm_platform.api.legacy.stream import LegacyStreamEncoder, memory_context
from llm_platform.api.v1.query import Context, QueryContext
from llm_platform.providers.registry import ProviderRegistry
from llm_platform.schemas.query import QueryRequest
from llm_platform.schemas.sessions import SessionStart
from llm_platform.services import sessions as session_service
from llm_platform.services.query import service as query_service
from llm_platform.services.query.planning import QueryPlan
from llm_platform.services.query.service import PlanOptions
from llm_platform.services.streams.formats import SSE_HEADERS, sse_stream
from llm_platform.services.streams.frames import Frame, NoticeFrame

StreamFormat = Annotated[
    Literal["platform", "legacy"] | None,
    Query(description="Stream format; default: `legacy` when LEGACY_CLIENT_COMPAT is on"),
]


def wants_legacy(scope: Scope) -> bool:
    formats = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("format")
    if formats:
        # Anything but "platform" is ours: "legacy", or a bad value the handler answers 422.
        return formats[-1] != "platform"
    state = getattr(scope["app"].state, "platform", None)
    return bool(state is not None and state.settings.LEGACY_CLIENT_COMPAT)


class LegacyFormatRoute(JSONRoute):
    """A route that matches only requests wanting the legacy stream format."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE and not wants_legacy(scope):
            return Match.NONE, {}
        return match, child


# Mounted before the v1 API: its routes shadow v1 routes of the same path.
router = APIRouter(tags=["legacy client"], route_class=JSONRoute)
stream_router = APIRouter(route_class=LegacyFormatRoute, tags=["legacy client"])


@stream_router.post(
    "/api/v1/query/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
    include_in_schema=False,
)
async def legacy_query_stream(
    payload: LegacyQueryRequest, ctx: Context, format: StreamFormat = None
) -> StreamingResponse:
    """`data: {"type": "status"|"chunk"|"node"|"final"|"error", ...}` lines, `data: [DONE]`."""
    plan, notices = await legacy_plan(ctx, payload)
    opened = await query_service.stream(ctx.runtime, plan)
    lead = [Frame.of(0, NoticeFrame(message)) for message in notices]
    return StreamingResponse(
        sse_stream([*lead, *opened.head], opened.frames, LegacyStreamEncoder().encode),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, "X-Stream-ID": opened.stream_id, "X-Query-ID": plan.query_id},
    )


@router.post("/api/v1/query/", response_model=LegacyQueryResponse)
async def legacy_query(payload: LegacyQueryRequest, ctx: Context) -> LegacyQueryResponse:
    """The whole answer at once: the v1 answer plus the agents' `product_cards`, `options`
    and `memory_context`, and `notices`."""
    plan, notices = await legacy_plan(ctx, payload)
    result = await query_service.answer(ctx.runtime, plan)
    answer = query_service.to_response(result)
    turn = result.agents
    if turn is None:
        return LegacyQueryResponse(**answer.model_dump(), notices=notices)
    memory = turn.memory
    return LegacyQueryResponse(
        **answer.model_dump(),
        notices=notices,
        product_cards=turn.products,
        options=list(turn.options.options) if turn.options is not None else [],
        memory_context=memory_context(memory) if memory is not None else {},
    )


# --------------------------------------------------------------------------- mapping


async def legacy_plan(
    ctx: QueryContext, payload: LegacyQueryRequest
) -> tuple[QueryPlan, list[str]]:
    """The v1 plan for an old client's request, and what was changed to serve it."""
    registry = ctx.runtime.registry
    provider, model, notices = await choose_model(
        registry, payload.model_provider, payload.model_name
    )
    if payload.session_id:
        # Started here if need be; one its events opened before its start is claimed now.
        start = SessionStart(session_id=payload.session_id, user_id=payload.user_id)
        async with ctx.state.db.write_sessions() as db, db.begin():
            await session_service.start(db, ctx.user, start)
    try:
        request = QueryRequest(
            user_id=payload.user_id,
            session_id=payload.session_id,
            query=payload.query,
            model_provider=provider,
            model_name=model,
            history=payload.history,
            attachments=payload.attachments,
            web_search=payload.web_search,
        )
    except ValidationError as exc:  # the v1 rules (a blank query...): the usual 422
        raise RequestValidationError(exc.errors()) from None
    # The call's log keeps what the client sent, including what the platform does not use.
    logged = {
        "model_provider": payload.model_provider,
        "model_name": payload.model_name,
        "client": "legacy",
        "use_memory": payload.use_memory,
        "mode": payload.mode,
        "location": payload.location.model_dump(exclude_none=True) if payload.location else None,
        "notices": notices,
    }
    plan = await query_service.prepare(ctx.runtime, ctx.user, request, PlanOptions(logged=logged))
    return plan, notices


async def choose_model(
    registry: ProviderRegistry, provider: str | None, model: str | None
) -> tuple[str | None, str | None, list[str]]:
    """The old client names models this server may not have (`gpt-4o-mini-search-preview`)
    and providers it may have no key for: rather than failing the chat, an unknown model
    falls back to the provider's default model, an unconfigured provider to the server's
    default provider. Returns provider and model (None: the default) and notices saying so."""
    if provider is None or provider not in registry.names():
        if provider is None:
            return None, None, []
        fallback = registry.default_provider
        if fallback is None:
            return provider, model, []  # nothing to fall back to: the plan says why
        default_model = registry.get(fallback).default_model
        notice = (
            f"{provider} is not configured on this server: answering with "
            f"{fallback}:{default_model} instead."
        )
        return fallback, None, [notice]
    if model is None:
        return provider, None, []
    known = await registry.models_of(provider)
    # OpenRouter variants ("x-ai/grok-3-mini:online") are the listed model plus a suffix.
    base = model.split(":", 1)[0] if provider == "openrouter" else model
    if (model in known or base in known) and registry.is_allowed(provider, model):
        return provider, model, []
    default_model = registry.get(provider).default_model
    notice = (
        f"{provider}:{model} is not available on this server: answering with "
        f"{provider}:{default_model} instead."
    )
    return provider, None, [notice]
