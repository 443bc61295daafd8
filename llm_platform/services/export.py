"""Researcher exports: sessions, their events and their model calls, streamed as JSONL or CSV.

Rows are read with server-side cursors and written out one by one, so an experiment of any
size is exported in constant memory. CSV cells that a spreadsheet would run as a formula are
neutralised (OWASP CSV injection): participants write the prompts, the researcher opens the file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable
from enum import StrEnum
from typing import Any

import orjson

from llm_platform.db.engine import Database
from llm_platform.db.models import Event, Query, Session
from llm_platform.db.repositories.events import EventRepository
from llm_platform.db.repositories.queries import QueryRepository
from llm_platform.db.repositories.sessions import SessionRepository
from llm_platform.services.query.log_records import participant_view


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


MEDIA_TYPES = {ExportFormat.JSONL: "application/x-ndjson", ExportFormat.CSV: "text/csv"}

CSV_COLUMNS = [
    "kind",
    "session_id",
    "user_id",
    "experiment_id",
    "variant",
    "id",
    "time",
    "t",
    "type",
    "provider",
    "model",
    "status",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cached_tokens",
    "cost_usd",
    "latency_ms",
    "ttft_ms",
    "text",
    "data",
]


def session_record(s: Session) -> dict[str, Any]:
    return {
        "kind": "session",
        "session_id": s.id,
        "user_id": s.user_id,
        "experiment_id": s.experiment_id,
        "variant": s.variant,
        "environment": s.environment,
        "title": s.title,
        "started_at": s.started_at.isoformat(),
        "ended_at": s.ended_at.isoformat() if s.ended_at else None,
    }


def event_record(s: Session, e: Event) -> dict[str, Any]:
    return {
        "kind": "event",
        "session_id": s.id,
        "user_id": s.user_id,
        "experiment_id": s.experiment_id,
        "variant": s.variant,
        "event_id": e.event_id,
        "t": e.t,
        "type": e.type,
        "data": e.data,
        "received_at": e.received_at.isoformat(),
    }


def query_record(q: Query, *, hide_arm_prompt: bool = False) -> dict[str, Any]:
    return {
        "kind": "query",
        "query_id": q.id,
        "session_id": q.session_id,
        "user_id": q.user_id,
        "experiment_id": q.experiment_id,
        "variant": q.variant,
        "provider": q.provider,
        "model": q.model,
        "request": participant_view(q.request) if hide_arm_prompt else q.request,
        "response_text": q.response_text,
        "reasoning_text": q.reasoning_text,
        "citations": q.citations,
        "tool_calls": q.tool_calls,
        "input_tokens": q.input_tokens,
        "output_tokens": q.output_tokens,
        "reasoning_tokens": q.reasoning_tokens,
        "cached_tokens": q.cached_tokens,
        "cost_usd": q.cost_usd,
        "latency_ms": q.latency_ms,
        "ttft_ms": q.ttft_ms,
        "status": q.status,
        "error": q.error,
        "created_at": q.created_at.isoformat(),
    }


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A text cell starting like a formula (`=`, `+`, `-`, `@`, tab, CR) gets a leading `'`,
    which spreadsheets show as text; numbers and other cells are written as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_row(record: dict[str, Any]) -> list[Any]:
    kind = record["kind"]
    if kind == "session":
        ident, time, text, data = (
            record["session_id"],
            record["started_at"],
            record["title"],
            {
                "environment": record["environment"],
                "ended_at": record["ended_at"],
            },
        )
    elif kind == "event":
        ident, time, text, data = record["event_id"], record["received_at"], None, record["data"]
    else:
        ident, time, text = record["query_id"], record["created_at"], record["response_text"]
        data = {
            "request": record["request"],
            "reasoning_text": record["reasoning_text"],
            "citations": record["citations"],
            "error": record["error"],
        }
    row = {**record, "id": ident, "time": time, "text": text}
    row["data"] = orjson.dumps(data).decode()
    return [csv_cell(row.get(col)) for col in CSV_COLUMNS]


async def _session_records(
    db: Database,
    sessions: Iterable[Session] | AsyncIterator[Session],
    hide_arm_prompt: bool = False,
) -> AsyncIterator[dict[str, Any]]:
    async with db.read_sessions() as inner:
        events = EventRepository(inner)
        queries = QueryRepository(inner)
        async for s in _aiter(sessions):
            yield session_record(s)
            async for e in events.stream_for_session(s.id):
                yield event_record(s, e)
            async for q in queries.stream_for_session(s.id):
                yield query_record(q, hide_arm_prompt=hide_arm_prompt)


async def _aiter(
    items: Iterable[Session] | AsyncIterator[Session],
) -> AsyncIterator[Session]:
    if isinstance(items, AsyncIterator):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


async def session_export_records(
    db: Database, session: Session, *, hide_arm_prompt: bool = False
) -> AsyncIterator[dict[str, Any]]:
    """One session's records; a participant's own export leaves out the arm's prompt."""
    async for record in _session_records(db, [session], hide_arm_prompt):
        yield record


async def experiment_export_records(
    db: Database, experiment_id: str, user_id: str | None
) -> AsyncIterator[dict[str, Any]]:
    async with db.read_sessions() as outer:
        sessions = SessionRepository(outer).stream_for_experiment(experiment_id, user_id)
        async for record in _session_records(db, sessions):
            yield record


async def render(records: AsyncIterator[dict[str, Any]], fmt: ExportFormat) -> AsyncIterator[bytes]:
    if fmt is ExportFormat.JSONL:
        async for record in records:
            yield orjson.dumps(record) + b"\n"
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    async for record in records:
        writer.writerow(_csv_row(record))
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
