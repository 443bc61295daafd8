"""Retrieval for people and for the query service: `search` (debugging endpoint) and
`ground` (numbered sources + citations for a grounded answer).

Wiring `ground` into the query service (a few lines there):

    rag = state.rag  # RagServices, or RagDisabled when files/RAG are off
    grounding = (
        await rag_service.ground(
            rag.runtime, user_id=owner_of(user), query=request.prompt,
            file_ids=request.file_ids, use_rag=request.use_rag,
        )
        if isinstance(rag, RagServices) else None
    )
    if grounding and grounding.prompt:
        system_prompt = f"{system_prompt}\n\n{grounding.prompt}"
    # emit one `citation` stream event per grounding.citations item before the first token,
    # and store [c.model_dump() for c in grounding.citations] on the Query row.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.core.citation import Citation
from llm_platform.core.errors import NotFound, ServiceUnavailable
from llm_platform.core.file_status import UNFINISHED, FileStatus
from llm_platform.db.models import File
from llm_platform.db.repositories.files import FileRepository
from llm_platform.rag.context import build_contexts
from llm_platform.rag.retrieval import Retriever
from llm_platform.rag.runtime import RagRuntime
from llm_platform.schemas.rag import Grounding, SearchHit, SearchResponse
from llm_platform.services.files import require_ids

SNIPPET_CHARS = 400

NO_SUPPORT_PROMPT = (
    "No supporting document was found in the user's files for this question. "
    "Say plainly that the uploaded documents do not cover it, answer only from general "
    "knowledge if appropriate and clearly marked as such, and do not cite any source."
)

SOURCES_PREAMBLE = (
    "Answer using the numbered sources below, taken from the user's files. Cite the sources "
    "you use as [1], [2], ... right after the statement they support. If the sources do not "
    "contain the answer, say so instead of guessing."
)


async def _owned_files(session: AsyncSession, user_id: str, file_ids: list[str]) -> Sequence[File]:
    """The named files, all the user's (NotFound otherwise)."""
    owned = await FileRepository(session).owned_among(user_id, file_ids)
    found = {f.id for f in owned}
    if any(fid not in found for fid in file_ids):
        raise NotFound("File not found")
    return owned


def _retriever(runtime: RagRuntime) -> Retriever:
    if runtime.vector_error is not None:
        raise ServiceUnavailable(f"Retrieval is unavailable: {runtime.vector_error}")
    return runtime.retriever


async def search(
    session: AsyncSession,
    runtime: RagRuntime,
    *,
    user_id: str,
    query: str,
    top_k: int,
    file_ids: list[str] | None,
) -> SearchResponse:
    ids = require_ids(file_ids)
    if ids:
        await _owned_files(session, user_id, ids)
    found = await _retriever(runtime).retrieve(
        session, user_id=user_id, query=query, top_k=top_k, file_ids=ids
    )
    contexts = await build_contexts(
        session, [r.chunk for r in found.chunks], runtime.context_options(), query
    )
    return SearchResponse(
        query=query,
        results=[
            SearchHit(
                chunk_id=r.chunk.id,
                file_id=r.chunk.file_id,
                file_name=r.file_name,
                page=ctx.page,
                chunk_index=r.chunk.chunk_index,
                heading=r.chunk.heading,
                text=r.chunk.text,
                score=round(r.score, 6),
                similarity=round(r.similarity, 6),
                rerank_score=r.rerank_score,
                matched_by=r.sources,
                context=ctx.text,
                context_pages=list(ctx.pages),
                context_shared_with=ctx.duplicate_of,
                rows=ctx.rows,
            )
            for r, ctx in zip(found.chunks, contexts, strict=True)
        ],
        focused_file_ids=found.focused_file_ids,
        reranked=found.reranked,
    )


