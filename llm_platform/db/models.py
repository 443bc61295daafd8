"""ORM models. One metadata, shared by SQLite and PostgreSQL; Alembic migrations mirror it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from llm_platform.core.file_status import FileStatus

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        # Naive means UTC; aware values are converted, since SQLite stores no offset and
        # compares the text.
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError:  # within a day of year 1 or 9999: clamp, order is kept
            edge = datetime.min if value.year == 1 else datetime.max
            return edge.replace(tzinfo=UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType}


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Memories (issue 13): the assistant remembers this user across sessions.
    memory_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16), default="user")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class Experiment(Base):
    __tablename__ = "experiments"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Session(Base):
    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_user_started", "user_id", "started_at"),
        Index("ix_sessions_experiment_started", "experiment_id", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128))
    # Not a foreign key: clients may name an experiment before (or without) it being defined.
    experiment_id: Mapped[str | None] = mapped_column(String(128))
    variant: Mapped[str | None] = mapped_column(String(128))
    environment: Mapped[dict[str, Any]] = mapped_column(default=dict)
    title: Mapped[str | None] = mapped_column(String(512))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("session_id", "event_id", name="uq_events_session_event"),
        Index("ix_events_session_type", "session_id", "type"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(64))
    t: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Query(Base):
    """One row per model call."""

    __tablename__ = "queries"
    __table_args__ = (
        Index("ix_queries_user_created", "user_id", "created_at"),
        Index("ix_queries_session_created", "session_id", "created_at"),
        Index("ix_queries_created", "created_at"),
        Index("ix_queries_status_instance", "status", "instance_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(128))
    session_id: Mapped[str | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"))
    experiment_id: Mapped[str | None] = mapped_column(String(128), index=True)
    variant: Mapped[str | None] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(256))
    request: Mapped[dict[str, Any]] = mapped_column(default=dict)
    response_text: Mapped[str | None] = mapped_column(Text)
    reasoning_text: Mapped[str | None] = mapped_column(Text)
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # Tool calling: the calls the model answered with ({id, name, arguments}); null: none.
    tool_calls: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    reasoning_tokens: Mapped[int | None] = mapped_column(Integer)
    cached_tokens: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    ttft_ms: Mapped[float | None] = mapped_column(Float)
    # `running` from the start of the call until its end updates the row; `interrupted` when
    # the instance running it (`instance_id`) died first (see services/instances.py).
    status: Mapped[str] = mapped_column(String(16), default="ok")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    instance_id: Mapped[str | None] = mapped_column(String(64))


class Instance(Base):
    """A running server process, kept alive by its heartbeat; its `running` queries become
    `interrupted` once the heartbeat expires (or its process is gone, on the same host)."""

    __tablename__ = "instances"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))  # hostname + boot + pid namespace
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)


# ---------------------------------------------------------------- files and RAG
# Vector and keyword-index tables (`chunk_vec_<dim>`, SQLite's `chunk_emb_<dim>`,
# `chunk_fts*`) are created by the vector store (llm_platform/rag/store_*.py), not by this
# metadata: their dimension is the embedding model's and their column types are database
# specific (sqlite-vec / FTS5 virtual tables, pgvector / tsvector).
# LangGraph's checkpointer keeps the agent graph's state in its own tables (`checkpoints`,
# `writes` on SQLite; `checkpoint_*` on PostgreSQL), created by its saver's setup.
UNMANAGED_TABLE_PREFIXES = ("chunk_vec_", "chunk_emb_", "chunk_fts", "checkpoint", "writes")


class File(Base):
    """An uploaded file and the state of its ingestion job (the job state lives here)."""

    __tablename__ = "files"
    __table_args__ = (
        UniqueConstraint("user_id", "sha256", name="uq_files_user_sha256"),
        Index("ix_files_user_created", "user_id", "created_at"),
        Index("ix_files_status_lease", "status", "lease_until"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default=FileStatus.QUEUED)
    stage: Mapped[str | None] = mapped_column(String(32))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    page_count: Mapped[int | None] = mapped_column(Integer)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    char_count: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(String(512))
    error: Mapped[str | None] = mapped_column(Text)
    embedding_model: Mapped[str | None] = mapped_column(String(256))
    embedding_dim: Mapped[int | None] = mapped_column(Integer)
    job_id: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    ready_at: Mapped[datetime | None] = mapped_column()


class FileChunk(Base):
    """One retrievable piece of a file; its vector and keyword entries share its id."""

    __tablename__ = "file_chunks"
    __table_args__ = (
        UniqueConstraint("file_id", "chunk_index", name="uq_file_chunks_file_index"),
        Index("ix_file_chunks_user_file", "user_id", "file_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    file_id: Mapped[str] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(128))
    chunk_index: Mapped[int] = mapped_column(Integer)
    page: Mapped[int | None] = mapped_column(Integer)
    char_start: Mapped[int] = mapped_column(Integer)
    char_end: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str | None] = mapped_column(String(512))
    context: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    token_count: Mapped[int] = mapped_column(Integer)
    embedding_model: Mapped[str] = mapped_column(String(256))
    embedding_dim: Mapped[int] = mapped_column(Integer)
    # The file section (file_sections.section_index) this chunk is read in.
    section_index: Mapped[int | None] = mapped_column(Integer)


class FileSection(Base):
    """What the model reads for a chunk: a whole table with its lead-in, or a run of text
    under one heading (search matches chunks, the answer is grounded in their sections)."""

    __tablename__ = "file_sections"
    __table_args__ = (
        UniqueConstraint("file_id", "section_index", name="uq_file_sections_file_index"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    file_id: Mapped[str] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"))
    section_index: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    page: Mapped[int | None] = mapped_column(Integer)
    page_end: Mapped[int | None] = mapped_column(Integer)
    heading: Mapped[str | None] = mapped_column(String(512))
    text: Mapped[str] = mapped_column(Text)
    token_count: Mapped[int] = mapped_column(Integer)


# ---------------------------------------------------------------- user studies (issue 14)
class Study(Base):
    """A study: its current definition and version, owner and open/closed state."""

    __tablename__ = "studies"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(512))
    state: Mapped[str] = mapped_column(String(16), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1)
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Next assignment's sequence number (the seeded tie-break's counter).
    assignments: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
    purged_at: Mapped[datetime | None] = mapped_column()


class StudyVersion(Base):
    __tablename__ = "study_versions"

    study_id: Mapped[str] = mapped_column(
        ForeignKey("studies.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StudyParticipant(Base):
    """One participant of one study: a participant-role user of their own (`p-...`)."""

    __tablename__ = "study_participants"
    __table_args__ = (
        UniqueConstraint("study_id", "recruitment_hash", name="uq_study_participants_recruit"),
        UniqueConstraint("user_id", name="uq_study_participants_user"),
        Index("ix_study_participants_study_arm", "study_id", "arm"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(128))
    pseudonym: Mapped[str] = mapped_column(String(64))
    # Keyed hash of the recruitment id (None: entered without one, e.g. a preview).
    recruitment_hash: Mapped[str | None] = mapped_column(String(64))
    extra_params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    arm: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="entered")
    is_pilot: Mapped[bool] = mapped_column(default=False)
    is_preview: Mapped[bool] = mapped_column(default=False)
    session_id: Mapped[str | None] = mapped_column(String(128))
    assignment: Mapped[dict[str, Any]] = mapped_column(default=dict)
    completion_code: Mapped[str | None] = mapped_column(String(512))
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    consented_at: Mapped[datetime | None] = mapped_column()
    declined_at: Mapped[datetime | None] = mapped_column()
    pre_done_at: Mapped[datetime | None] = mapped_column()
    task_started_at: Mapped[datetime | None] = mapped_column()
    post_done_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class StudyRecruitmentId(Base):
    """The raw recruitment id, kept apart for payments (exported only on request)."""

    __tablename__ = "study_recruitment_ids"

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("study_participants.id", ondelete="CASCADE"), primary_key=True
    )
    recruitment_id: Mapped[str] = mapped_column(Text)


class StudyAnswer(Base):
    __tablename__ = "study_answers"
    __table_args__ = (
        UniqueConstraint("participant_id", "item_id", name="uq_study_answers_item"),
        Index("ix_study_answers_study", "study_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("study_participants.id", ondelete="CASCADE")
    )
    study_id: Mapped[str] = mapped_column(String(128))
    phase: Mapped[str] = mapped_column(String(8))
    item_id: Mapped[str] = mapped_column(String(128))
    # {"v": <answer>}: SQLite gives a JSON column numeric affinity, so a bare number would
    # come back as a number, not as JSON text.
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[int] = mapped_column(Integer)
    attention_ok: Mapped[bool | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StudyAudit(Base):
    """Exports, deletions, withdrawals, mapping reads: who did what, no personal data."""

    __tablename__ = "study_audit"
    __table_args__ = (Index("ix_study_audit_study_created", "study_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    study_id: Mapped[str] = mapped_column(String(128))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# ---------------------------------------------------------------- memories (issue 13)
class Memory(Base):
    """One durable fact or preference about a user, with where it came from and its edits."""

    __tablename__ = "memories"
    __table_args__ = (Index("ix_memories_user_created", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="fact")
    # L2-normalised float32 vector of `text` (None: no embedder when it was written).
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    embedding_model: Mapped[str | None] = mapped_column(String(256))
    source_session_id: Mapped[str | None] = mapped_column(String(128))
    source_query_id: Mapped[str | None] = mapped_column(String(32))
    # When the conversation it came from took place (never a date the model made up).
    source_time: Mapped[datetime | None] = mapped_column()
    # Earlier texts, oldest first: [{"text", "changed_at", "reason"}].
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SessionSummary(Base):
    """The rolling summary of a long conversation's older turns (the writer reads it, and the
    turns after it, instead of the whole history past its token budget)."""

    __tablename__ = "session_summaries"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    summary: Mapped[str] = mapped_column(Text)
    # How many leading messages of the conversation the summary covers, and its last turn.
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    covered_until_query_id: Mapped[str | None] = mapped_column(String(32))
    covered_until: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# ---------------------------------------------------------------- agents (issue 13): steps


class AgentStep(Base):
    """One agent's run in one turn (the research log of the agent graph): what went in and
    came out, how long it took, the tokens and model of its calls, its error."""

    __tablename__ = "agent_steps"
    __table_args__ = (
        Index("ix_agent_steps_query", "query_id"),
        Index("ix_agent_steps_session", "session_id"),
        Index("ix_agent_steps_user", "user_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    query_id: Mapped[str] = mapped_column(String(32))
    session_id: Mapped[str | None] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(128))
    agent: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    input_summary: Mapped[str | None] = mapped_column(Text)
    output_summary: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    model: Mapped[str | None] = mapped_column(String(256))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)


# ---------------------------------------------------------------- products (issue 13)
class Product(Base):
    """The shopping catalog (not per user): imported or generated (`llm-platform products`).
    `embedding`: float32 bytes of `embedding_model`'s vector (None: not embedded)."""

    __tablename__ = "products"
    __table_args__ = (
        Index("ix_products_category_price", "category", "price"),
        Index("ix_products_updated", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(64))
    price: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    url: Mapped[str | None] = mapped_column(String(2048))
    image_url: Mapped[str | None] = mapped_column(String(2048))
    rating: Mapped[float | None] = mapped_column(Float)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source: Mapped[str] = mapped_column(String(16), default="local")
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    embedding_model: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Bumped by every import that writes the row: the search index reloads when the
    # catalog's (count, latest updated_at) changes.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
