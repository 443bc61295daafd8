"""`ProductSearch`: the catalog on the platform's database, searched in process.

One `CatalogIndex` per catalog version (row count + latest write), rebuilt when an import
changes the table (checked at most every `recheck_seconds`, and at once after `invalidate`).
Vectors come from the stored embeddings of the RAG embedder's model; rows without one (or
embedded by another model) are embedded when the index loads and the vectors stored. With
no embedder (files/RAG off) the search is keyword only. With SerpAPI configured, queries go
to Google Shopping, and to the local catalog when SerpAPI fails.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from llm_platform.core.logging import get_logger
from llm_platform.db.engine import Database
from llm_platform.db.models import Product
from llm_platform.db.repositories.products import ProductRepository
from llm_platform.rag.embeddings import Embedder
from llm_platform.rag.products.ranking import (
    CatalogIndex,
    CatalogItem,
    Filters,
    Ranked,
    SearchMode,
    embedding_text,
)
from llm_platform.rag.products.serpapi import SerpApiError, SerpApiShopping
from llm_platform.schemas.products import ProductDetail, ProductHit

log = get_logger("llm_platform.products")

REMOTE_CACHE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class CatalogFacts:
    """What the shopping interview offers as options: categories and, per category, the
    prices at the 25th, 50th and 75th percentile."""

    categories: list[str]
    price_quartiles: dict[str, tuple[float, float, float]]


def item_of(row: Product) -> CatalogItem:
    return CatalogItem(
        id=row.id,
        title=row.title,
        description=row.description,
        category=row.category,
        price=row.price,
        currency=row.currency,
        url=row.url,
        image_url=row.image_url,
        rating=row.rating,
        attributes=dict(row.attributes or {}),
        source=row.source,
    )


def hit_of(item: CatalogItem, score: float = 0.0, matched_by: Sequence[str] = ()) -> ProductHit:
    return ProductHit(
        id=item.id,
        title=item.title,
        price=item.price,
        currency=item.currency,
        category=item.category,
        url=item.url,
        image_url=item.image_url,
        rating=item.rating,
        description=item.description,
        source=item.source,
        score=round(score, 6),
        matched_by=list(matched_by),
    )


async def embed_items(embedder: Embedder, items: Sequence[CatalogItem]) -> np.ndarray:
    if not items:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return await embedder.embed_documents([embedding_text(item) for item in items])


class ProductSearch:
    def __init__(
        self,
        db: Database,
        embedder: Embedder | None,
        serpapi: SerpApiShopping | None = None,
        *,
        recheck_seconds: float = 1.0,
    ) -> None:
        self.db = db
        self.embedder = embedder
        self.serpapi = serpapi
        self.recheck_seconds = recheck_seconds
        self._index: CatalogIndex | None = None
        self._version: tuple[int, datetime | None] | None = None
        self._checked_at = 0.0
        self._lock = asyncio.Lock()
        self._remote: OrderedDict[str, CatalogItem] = OrderedDict()

    @property
    def source(self) -> str:
        return "serpapi" if self.serpapi is not None else "local"

    def invalidate(self) -> None:
        """Check the catalog's version on the next search (after an in-process import)."""
        self._checked_at = 0.0

    async def index(self) -> CatalogIndex:
        """The index of the catalog as it is now (rebuilt when its version changed)."""
        if self._index is not None and time.monotonic() - self._checked_at < self.recheck_seconds:
            return self._index
        async with self._lock:
            async with self.db.read_sessions() as session:
                version = await ProductRepository(session).version()
            self._checked_at = time.monotonic()
            if self._index is None or version != self._version:
                self._index = await self._load()
                self._version = version
                log.info("product_index_loaded", products=len(self._index))
            return self._index

    async def _load(self) -> CatalogIndex:
        async with self.db.read_sessions() as session:
            rows = await ProductRepository(session).all()
        items = [item_of(row) for row in rows]
        if self.embedder is None:
            return CatalogIndex(items)
        dim = self.embedder.dimension
        model = self.embedder.model_name
        vectors = np.zeros((len(items), dim), dtype=np.float32)
        missing = []
        for i, row in enumerate(rows):
            blob = row.embedding
            if blob is not None and row.embedding_model == model and len(blob) == dim * 4:
                vectors[i] = np.frombuffer(blob, dtype=np.float32)
            else:
                missing.append(i)
        if missing:
            try:
                fresh = await embed_items(self.embedder, [items[i] for i in missing])
            except Exception as exc:  # no vectors for these: keyword search still finds them
                log.warning("product_embedding_failed", error=str(exc), products=len(missing))
            else:
                for i, vector in zip(missing, fresh, strict=True):
                    vectors[i] = vector
                await self._store_vectors({items[i].id: fresh[n] for n, i in enumerate(missing)})
        return CatalogIndex(items, vectors)

    async def _store_vectors(self, vectors: dict[str, np.ndarray]) -> None:
        assert self.embedder is not None
        try:
            async with self.db.write_sessions() as session, session.begin():
                blobs = {pid: v.astype(np.float32).tobytes() for pid, v in vectors.items()}
                await ProductRepository(session).set_embeddings(blobs, self.embedder.model_name)
        except Exception as exc:  # a cache fill: the next load embeds them again
            log.warning("product_embedding_store_failed", error=str(exc))

    async def _query_vector(self, query: str) -> np.ndarray | None:
        if self.embedder is None or not query.strip():
            return None
        try:
            return (await self.embedder.embed_query(query)).reshape(-1)
        except Exception as exc:
            log.warning("product_query_embedding_failed", error=str(exc))
            return None

    async def search_local(
        self, query: str, filters: Filters, limit: int, mode: SearchMode = "hybrid"
    ) -> list[ProductHit]:
        index = await self.index()
        vector = await self._query_vector(query) if mode != "keyword" else None
        ranked: list[Ranked] = index.search(query, vector, filters, limit, mode)
        return [hit_of(index.items[r.index], r.score, r.matched_by) for r in ranked]

    async def search(
        self, query: str, filters: Filters | None = None, limit: int = 10
    ) -> list[ProductHit]:
        """The best `limit` products for a query within the filters (SerpAPI when it is
        configured, the local catalog otherwise or when SerpAPI fails)."""
        filters = filters or Filters()
        if self.serpapi is not None:
            try:
                items = await self.serpapi.search(query, filters, limit)
            except SerpApiError as exc:
                log.warning("serpapi_failed", error=str(exc))
            else:
                for item in items:
                    self._remember(item)
                return [
                    hit_of(item, 1.0 / (60 + rank), ("serpapi",))
                    for rank, item in enumerate(items, start=1)
                ]
        return await self.search_local(query, filters, limit)

    def _remember(self, item: CatalogItem) -> None:
        self._remote[item.id] = item
        self._remote.move_to_end(item.id)
        while len(self._remote) > REMOTE_CACHE_SIZE:
            self._remote.popitem(last=False)

    async def get(self, product_id: str) -> ProductDetail | None:
        """A product by id: the catalog's, or one SerpAPI returned recently."""
        item = (await self.index()).get(product_id) or self._remote.get(product_id)
        if item is None:
            return None
        card = hit_of(item).model_dump(exclude={"score", "matched_by"})
        return ProductDetail(**card, attributes=item.attributes)

    async def facts(self) -> CatalogFacts:
        index = await self.index()
        quartiles: dict[str, tuple[float, float, float]] = {}
        for category in index.categories:
            prices = np.asarray([i.price for i in index.items if i.category == category])
            q1, q2, q3 = (float(x) for x in np.percentile(prices, [25, 50, 75]))
            quartiles[category] = (q1, q2, q3)
        return CatalogFacts(categories=index.categories, price_quartiles=quartiles)
