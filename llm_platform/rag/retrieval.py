"""Hybrid retrieval: vector and keyword candidates fused by reciprocal rank, focused on the
documents a question names, optionally reranked.

What each step buys is measured by bench/rag_quality.py."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.db.models import FileChunk
from llm_platform.db.repositories.files import ChunkRepository, FileRepository
from llm_platform.rag.embeddings import Embedder, Vectors
from llm_platform.rag.query_text import focus_documents, keyword_terms, strip_boilerplate
from llm_platform.rag.rerank import Reranker, RerankError
from llm_platform.rag.store import ScoredId, VectorStore


@dataclass(frozen=True)
class RetrievalOptions:
    candidates: int = 50  # per list, before fusion
    rrf_k: int = 60
    keyword: bool = True
    strip_boilerplate: bool = True
    focus: bool = True
    focus_weight: float = 1.0
    global_weight: float = 0.5
    rerank_candidates: int = 40


@dataclass
class RetrievedChunk:
    chunk: FileChunk
    file_name: str
    score: float  # fused reciprocal-rank score (or rerank score when reranked)
    similarity: float  # cosine similarity of the query and the chunk
    rerank_score: float | None = None
    sources: list[str] = field(default_factory=list)


@dataclass
class Retrieval:
    chunks: list[RetrievedChunk]
    focused_file_ids: list[str]
    reranked: bool = False
    rerank_error: str | None = None


def fuse(ranked_lists: list[tuple[str, float, list[ScoredId]]], rrf_k: int) -> dict[int, float]:
    """Reciprocal rank fusion: sum of weight / (k + rank) over the lists a chunk is in."""
    scores: dict[int, float] = {}
    for _, weight, hits in ranked_lists:
        for rank, hit in enumerate(hits, start=1):
            scores[hit.chunk_id] = scores.get(hit.chunk_id, 0.0) + weight / (rrf_k + rank)
    return scores


class Retriever:
    def __init__(
        self,
        embedder: Embedder,
        store: VectorStore,
        reranker: Reranker | None = None,
        options: RetrievalOptions | None = None,
    ) -> None:
        self.embedder = embedder
        self.store = store
        self.reranker = reranker
        self.options = options or RetrievalOptions()

    async def embed_query(self, query: str) -> Vectors:
        return await self.embedder.embed_query(query)

    async def retrieve(
        self,
        session: AsyncSession,
        *,
        user_id: str,
        query: str,
        top_k: int,
        file_ids: list[str] | None = None,
        query_vector: Vectors | None = None,
    ) -> Retrieval:
        opts = self.options
        vector = query_vector if query_vector is not None else await self.embed_query(query)
        stripped = strip_boilerplate(query) if opts.strip_boilerplate else query
        terms = keyword_terms(stripped) if opts.strip_boilerplate else stripped.split()
        k = max(opts.candidates, top_k)

        focused: list[str] = []
        if opts.focus:
            labels = await FileRepository(session).ready_labels(user_id, file_ids)
            focused = focus_documents(
                stripped, [(fid, f"{title} {name}") for fid, name, title in labels]
            )

        lists: list[tuple[str, float, list[ScoredId]]] = []
        scopes: list[tuple[str, float, list[str] | None]] = []
        if focused:
            scopes.append(("focus", opts.focus_weight, focused))
            scopes.append(("all", opts.global_weight, file_ids))
        else:
            scopes.append(("all", 1.0, file_ids))
        similarity: dict[int, float] = {}
        for scope, weight, ids in scopes:
            hits = await self.store.vector_search(
                session,
                model=self.embedder.model_name,
                dimension=self.embedder.dimension,
                query=vector,
                user_id=user_id,
                file_ids=ids,
                k=k,
            )
            similarity.update({h.chunk_id: h.score for h in hits})
            lists.append((f"vector:{scope}", weight, hits))
            if opts.keyword and terms:
                kw = await self.store.keyword_search(
                    session, terms=terms, user_id=user_id, file_ids=ids, k=k
                )
                lists.append((f"keyword:{scope}", weight, kw))

        fused = fuse(lists, opts.rrf_k)
        if not fused:
            return Retrieval(chunks=[], focused_file_ids=focused)
        pool = (self.reranker is not None and opts.rerank_candidates) or top_k
        best = sorted(fused, key=lambda cid: -fused[cid])[: max(pool, top_k)]
        missing = [cid for cid in best if cid not in similarity]
        if missing:
            similarity.update(
                await self.store.similarities(
                    session, dimension=self.embedder.dimension, query=vector, chunk_ids=missing
                )
            )
        rows = await ChunkRepository(session).with_file_names(best)
        found_in = {
            cid: [name for name, _, hits in lists if any(h.chunk_id == cid for h in hits)]
            for cid in best
        }
        results = [
            RetrievedChunk(
                chunk=rows[cid][0],
                file_name=rows[cid][1],
                score=fused[cid],
                similarity=float(similarity.get(cid, 0.0)),
                sources=found_in[cid],
            )
            for cid in best
            if cid in rows
        ]
        retrieval = Retrieval(chunks=results[:top_k], focused_file_ids=focused)
        if self.reranker is not None and results:
            try:
                order = await self.reranker.rerank(
                    stripped, [r.chunk.text for r in results], top_n=top_k
                )
            except RerankError as exc:
                retrieval.rerank_error = str(exc)
            else:
                reranked = []
                for item in order:
                    chosen = results[item.index]
                    chosen.rerank_score = item.score
                    chosen.score = item.score
                    reranked.append(chosen)
                retrieval.chunks = reranked[:top_k]
                retrieval.reranked = True
        return retrieval


def cosine(a: Vectors, b: Vectors) -> float:
    return float(np.dot(a, b) / ((np.linalg.norm(a) * np.linalg.norm(b)) or 1.0))
