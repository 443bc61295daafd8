"""Optional second-stage ordering of a wider candidate set (off by default).

No cross-encoder ships with its weights on PyPI, so the one implementation is Cohere's
rerank API (`POST /v2/rerank`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx

from llm_platform.core.config import RerankProvider, Settings


class RerankError(Exception):
    pass


@dataclass(frozen=True)
class RerankResult:
    index: int
    score: float


class Reranker(Protocol):
    name: str

    async def rerank(self, query: str, documents: list[str], top_n: int) -> list[RerankResult]:
        """Indices into `documents`, best first, with a relevance score in 0..1."""

    async def aclose(self) -> None: ...


class CohereReranker:
    name = "cohere"

    def __init__(
        self, api_key: str, *, model: str, base_url: str = "https://api.cohere.com"
    ) -> None:
        self.model = model
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
            timeout=httpx.Timeout(30.0, connect=5.0),
        )

    async def rerank(self, query: str, documents: list[str], top_n: int) -> list[RerankResult]:
        if not documents:
            return []
        payload = {
            "model": self.model,
            "query": query,
            "documents": documents,
            "top_n": min(top_n, len(documents)),
        }
        try:
            response = await self.client.post("/v2/rerank", json=payload)
        except httpx.HTTPError as exc:
            raise RerankError(f"Rerank request failed: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise RerankError(f"Rerank API answered {response.status_code}: {response.text[:200]}")
        try:
            results = response.json()["results"]
            return [
                RerankResult(int(r["index"]), float(r["relevance_score"]))
                for r in results
                if 0 <= int(r["index"]) < len(documents)
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise RerankError("Rerank API returned an unexpected body") from exc

    async def aclose(self) -> None:
        await self.client.aclose()


def build_reranker(settings: Settings) -> Reranker | None:
    if settings.RERANK_PROVIDER is RerankProvider.COHERE:
        if settings.COHERE_API_KEY is None:
            raise RerankError("RERANK_PROVIDER=cohere needs COHERE_API_KEY")
        return CohereReranker(
            settings.COHERE_API_KEY.get_secret_value(),
            model=settings.RERANK_MODEL,
            base_url=settings.COHERE_BASE_URL,
        )
    return None
