from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Health(BaseModel):
    status: str
    version: str


class DatabaseStatus(BaseModel):
    reachable: bool
    dialect: str
    revision: str | None
    head: str | None
    migrations_current: bool
    error: str | None = None


class FilesStatus(BaseModel):
    available: bool
    storage: str | None = None
    vector_store: str | None = None
    vector_store_error: str | None = None
    embedding_model: str | None = None
    ocr: bool = False
    audio_transcription: bool = False
    ingestion: str | None = None  # "in-process" | "redis"
    reranker: str | None = None


class ProcessStatus(BaseModel):
    """This serving process (for soak tests and multi-instance set-ups)."""

    instance_id: str | None  # as on its `running` query rows (services/instances.py)
    pid: int
    rss_bytes: int | None  # resident memory (Linux)
    open_fds: int | None  # open file descriptors (Linux)
    asyncio_tasks: int
    running_generations: int


class ModelLoad(BaseModel):
    """An in-process model loading in the background at start-up (WARM_START)."""

    state: Literal["queued", "loading", "ready", "failed"]
    seconds: float | None = None  # how long the load took, once ready
    error: str | None = None


class Readiness(BaseModel):
    ready: bool
    models: dict[str, ModelLoad]


class Status(BaseModel):
    status: str
    version: str
    uptime_s: float
    database: DatabaseStatus
    redis: str  # "not configured" | "ok" | "unreachable"
    providers: dict[str, bool]
    auth_mode: str
    files: FilesStatus | None = None
    process: ProcessStatus | None = None
    # In-process models warming up ("local:smollm2-135m-instruct", "embeddings:local:..."),
    # and whether all are loaded (true when there are none).
    models: dict[str, ModelLoad] = {}
    models_ready: bool = True
