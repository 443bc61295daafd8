"""`llm-platform products import|demo`: the local catalog, written with its embeddings (the
RAG embedder's model; without one the server's index embeds the rows when it loads)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from llm_platform.core.config import Settings
from llm_platform.core.logging import get_logger
from llm_platform.db.engine import create_database
from llm_platform.db.migrate import upgrade
from llm_platform.rag.embeddings import Embedder, build_embedder
from llm_platform.schemas.products import ProductIn
from llm_platform.services.products.demo import demo_catalog
from llm_platform.services.products.importer import ImportResult, read_products, write_products

log = get_logger("llm_platform.products")


def _embedder(settings: Settings, embed: bool) -> tuple[Embedder | None, list[str]]:
    if not embed:
        return None, []
    try:
        return build_embedder(settings), []
    except Exception as exc:  # a misconfigured embedder: import anyway, keyword search works
        return None, [f"no embedder ({exc}): the server embeds the products when it loads them"]


async def _write(
    settings: Settings, products: Sequence[ProductIn], *, replace: bool, embed: bool
) -> ImportResult:
    embedder, warnings = _embedder(settings, embed)
    db = create_database(settings)
    try:
        await upgrade(db.engine)
        result = await write_products(db, embedder, products, replace=replace)
    finally:
        await db.dispose()
        closer = getattr(embedder, "aclose", None)
        if closer is not None:
            await closer()
    result.warnings[:0] = warnings
    return result


def summary(result: ImportResult) -> str:
    text = f"{result.added} added, {result.updated} updated"
    if result.removed:
        text += f", {result.removed} removed"
    return f"{text} ({result.embedded} embedded)"


async def import_file(
    settings: Settings, path: Path, *, replace: bool, embed: bool
) -> ImportResult:
    """Raises ImportRejected (bad rows, nothing written) or ValidationFailed (bad file)."""
    products = read_products(path)
    return await _write(settings, products, replace=replace, embed=embed)


async def import_demo(
    settings: Settings, *, count: int, seed: int, replace: bool, embed: bool
) -> ImportResult:
    return await _write(settings, demo_catalog(count, seed), replace=replace, embed=embed)
