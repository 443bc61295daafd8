from __future__ import annotations

from fastapi import APIRouter

from llm_platform.api.deps import CurrentUser, DbSession, RagDep
from llm_platform.schemas.rag import SearchRequest, SearchResponse
from llm_platform.services import rag as rag_service
from llm_platform.services.files import owner_of

router = APIRouter(prefix="/rag", tags=["rag"])


@router.post("/search", response_model=SearchResponse)
async def search(
    payload: SearchRequest, db: DbSession, user: CurrentUser, rag: RagDep
) -> SearchResponse:
    """Ranked chunks of the caller's own files, for inspecting retrieval."""
    return await rag_service.search(
        db,
        rag.runtime,
        user_id=owner_of(user),
        query=payload.query,
        top_k=payload.top_k,
        file_ids=payload.file_ids,
    )
