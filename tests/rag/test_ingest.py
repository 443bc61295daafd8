"""Ingestion embeds chunks in batches of similar length and stores each vector with its own
chunk (the batching order is not the document order)."""

from __future__ import annotations

import random
from collections.abc import Callable

from sqlalchemy import select

from llm_platform.core.config import Settings
from llm_platform.db.models import FileChunk
from llm_platform.rag.embeddings import LocalEmbedder
from tests.conftest import start_client
from tests.support.files import upload, wait_done


def _document() -> bytes:
    """Sections of very different lengths, so length order differs from document order."""
    rng = random.Random(7)
    words = [
        "river",
        "harbour",
        "tariff",
        "orchard",
        "ledger",
        "glacier",
        "violin",
        "quarry",
        "lantern",
        "meadow",
    ]
    parts = []
    for n in range(14):
        size = rng.choice((8, 40, 120, 400))
        body = " ".join(rng.choice(words) for _ in range(size))
        parts.append(f"# Section {n} about {words[n % len(words)]}\n\n{body}.\n")
    return "\n".join(parts).encode()


async def test_each_chunk_keeps_its_own_vector(
    make_settings: Callable[..., Settings],
    embedder: LocalEmbedder,
) -> None:
    async for client in start_client(make_settings(EMBEDDING_BATCH_SIZE=4)):
        r = await upload(client, "sections.md", _document(), content_type="text/markdown")
        done = await wait_done(client, r.json()["id"])
        assert done["status"] == "ready", done
        runtime = client.app.state.platform.rag.runtime
        async with runtime.db.read_sessions() as s:
            chunks = (
                await s.scalars(
                    select(FileChunk)
                    .where(FileChunk.file_id == done["id"])
                    .order_by(FileChunk.chunk_index)
                )
            ).all()
            assert len(chunks) >= 10
            assert len({c.token_count for c in chunks}) > 3
            ids = [c.id for c in chunks]
            texts = [f"{c.context}\n{c.text}" if c.context else c.text for c in chunks]
            vectors = await embedder.embed_documents(texts)
            for chunk_id, vector in zip(ids, vectors, strict=True):
                sims = await runtime.store.similarities(
                    s, dimension=embedder.dimension, query=vector, chunk_ids=ids
                )
                assert max(sims, key=lambda cid: sims[cid]) == chunk_id
                assert sims[chunk_id] > 0.999
