"""Turn a query request into a plan: validated input, the session's experiment arm applied,
provider and model resolved (with fallbacks), the `ChatRequest` built. No upstream call.

A plan is frozen: what `services.query.service.prepare` decides (grounding, the caller's
options) makes a new plan; nothing changes one once it is handed to a generation."""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.core.config import Settings
from llm_platform.core.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from llm_platform.core.logging import get_logger
from llm_platform.core.security import Principal
from llm_platform.db.models import new_id
from llm_platform.db.repositories.experiments import ExperimentRepository
from llm_platform.db.repositories.sessions import SessionRepository
from llm_platform.providers.base import (
    ChatMessage,
    ChatRequest,
    CitationEvent,
    ImagePart,
    ModelCapabilities,
    Provider,
    ToolCall,
    ToolSpec,
)
from llm_platform.providers.errors import ProviderError, UnknownProvider
from llm_platform.providers.registry import ProviderRegistry
from llm_platform.providers.tools import check_tools
from llm_platform.schemas.experiments import VariantSettings
from llm_platform.schemas.query import Attachment, GroundingInfo, HistoryMessage, QueryRequest
from llm_platform.services.experiments import variants_of
from llm_platform.services.query.log_records import HIDDEN_SYSTEM

log = get_logger("llm_platform.query")

# Magic numbers of the image formats vision models accept.
_IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


@dataclass(frozen=True, slots=True)
class Candidate:
    provider: Provider
    model: str
    request: ChatRequest

    @property
    def name(self) -> str:
        return f"{self.provider.name}:{self.model}"


@dataclass(frozen=True)
class QueryPlan:
    query_id: str
    user_id: str
    session_id: str | None
    session_exists: bool
    experiment_id: str | None
    variant: str | None
    query: str
    candidates: tuple[Candidate, ...]
    capabilities: ModelCapabilities
    log_request: Mapping[str, Any]  # what the query log keeps of the request
    stream_id: str = field(default_factory=new_id)
    prompt_event_id: str = field(default_factory=new_id)  # written at the start, see log_writer
    # From services.query.grounding: sources emitted before the first token.
    grounding: GroundingInfo | None = None
    citations: tuple[CitationEvent, ...] = ()
    # The experiment arm's own documents (files of the experiment's owner): every answer in
    # the arm is grounded in them.
    arm_file_ids: tuple[str, ...] = ()
    arm_files_owner: str | None = None
    created_wall: float = field(default_factory=time.time)
    # The agent graph ("auto") or a plain model call ("off"); memory for this turn (None:
    # the user's own setting), the attached images (the vision agent reads them by OCR when
    # the model cannot see them: then they are not in the model's request).
    agent_mode: Literal["auto", "off"] = "off"
    memory: bool | None = None
    images: tuple[ImagePart, ...] = ()

    @property
    def primary(self) -> Candidate:
        return self.candidates[0]

    def with_requests(self, update: Mapping[str, Any]) -> QueryPlan:
        """The same plan with every candidate's `ChatRequest` updated."""
        candidates = tuple(
            replace(c, request=c.request.model_copy(update=dict(update))) for c in self.candidates
        )
        return replace(self, candidates=candidates)


def _message(message: HistoryMessage) -> ChatMessage:
    return ChatMessage(
        role=message.role,
        content=message.content,
        tool_calls=[
            ToolCall(id=c.id, name=c.name, arguments=c.arguments) for c in message.tool_calls
        ],
        tool_call_id=message.tool_call_id,
        name=message.name,
    )


def _tool_rounds(payload: QueryRequest) -> list[ChatMessage]:
    """The assistant's tool calls and the tools' results after the query: each result must
    answer a call made before it."""
    called: set[str] = set()
    for index, message in enumerate(payload.history):
        called.update(c.id for c in message.tool_calls)
        if message.role == "tool" and message.tool_call_id not in called:
            raise BadRequest(
                f"history.{index}: tool_call_id '{message.tool_call_id}' answers no call"
            )
    out: list[ChatMessage] = []
    for index, message in enumerate(payload.tool_rounds):
        if message.role == "assistant":
            called.update(c.id for c in message.tool_calls)
        elif message.role != "tool":
            raise BadRequest(
                f"tool_rounds.{index}: only assistant and tool messages continue a turn"
            )
        elif message.tool_call_id not in called:
            raise BadRequest(
                f"tool_rounds.{index}: tool_call_id '{message.tool_call_id}' answers no call"
            )
        out.append(_message(message))
    return out


