"""What the composition root (`composition.py`) builds and hands to dependencies: complete
and immutable once the app serves (nothing in it is filled in later or Optional-by-phase)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from redis.asyncio import Redis

from llm_platform.agents.intent import IntentRouter
from llm_platform.core.config import Settings
from llm_platform.core.security import ParticipantTokens
from llm_platform.db.engine import Database
from llm_platform.middleware.metrics import Metrics
from llm_platform.middleware.rate_limit import RateLimiter
from llm_platform.providers.registry import ProviderRegistry
from llm_platform.rag.lifecycle import RagDisabled, RagServices
from llm_platform.rag.products import ProductSearch
from llm_platform.schemas.health import ModelLoad
from llm_platform.services.query.runtime import QueryRuntime
from llm_platform.services.sessions import SessionOwners


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    db: Database
    rate_limiter: RateLimiter
    metrics: Metrics | None  # None: ENABLE_METRICS is off
    tokens: ParticipantTokens
    redis: Redis | None  # None: no REDIS_URL (in-process rate limits, streams, jobs)
    providers: ProviderRegistry
    query: QueryRuntime
    # Files and RAG, or why they are off on this server (a misconfiguration disables them,
    # not the app).
    rag: RagServices | RagDisabled
    # Warm start: in-process models loading in the background (updated by the warmer).
    loads: dict[str, ModelLoad]
    # The product catalog's search (local, or SerpAPI's Google Shopping with a key).
    products: ProductSearch
    # The coordinator's intent router (rules, embeddings, then an LLM when both are unsure).
    intent_router: IntentRouter
    session_owners: SessionOwners = field(default_factory=SessionOwners)
    started_at: float = field(default_factory=time.monotonic)