async def _wait_for_named_files(
    runtime: RagRuntime, user_id: str, file_ids: list[str], wait_s: float
) -> list[str]:
    """Wait (polling fresh snapshots) while named files are queued/processing; returns notes
    for those still not ready."""
    deadline = time.monotonic() + wait_s
    while True:
        async with runtime.db.read_sessions() as session:
            owned = await _owned_files(session, user_id, file_ids)
        pending = [f for f in owned if f.status in UNFINISHED]
        if not pending or time.monotonic() >= deadline:
            notes = [
                f"{f.name} is still {f.status} ({round(f.progress * 100)}%): "
                "it was not used for this answer"
                for f in pending
            ]
            notes += [
                f"{f.name} could not be processed: {f.error or 'unknown error'}"
                for f in owned
                if f.status == FileStatus.FAILED
            ]
            return notes
        await asyncio.sleep(0.25)


async def ground(
    runtime: RagRuntime,
    *,
    user_id: str,
    query: str,
    file_ids: list[str] | None = None,
    use_rag: bool | None = None,
    top_k: int | None = None,
    min_score: float | None = None,
    wait_s: float | None = None,
) -> Grounding:
    """Retrieve sources for `query` and build the prompt block and citations.

    `use_rag=None` means on when the user has ready files (or names files). Files named in
    `file_ids` that are still processing are waited for up to `wait_s` (default
    RAG_WAIT_FOR_PROCESSING_S), then left out with a note. Sources whose cosine similarity
    (or rerank score) is below `min_score` (default RAG_MIN_SCORE) are not cited; when none
    passes, the prompt tells the model that no supporting document was found."""
    settings = runtime.settings
    ids = require_ids(file_ids)
    if use_rag is False:
        return Grounding(used=False, supported=False, prompt=None)
    notes: list[str] = []
    if ids:
        wait = settings.RAG_WAIT_FOR_PROCESSING_S if wait_s is None else wait_s
        notes = await _wait_for_named_files(runtime, user_id, ids, wait)
    async with runtime.db.read_sessions() as session:
        if use_rag is None and not ids and not await FileRepository(session).has_ready(user_id):
            return Grounding(used=False, supported=False, prompt=None)
        found = await _retriever(runtime).retrieve(
            session,
            user_id=user_id,
            query=query,
            top_k=top_k or settings.RAG_TOP_K,
            file_ids=ids,
        )
        threshold = settings.RAG_MIN_SCORE if min_score is None else min_score
        passing = [
            r
            for r in found.chunks
            if (r.rerank_score if r.rerank_score is not None else r.similarity) >= threshold
        ]
        contexts = await build_contexts(
            session, [r.chunk for r in passing], runtime.context_options(), query
        )
    if not passing:
        return Grounding(
            used=True,
            supported=False,
            prompt=NO_SUPPORT_PROMPT + ("\n" + "\n".join(notes) if notes else ""),
            notes=[*notes, "No supporting document found in your files."],
        )
    citations: list[Citation] = []
    blocks: list[str] = []
    n = 0
    for r, ctx in zip(passing, contexts, strict=True):
        if ctx.duplicate_of is not None:
            continue  # its table or section is already an earlier source, whole
        n += 1
        first, last = ctx.pages
        cited = ctx.cited or r.chunk  # a table: the part holding the row the question names
        where = f"{r.file_name}" + (f", page {cited.page}" if cited.page else "")
        span = f"(pages {first}-{last})\n" if first and last and last != first else ""
        blocks.append(f"[{n}] {where}\n{span}{ctx.text}")
        citations.append(
            Citation(
                index=n,
                title=r.file_name,
                file_id=r.chunk.file_id,
                file_name=r.file_name,
                page=cited.page,
                chunk_id=cited.id,
                snippet=(ctx.rows or cited.text)[:SNIPPET_CHARS],
                score=round(r.rerank_score if r.rerank_score is not None else r.similarity, 4),
            )
        )
    prompt = SOURCES_PREAMBLE + "\n\n" + "\n\n".join(blocks)
    if notes:
        prompt += "\n\nNote: " + " ".join(notes)
    return Grounding(used=True, supported=True, prompt=prompt, citations=citations, notes=notes)
