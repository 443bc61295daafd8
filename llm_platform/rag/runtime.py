"""Everything the RAG pipeline needs, built once per process (app lifespan or worker)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from llm_platform.core.config import Settings
from llm_platform.core.logging import get_logger
from llm_platform.db.engine import Database
from llm_platform.rag.chunking import Chunker
from llm_platform.rag.context import ContextOptions
from llm_platform.rag.embeddings import Embedder, build_embedder
from llm_platform.rag.extract import (
    ExtractedDocument,
    Limits,
    extract,
    limits_from_settings,
    zip_budget_from_settings,
)
from llm_platform.rag.extract.audio import audio_available
from llm_platform.rag.extract.base import ProgressFn
from llm_platform.rag.extract.isolated import IsolatedExtractor
from llm_platform.rag.extract.ocr import ocr_available
from llm_platform.rag.filetypes import FileKind
from llm_platform.rag.rerank import Reranker, build_reranker
from llm_platform.rag.retrieval import Retriever
from llm_platform.rag.storage import BlobStorage, build_storage
from llm_platform.rag.store import VectorStore, VectorStoreUnavailable, build_store

log = get_logger("llm_platform.rag")


@dataclass
class RagRuntime:
    settings: Settings
    db: Database
    storage: BlobStorage
    embedder: Embedder
    store: VectorStore
    reranker: Reranker | None
    retriever: Retriever
    limits: Limits
    vector_error: str | None = None
    isolated: IsolatedExtractor | None = None  # None: EXTRACT_MEMORY_MB=0

    async def extract(
        self, path: Path, kind: FileKind, media_type: str, progress: ProgressFn | None = None
    ) -> ExtractedDocument:
        """Text out of a stored file: in a memory-capped child process (audio and
        EXTRACT_MEMORY_MB=0: in a thread of this process)."""
        budget = zip_budget_from_settings(self.settings)
        if self.isolated is not None and kind is not FileKind.AUDIO:
            return await self.isolated.extract(path, kind, media_type, self.limits, progress)
        return await asyncio.to_thread(
            extract, path, kind, media_type, self.limits, progress, zip_budget=budget
        )

    def context_options(self) -> ContextOptions:
        return ContextOptions(
            tokens_per_source=self.settings.RAG_CONTEXT_TOKENS,
            total_tokens=self.settings.RAG_CONTEXT_TOTAL_TOKENS,
        )

    def chunker(self) -> Chunker:
        """Chunk size is capped by the embedder's input window (MiniLM reads 256 tokens):
        text past the window would be indexed but never seen by the model."""
        size = min(self.settings.CHUNK_TOKENS, self.embedder.max_tokens)
        ratio = self.settings.CHUNK_OVERLAP_TOKENS / self.settings.CHUNK_TOKENS
        return Chunker(self.embedder.count_tokens, size, int(size * ratio))

    @property
    def ocr_available(self) -> bool:
        return self.settings.OCR_ENABLED and ocr_available()

    @property
    def audio_available(self) -> bool:
        return self.settings.AUDIO_ENABLED and audio_available()

    async def aclose(self) -> None:
        if self.isolated is not None:
            await asyncio.to_thread(self.isolated.close)
        if self.reranker is not None:
            await self.reranker.aclose()
        closer = getattr(self.embedder, "aclose", None)
        if closer is not None:
            await closer()


async def build_runtime(
    settings: Settings, db: Database, embedder: Embedder | None = None
) -> RagRuntime:
    embedder = embedder or build_embedder(settings)
    store = build_store(db.dialect, settings.RAG_HNSW_EF_SEARCH)
    reranker = build_reranker(settings)
    runtime = RagRuntime(
        settings=settings,
        db=db,
        storage=build_storage(settings),
        embedder=embedder,
        store=store,
        reranker=reranker,
        retriever=Retriever(embedder, store, reranker),
        limits=limits_from_settings(settings),
        isolated=(
            IsolatedExtractor(
                settings.EXTRACT_MEMORY_MB,
                settings.INGEST_CONCURRENCY,
                zip_budget_from_settings(settings),
            )
            if settings.EXTRACT_MEMORY_MB
            else None
        ),
    )
    try:
        await store.ensure(db.engine, embedder.dimension)
    except VectorStoreUnavailable as exc:
        runtime.vector_error = str(exc)
        log.warning("vector_store_unavailable", error=str(exc))
    return runtime
