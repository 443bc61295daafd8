"""What the app builds in its lifespan and hands to dependencies."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from redis.asyncio import Redis

from llm_platform.core.config import Settings
from llm_platform.core.security import ParticipantTokens
from llm_platform.db.engine import Database
from llm_platform.middleware.metrics import Metrics
from llm_platform.middleware.rate_limit import RateLimiter
from llm_platform.providers.registry import ProviderRegistry
from llm_platform.rag.jobs import IngestionQueue
from llm_platform.rag.runtime import RagRuntime
from llm_platform.schemas.health import ModelLoad
from llm_platform.services.query.runtime import QueryRuntime
from llm_platform.services.sessions import SessionOwners


@dataclass
class RagServices:
    runtime: RagRuntime
    queue: IngestionQueue


@dataclass
class AppState:
    settings: Settings
    db: Database
    rate_limiter: RateLimiter
    metrics: Metrics | None
    tokens: ParticipantTokens
    redis: Redis | None = None
    session_owners: SessionOwners = field(default_factory=SessionOwners)
    # --- providers ---
    providers: ProviderRegistry = field(default_factory=ProviderRegistry)

    # --- query streaming ---
    query: QueryRuntime | None = None

    # --- files and RAG ---
    rag: RagServices | None = None

    # --- warm start: in-process models loading in the background ---
    loads: dict[str, ModelLoad] = field(default_factory=dict)
    started_at: float = field(default_factory=time.monotonic)
