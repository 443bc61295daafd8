"""Changing the embedding model re-embeds every file instead of mixing vector spaces."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import text

from llm_platform.core.config import EmbeddingProvider, Settings
from llm_platform.rag.embeddings import LocalEmbedder
from tests.conftest import start_client
from tests.support.fake_servers.embeddings_server import fake_api
from tests.support.files import upload, wait_done


async def test_switching_to_openai_embeddings_reembeds_files(
    make_settings: Callable[..., Settings],
    embedder: LocalEmbedder,
) -> None:
    async for client in start_client(make_settings()):
        r = await upload(client, "notes.txt", b"Tomatoes ripen faster in warm greenhouses.")
        fid = r.json()["id"]
        first = await wait_done(client, fid)
        assert first["embedding_model"] == "local:all-MiniLM-L6-v2"

    with fake_api(key="sk-test") as server:
        settings = make_settings(
            EMBEDDING_PROVIDER=EmbeddingProvider.OPENAI,
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=server.url + "/v1",
            INGEST_SWEEP_SECONDS=0.5,
        )
        async for client in start_client(settings):
            for _ in range(200):
                body = await wait_done(client, fid)
                if body["embedding_model"] == "openai:text-embedding-3-small":
                    break
                await asyncio.sleep(0.1)
            assert body["status"] == "ready"
            assert body["embedding_model"] == "openai:text-embedding-3-small"
            db = client.app.state.platform.db
            async with db.engine.connect() as conn:
                models = (
                    await conn.execute(
                        text(
                            "SELECT DISTINCT embedding_model, embedding_dim FROM file_chunks"
                            " WHERE file_id = :f"
                        ),
                        {"f": fid},
                    )
                ).all()
                assert models == [("openai:text-embedding-3-small", 1536)]
                old = await conn.execute(text("SELECT count(*) FROM chunk_vec_384"))
                assert old.scalar() == 0  # the old space is gone, not mixed
            hits = await client.post(
                "/api/v1/rag/search",
                json={"query": "tomatoes greenhouses"},
                headers={"x-user-id": "u1"},
            )
            assert hits.json()["results"][0]["file_id"] == fid
            assert any(r.path == "/v1/embeddings" for r in server.requests)
