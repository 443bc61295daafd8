"""A fake remote embedding and rerank service on 127.0.0.1: the OpenAI embeddings
(`POST /v1/embeddings`) and the Cohere v2 rerank (`POST /v2/rerank`) wire formats, as the
vendors document them, on the same `FakeServer` as the LLM vendors' fakes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.fake_servers.server import FakeServer, Reply, Request


def fake_embedding(text: str, dim: int) -> list[float]:
    """Deterministic pseudo-embedding: bag of hashed words."""
    vec = [0.0] * dim
    for word in text.lower().split():
        h = int(hashlib.sha256(word.encode()).hexdigest(), 16)
        vec[h % dim] += 1.0
    return vec


class FakeEmbeddingsAPI(FakeServer):
    """Accepts `Authorization: Bearer <key>`; embeddings of `dim` floats."""

    def __init__(self, key: str = "test-key", dim: int = 1536) -> None:
        super().__init__()
        self.key = key
        self.dim = dim

    def handle(self, request: Request) -> Reply:
        if request.method != "POST":
            return Reply.json({"message": "not found"}, status=404)
        if request.headers.get("authorization", "") != f"Bearer {self.key}":
            error = {"message": "Incorrect API key", "type": "invalid_request_error"}
            return Reply.json({"error": error}, status=401)
        payload = request.json() or {}
        if request.path == "/v1/embeddings":
            return self._embeddings(payload)
        if request.path == "/v2/rerank":
            return self._rerank(payload)
        return Reply.json({"message": "not found"}, status=404)

    def _embeddings(self, payload: dict[str, Any]) -> Reply:
        inputs = payload["input"]
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        data = [
            {"object": "embedding", "index": i, "embedding": fake_embedding(t, self.dim)}
            for i, t in enumerate(texts)
        ]
        return Reply.json(
            {
                "object": "list",
                "data": list(reversed(data)),  # order by `index`, not position
                "model": payload["model"],
                "usage": {"prompt_tokens": 3, "total_tokens": 3},
            }
        )

    def _rerank(self, payload: dict[str, Any]) -> Reply:
        query = set(str(payload["query"]).lower().split())
        docs = [str(d) for d in payload["documents"]]
        top_n = payload.get("top_n", len(docs))
        scored = sorted(
            (
                (len(query & set(d.lower().split())) / (len(query) or 1), i)
                for i, d in enumerate(docs)
            ),
            reverse=True,
        )[: int(top_n)]
        return Reply.json(
            {
                "id": "r-1",
                "results": [{"index": i, "relevance_score": s} for s, i in scored],
                "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
            }
        )


@contextmanager
def fake_api(key: str = "test-key", dim: int = 1536) -> Iterator[FakeEmbeddingsAPI]:
    """`with fake_api(key=...) as server:` point the settings at `server.url`."""
    with FakeEmbeddingsAPI(key, dim) as server:
        yield server
