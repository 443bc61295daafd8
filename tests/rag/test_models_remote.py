"""Embeddings and rerank: the local model for real; OpenAI and Cohere against local fakes."""

from __future__ import annotations

import numpy as np
import pytest

from llm_platform.core.config import EmbeddingPrecision
from llm_platform.rag.embeddings import (
    EmbeddingError,
    LocalEmbedder,
    OpenAIEmbedder,
    native_bf16,
)
from llm_platform.rag.rerank import CohereReranker, RerankError
from tests.support.fake_servers.embeddings_server import fake_api


async def test_local_embedder_dimensions_and_meaning(embedder: LocalEmbedder) -> None:
    vecs = await embedder.embed_documents(
        ["The cat sat on the mat.", "A kitten rests on a rug.", "Quarterly revenue rose 4%."]
    )
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]
    assert embedder.model_name == "local:all-MiniLM-L6-v2" and embedder.max_tokens == 256
    assert embedder.count_tokens("hello world") == 2


async def test_openai_embedder_batches_and_orders_by_index() -> None:
    with fake_api() as server:
        emb = OpenAIEmbedder("test-key", base_url=server.url + "/v1", batch_size=2)
        vecs = await emb.embed_documents(["alpha beta", "gamma", "alpha beta", "delta"])
        assert vecs.shape == (4, 1536)
        assert np.allclose(vecs[0], vecs[2]) and not np.allclose(vecs[0], vecs[1])
        assert len(server.requests) == 2  # batched
        path, payload = server.requests[0].path, server.requests[0].json()
        assert path == "/v1/embeddings" and payload["model"] == "text-embedding-3-small"
        assert payload["input"] == ["alpha beta", "gamma"]
        assert emb.model_name == "openai:text-embedding-3-small" and emb.dimension == 1536
        await emb.aclose()
        bad = OpenAIEmbedder("wrong-key", base_url=server.url + "/v1")
        with pytest.raises(EmbeddingError):
            await bad.embed_query("x")
        await bad.aclose()


async def test_cohere_reranker_wire_format() -> None:
    with fake_api(key="co-key") as server:
        rr = CohereReranker("co-key", model="rerank-v3.5", base_url=server.url)
        out = await rr.rerank("solar panels", ["wind farms", "solar panels on roofs", "coal"], 2)
        assert [r.index for r in out] == [1, 0] or out[0].index == 1
        path, payload = server.requests[0].path, server.requests[0].json()
        assert path == "/v2/rerank" and payload["top_n"] == 2 and payload["model"] == "rerank-v3.5"
        await rr.aclose()
        bad = CohereReranker("nope", model="m", base_url=server.url)
        with pytest.raises(RerankError):
            await bad.rerank("q", ["d"], 1)
        await bad.aclose()


async def test_local_embedder_bfloat16_agrees_with_float32(embedder: LocalEmbedder) -> None:
    """bfloat16 autocast (the default where the CPU has it) gives the float32 vectors to a
    cosine of 0.999+, so vectors stored by either and queries from either mix."""
    texts = [
        "The cat sat on the mat.",
        "Quarterly revenue rose 4% on higher pricing in the industrial segment. " * 12,
        "Supplier contracts were renegotiated.",
    ]
    f32 = LocalEmbedder(precision=EmbeddingPrecision.FLOAT32)
    bf16 = LocalEmbedder(precision=EmbeddingPrecision.BFLOAT16)
    a = await f32.embed_documents(texts)
    b = await bf16.embed_documents(texts)
    assert bf16.bf16 and not f32.bf16
    assert b.dtype == np.float32 and np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-4)
    assert float(np.min(np.sum(a * b, axis=1))) > 0.999
    assert embedder.bf16 == native_bf16()  # the default (auto) follows the CPU
