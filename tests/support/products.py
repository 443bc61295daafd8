"""Product catalog helpers: a small generated catalog written to a test's database."""

from __future__ import annotations

from llm_platform.db.engine import Database
from llm_platform.rag.embeddings import Embedder
from llm_platform.services.products.demo import demo_catalog
from llm_platform.services.products.importer import ImportResult, write_products

# 48 products: 6 of each of the 8 demo categories.
SMALL_CATALOG = 48


async def seed_catalog(
    db: Database, embedder: Embedder | None = None, count: int = SMALL_CATALOG
) -> ImportResult:
    return await write_products(db, embedder, demo_catalog(count, seed=7))