def _decode_image(att: Attachment, index: int, max_bytes: int) -> tuple[ImagePart, dict[str, Any]]:
    data = att.base64.strip()
    declared = att.mime
    if data.startswith("data:"):
        header, _, data = data.partition(",")
        declared = declared or header[5:].split(";", 1)[0] or None
    if len(data) * 3 // 4 > max_bytes + 3:
        raise PayloadTooLarge(f"attachments.{index}: larger than {max_bytes} bytes")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"attachments.{index}: not valid base64") from None
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"attachments.{index}: larger than {max_bytes} bytes")
    sniffed = next((mime for sig, mime in _IMAGE_SIGNATURES if raw.startswith(sig)), None)
    if sniffed is None and raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        sniffed = "image/webp"
    if att.type != "image" or sniffed is None or (declared and not declared.startswith("image/")):
        raise UnsupportedMediaType(
            f"attachments.{index}: only PNG, JPEG, GIF or WebP images can be sent to a model"
        )
    meta = {
        "name": att.name,
        "mime": sniffed,
        "size": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
    }
    return ImagePart(mime=sniffed, data_b64=base64.b64encode(raw).decode(), name=att.name), meta


async def _variant_settings(
    db: AsyncSession, experiment_id: str | None, variant: str | None
) -> tuple[VariantSettings, str] | None:
    """The arm's settings and the experiment's owner (whose files the arm may name)."""
    if not experiment_id or not variant:
        return None
    experiment = await ExperimentRepository(db).get(experiment_id)
    if experiment is None:
        return None
    for arm in variants_of(experiment):
        if arm.name == variant:
            return arm.settings, experiment.owner_id
    return None


