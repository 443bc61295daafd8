"""Ground a planned query in the user's files: retrieve (services.rag.ground), put the
numbered sources (or the "no supporting document" instruction) into the system prompt of
every candidate, and keep the citations on the plan for the generation to emit first."""

from __future__ import annotations

from dataclasses import replace

from llm_platform.core.errors import ServiceUnavailable
from llm_platform.core.logging import get_logger
from llm_platform.providers.base import CitationEvent
from llm_platform.rag.runtime import RagRuntime
from llm_platform.schemas.query import GroundingInfo, QueryRequest
from llm_platform.services import rag as rag_service
from llm_platform.services.query.planning import Candidate, QueryPlan

log = get_logger("llm_platform.query")


def _with_block(system: str | None, block: str) -> str:
    return f"{system}\n\n{block}" if system else block


def _grounded(candidate: Candidate, block: str) -> Candidate:
    system = _with_block(candidate.request.system, block)
    return replace(candidate, request=candidate.request.model_copy(update={"system": system}))


async def ground(rag: RagRuntime | None, plan: QueryPlan, payload: QueryRequest) -> QueryPlan:
    """The plan grounded in the user's files (the same plan when nothing applies).
    Explicit requests (use_rag=true or file_ids) fail loudly when retrieval is unavailable;
    the automatic default degrades to an ungrounded answer."""
    arm_files = plan.arm_file_ids and plan.arm_files_owner is not None
    explicit = payload.use_rag is True or bool(payload.file_ids) or bool(arm_files)
    if payload.use_rag is False and not arm_files:
        return plan
    if rag is None:
        if explicit:
            raise ServiceUnavailable("File retrieval is not enabled on this server")
        return plan
    # An experiment arm's documents (its owner's files) take the place of the user's own.
    owner = plan.arm_files_owner if arm_files else plan.user_id
    file_ids = list(plan.arm_file_ids) if arm_files else payload.file_ids
    try:
        grounding = await rag_service.ground(
            rag,
            user_id=owner or plan.user_id,
            query=payload.query,
            file_ids=file_ids,
            use_rag=True if arm_files else payload.use_rag,
        )
    except ServiceUnavailable as exc:
        if explicit:
            raise
        log.warning("grounding_skipped", query_id=plan.query_id, reason=exc.detail)
        return plan
    if not grounding.used:
        return plan
    candidates = plan.candidates
    if grounding.prompt:
        candidates = tuple(_grounded(c, grounding.prompt) for c in candidates)
    info = GroundingInfo(used=True, supported=grounding.supported, notes=list(grounding.notes))
    return replace(
        plan,
        candidates=candidates,
        grounding=info,
        citations=tuple(CitationEvent.model_validate(c.model_dump()) for c in grounding.citations),
        log_request={
            **plan.log_request,
            "grounding": {
                **info.model_dump(),
                "use_rag": payload.use_rag,
                "file_ids": file_ids,
                "prompt": grounding.prompt,
            },
        },
    )
