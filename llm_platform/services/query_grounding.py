"""Ground a planned query in the user's files: retrieve (services.rag.ground), put the
numbered sources (or the "no supporting document" instruction) into the system prompt of
every candidate, and keep the citations on the plan for the generation to emit first."""

from __future__ import annotations

from llm_platform.core.errors import ServiceUnavailable
from llm_platform.core.logging import get_logger
from llm_platform.providers.base import CitationEvent
from llm_platform.rag.lifecycle import RagDisabled, RagServices
from llm_platform.schemas.query import GroundingInfo, QueryRequest
from llm_platform.services import rag as rag_service
from llm_platform.services.query_plan import QueryPlan

log = get_logger("llm_platform.query")


def _with_block(system: str | None, block: str) -> str:
    return f"{system}\n\n{block}" if system else block


async def apply_grounding(
    rag: RagServices | RagDisabled, plan: QueryPlan, payload: QueryRequest
) -> None:
    """Mutates `plan`. Explicit requests (use_rag=true or file_ids) fail loudly when retrieval
    is unavailable; the automatic default degrades to an ungrounded answer."""
    explicit = payload.use_rag is True or bool(payload.file_ids)
    if payload.use_rag is False:
        return
    if isinstance(rag, RagDisabled):
        if explicit:
            raise ServiceUnavailable("File retrieval is not enabled on this server")
        return
    try:
        grounding = await rag_service.ground(
            rag.runtime,
            user_id=plan.user_id,
            query=payload.query,
            file_ids=payload.file_ids,
            use_rag=payload.use_rag,
        )
    except ServiceUnavailable as exc:
        if explicit:
            raise
        log.warning("grounding_skipped", query_id=plan.query_id, reason=exc.detail)
        return
    if not grounding.used:
        return
    if grounding.prompt:
        for candidate in plan.candidates:
            system = _with_block(candidate.request.system, grounding.prompt)
            candidate.request = candidate.request.model_copy(update={"system": system})
    plan.grounding = GroundingInfo(
        used=True, supported=grounding.supported, notes=list(grounding.notes)
    )
    plan.citations = [CitationEvent.model_validate(c.model_dump()) for c in grounding.citations]
    plan.log_request["grounding"] = {
        **plan.grounding.model_dump(),
        "use_rag": payload.use_rag,
        "file_ids": payload.file_ids,
        "prompt": grounding.prompt,
    }