async def build_plan(
    db: AsyncSession | None,
    principal: Principal,
    settings: Settings,
    registry: ProviderRegistry,
    payload: QueryRequest,
) -> QueryPlan:
    user_id = principal.acting_user(payload.user_id)
    if len(payload.query) > settings.MAX_QUERY_CHARS:
        raise PayloadTooLarge(f"query: longer than {settings.MAX_QUERY_CHARS} characters")
    if len(payload.history) > settings.MAX_HISTORY_MESSAGES:
        raise BadRequest(f"history: at most {settings.MAX_HISTORY_MESSAGES} messages")
    if len(payload.attachments) > settings.MAX_ATTACHMENTS:
        raise BadRequest(f"attachments: at most {settings.MAX_ATTACHMENTS} per query")

    experiment_id = variant = None
    session_exists = False
    arm: VariantSettings | None = None
    arm_owner: str | None = None
    if payload.session_id:
        principal.own_session_id(payload.session_id)
    if payload.session_id and db is not None:
        record = await SessionRepository(db).get(payload.session_id)
        if record is not None:
            principal.check_owner(record.user_id, "Session")
            if record.user_id != user_id:
                raise BadRequest("The session belongs to another user")
            session_exists = True
            experiment_id, variant = record.experiment_id, record.variant
            found = await _variant_settings(db, experiment_id, variant)
            if found is not None:
                arm, arm_owner = found

    provider_name, model_name = payload.model_provider, payload.model_name
    if arm is not None and (arm.provider or arm.model):
        provider_name = arm.provider or provider_name
        model_name = arm.model
    # Default provider / model, unconfigured vendors and the allow-list: the registry's.
    provider, model = registry.resolve(provider_name, model_name)
    caps = provider.capabilities(model)

    max_tokens = arm.max_tokens if arm and arm.max_tokens else payload.max_tokens
    if max_tokens is not None and caps.max_output_tokens and max_tokens > caps.max_output_tokens:
        raise BadRequest(
            f"max_tokens {max_tokens} exceeds the limit of {provider.name}:{model} "
            f"({caps.max_output_tokens})"
        )
    max_bytes = int(settings.MAX_ATTACHMENT_MB * 1024 * 1024)
    images: list[ImagePart] = []
    attachment_meta: list[dict[str, Any]] = []
    for index, att in enumerate(payload.attachments):
        image, meta = _decode_image(att, index, max_bytes)
        images.append(image)
        attachment_meta.append(meta)
    agent_mode = (arm.agent_mode if arm else None) or payload.agent_mode
    agent_mode = agent_mode or settings.AGENT_MODE_DEFAULT
    attached = tuple(images)
    if images and not caps.vision:
        if agent_mode != "auto":
            raise BadRequest(f"Model '{provider.name}:{model}' does not accept images")
        images = []  # the vision agent reads their text (OCR) for the writer instead

    system = (
        (arm.system_prompt if arm else None)
        or payload.system
        or registry.system_prompt_for(provider.name, model)
    )
    temperature = arm.temperature if arm and arm.temperature is not None else payload.temperature
    tools = [ToolSpec.model_validate(t.model_dump()) for t in payload.tools]
    check_tools(tools, payload.tool_choice)
    messages = [_message(m) for m in payload.history]
    messages.append(ChatMessage(role="user", content=payload.query, images=images))
    messages.extend(_tool_rounds(payload))
    base = ChatRequest(
        model=model,
        messages=messages,
        system=system,
        temperature=temperature,
        max_tokens=max_tokens,
        reasoning_effort=payload.reasoning_effort,
        web_search=payload.web_search,
        tools=tools,
        tool_choice=payload.tool_choice,
        parallel_tool_calls=payload.parallel_tool_calls,
    )
    candidates = [Candidate(provider, model, base)]
    candidates += _fallbacks(registry, settings, payload, base, images, candidates[0].name)

    log_request: dict[str, Any] = {
        "query": payload.query,
        "model_provider": payload.model_provider,
        "model_name": payload.model_name,
        "system": system,
        "history": [m.model_dump(exclude_defaults=True) for m in payload.history],
        "attachments": attachment_meta,
        "temperature": temperature,
        "max_tokens": max_tokens,
        "reasoning_effort": payload.reasoning_effort,
        "web_search": payload.web_search,
    }
    if payload.tools:
        log_request["tools"] = [t.model_dump() for t in payload.tools]
        log_request["tool_choice"] = payload.tool_choice
        log_request["parallel_tool_calls"] = payload.parallel_tool_calls
    if payload.tool_rounds:
        log_request["tool_rounds"] = [
            m.model_dump(exclude_defaults=True) for m in payload.tool_rounds
        ]
    if arm is not None and arm.system_prompt:
        log_request[HIDDEN_SYSTEM] = True  # left out of what the participant reads back
    if len(candidates) > 1:
        log_request["fallback_models"] = [c.name for c in candidates[1:]]
    if agent_mode == "auto":
        log_request["agent_mode"] = agent_mode
    # Logged so that a withdrawal finds (and cancels, deletes) the user's stream buffers.
    stream_id = new_id()
    log_request["stream_id"] = stream_id
    return QueryPlan(
        query_id=new_id(),
        user_id=user_id,
        session_id=payload.session_id,
        session_exists=session_exists,
        experiment_id=experiment_id,
        variant=variant,
        query=payload.query,
        candidates=tuple(candidates),
        capabilities=caps,
        log_request=log_request,
        agent_mode=agent_mode,
        memory=arm.memory if arm is not None else None,
        images=attached,
        stream_id=stream_id,
        arm_file_ids=tuple(arm.rag_file_ids) if arm is not None else (),
        arm_files_owner=arm_owner,
    )


def _fallbacks(
    registry: ProviderRegistry,
    settings: Settings,
    payload: QueryRequest,
    base: ChatRequest,
    images: list[ImagePart],
    primary: str,
) -> list[Candidate]:
    """Requested fallbacks must be valid (4xx otherwise); configured ones are skipped if not."""
    strict = payload.fallback_models is not None
    names = payload.fallback_models if strict else settings.FALLBACK_MODELS
    out: list[Candidate] = []
    seen = {primary}
    for name in names or []:
        try:
            if ":" not in name:
                raise UnknownProvider(name, f"Fallback '{name}' must be 'provider:model'")
            provider, model = registry.resolve(None, name)
            if images and not provider.capabilities(model).vision:
                raise BadRequest(f"Fallback '{name}' does not accept images")
        except (ProviderError, BadRequest) as exc:
            if strict:
                raise
            log.warning("fallback_skipped", fallback=name, reason=exc.detail)
            continue
        if f"{provider.name}:{model}" in seen:
            continue
        seen.add(f"{provider.name}:{model}")
        out.append(Candidate(provider, model, base.model_copy(update={"model": model})))
    return out
