"""Tidy exports of a study, one table per level, streamed as CSV, JSONL or Parquet, and the
codebook generated from the same column lists (so the two cannot disagree).

Participants appear under their pseudonym (a keyed hash of the recruitment id, stable);
previews are never exported, pilots only on request. Every export is audited."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.app_state import AppState
from llm_platform.core.errors import UnsupportedMediaType
from llm_platform.core.security import Principal
from llm_platform.db.engine import Database
from llm_platform.db.models import (
    AgentStep,
    Event,
    Query,
    Study,
    StudyAnswer,
    StudyParticipant,
    utcnow,
)
from llm_platform.db.repositories.studies import AnswerRepository, ParticipantRepository
from llm_platform.schemas.studies import (
    Codebook,
    CodebookColumn,
    ExportTable,
    Item,
    StudyDefinition,
)
from llm_platform.services.export import csv_cell
from llm_platform.services.studies.definitions import get_owned
from llm_platform.services.studies.monitor import minutes_on_task, record_audit


class Format(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    PARQUET = "parquet"


MEDIA_TYPES = {
    Format.CSV: "text/csv; charset=utf-8",
    Format.JSONL: "application/x-ndjson",
    Format.PARQUET: "application/vnd.apache.parquet",
}
PARQUET_ROW_GROUP = 2000

# name, type, description. Types: string, integer, number, boolean, datetime, json.
_Column = tuple[str, str, str]
_KEY: list[_Column] = [
    ("participant", "string", "Pseudonymous participant id (keyed hash of the recruitment id)"),
    ("arm", "string", "The arm (condition) the participant was assigned to"),
    ("version", "integer", "Study definition version the participant took part under"),
]
COLUMNS: dict[str, list[_Column]] = {
    "participants": [
        *_KEY,
        (
            "status",
            "string",
            "Last step reached: entered, consented, declined, task, post_done, completed",
        ),
        ("is_pilot", "boolean", "A simulated participant of a pilot run"),
        ("entered_at", "datetime", "First arrival through the study link (UTC)"),
        ("consented_at", "datetime", "Consent given (UTC), empty if not"),
        ("declined_at", "datetime", "Consent declined (UTC), empty if not"),
        ("pre_done_at", "datetime", "Pre-task questionnaire submitted (UTC)"),
        ("task_started_at", "datetime", "Chat task started (UTC)"),
        ("post_done_at", "datetime", "Post-task questionnaire submitted (UTC)"),
        ("completed_at", "datetime", "Completion code shown (UTC)"),
        ("last_seen_at", "datetime", "Last request of the participant to the study (UTC)"),
        ("completed", "boolean", "Whether the participant completed the study"),
        ("minutes_on_task", "number", "Minutes from task start to post-questionnaire/now"),
        ("turns", "integer", "Completed model calls (turns) in the task's chat"),
        ("attention_failures", "integer", "Attention-check items answered wrongly"),
        ("assignment_reason", "string", "Why this arm: least filled, or a seeded tie draw"),
        ("assignment_sequence", "integer", "Arrival number used for the seeded draw"),
    ],
    "messages": [
        *_KEY,
        ("turn", "integer", "Turn number within the participant's chat (1-based)"),
        ("query_id", "string", "Id of the model call"),
        ("created_at", "datetime", "When the call started (UTC)"),
        ("provider", "string", "Model provider"),
        ("model", "string", "Model name"),
        ("status", "string", "ok, error, cancelled, running or interrupted"),
        ("prompt_hash", "string", "SHA-256 of the system prompt the arm sent (hex)"),
        ("prompt", "string", "The participant's message"),
        ("response", "string", "The model's answer"),
        ("input_tokens", "integer", "Prompt tokens"),
        ("output_tokens", "integer", "Answer tokens"),
        ("reasoning_tokens", "integer", "Reasoning tokens (if the model reports them)"),
        ("latency_ms", "number", "Whole call duration in milliseconds"),
        ("ttft_ms", "number", "Time to the first token in milliseconds"),
        ("citations", "integer", "Number of citations (RAG sources) in the answer"),
        ("citation_sources", "json", "The citations (file, page, score)"),
        ("agent_steps", "integer", "Agent steps of the call (empty: no agent)"),
        (
            "agent_trace",
            "json",
            "The agent steps in order: agent, status, latency_ms, summary, error, model, "
            "input_tokens, output_tokens",
        ),
    ],
    "events": [
        *_KEY,
        ("event_id", "string", "Client event id (unique per session)"),
        ("t", "integer", "Client time in milliseconds since the epoch"),
        ("type", "string", "Event type (e.g. prompt, click, scroll, visibility)"),
        ("data", "json", "Event payload"),
        ("received_at", "datetime", "Server receive time (UTC)"),
    ],
}
_ITEM_TYPES = {
    "likert": "integer",
    "single": "string",
    "multiple": "json",
    "text": "string",
    "number": "number",
}


@dataclass(frozen=True)
class ExportScope:
    study_id: str
    table: ExportTable
    format: Format
    include_pilot: bool
    columns: list[_Column]
    filename: str


async def item_union(db: AsyncSession, study: Study) -> list[tuple[str, Item]]:
    """Every item of every version (first definition wins), pre before post."""
    from llm_platform.db.models import StudyVersion

    rows = await db.scalars(
        select(StudyVersion).where(StudyVersion.study_id == study.id).order_by(StudyVersion.version)
    )
    seen: dict[str, tuple[str, Item]] = {}
    for row in rows:
        d = StudyDefinition.model_validate(row.definition)
        for phase in ("pre", "post"):
            for item in d.items(phase):
                seen.setdefault(item.id, (phase, item))
    return sorted(seen.values(), key=lambda pi: 0 if pi[0] == "pre" else 1)


def answer_columns(items: list[tuple[str, Item]]) -> list[_Column]:
    cols = list(_KEY)
    for phase, item in items:
        check = " (attention check)" if item.attention_check else ""
        prompt = " ".join(item.prompt.split())[:200]
        cols.append(
            (
                item.id,
                _ITEM_TYPES[item.kind],
                f"{phase}-questionnaire, {item.kind}{check}: {prompt}",
            )
        )
    cols.append(("attention_failures", "integer", "Attention-check items answered wrongly"))
    return cols


async def codebook(db: AsyncSession, study: Study) -> Codebook:
    tables = {name: list(cols) for name, cols in COLUMNS.items()}
    tables["answers"] = answer_columns(await item_union(db, study))
    return Codebook(
        study_id=study.id,
        version=study.version,
        tables={
            name: [CodebookColumn(name=n, type=t, description=d) for n, t, d in cols]
            for name, cols in tables.items()
        },
    )


async def prepare(
    db: AsyncSession,
    state: AppState,
    principal: Principal,
    study_id: str,
    table: ExportTable,
    fmt: Format,
    include_pilot: bool,
) -> ExportScope:
    study = await get_owned(db, principal, study_id)
    if fmt is Format.PARQUET and not parquet_available():
        raise UnsupportedMediaType("Parquet needs pyarrow (pip install 'llm-platform[parquet]')")
    columns = answer_columns(await item_union(db, study)) if table == "answers" else COLUMNS[table]
    await record_audit(
        state.db,
        study.id,
        principal.user_id or "?",
        "export",
        {"table": table, "format": fmt.value, "include_pilot": include_pilot},
    )
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    return ExportScope(
        study_id=study.id,
        table=table,
        format=fmt,
        include_pilot=include_pilot,
        columns=list(columns),
        filename=f"study-{study.id}-{table}-{stamp}.{fmt.value}",
    )


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


async def _participants(session: AsyncSession, scope: ExportScope) -> Sequence[StudyParticipant]:
    rows = await ParticipantRepository(session).list_for(scope.study_id)
    return [p for p in rows if scope.include_pilot or not p.is_pilot]


async def rows(database: Database, scope: ExportScope) -> AsyncIterator[dict[str, Any]]:
    """The table's rows as dicts of exactly the scope's columns."""
    names = [c[0] for c in scope.columns]
    async with database.read_sessions() as session:
        people = await _participants(session, scope)
        repo = ParticipantRepository(session)
        if scope.table == "participants":
            turns = await repo.turns([p.session_id for p in people if p.session_id])
            failures = await AnswerRepository(session).attention_failures(scope.study_id)
            now = utcnow()
            for p in people:
                spent = minutes_on_task(p, now)
                yield {
                    "participant": p.pseudonym,
                    "arm": p.arm,
                    "version": p.version,
                    "status": p.status,
                    "is_pilot": p.is_pilot,
                    **{n: _value(getattr(p, n)) for n in names if n.endswith("_at")},
                    "completed": p.status == "completed",
                    "minutes_on_task": round(spent, 3) if spent is not None else None,
                    "turns": turns.get(p.session_id or "", 0),
                    "attention_failures": failures.get(p.id, 0),
                    "assignment_reason": p.assignment.get("reason"),
                    "assignment_sequence": p.assignment.get("sequence"),
                }
        elif scope.table == "answers":
            items = names[3:-1]
            for p in people:
                answers = (
                    await session.scalars(
                        select(StudyAnswer).where(StudyAnswer.participant_id == p.id)
                    )
                ).all()
                if not answers:
                    continue
                row: dict[str, Any] = {
                    "participant": p.pseudonym,
                    "arm": p.arm,
                    "version": p.version,
                }
                row.update({i: None for i in items})
                for a in answers:
                    if a.item_id in row:
                        row[a.item_id] = a.value.get("v")
                row["attention_failures"] = sum(1 for a in answers if a.attention_ok is False)
                yield row
        else:
            for p in people:
                if p.session_id is None:
                    continue
                key = {"participant": p.pseudonym, "arm": p.arm, "version": p.version}
                if scope.table == "messages":
                    stmt = (
                        select(Query)
                        .where(Query.session_id == p.session_id)
                        .order_by(Query.created_at, Query.id)
                    )
                    calls = (await session.scalars(stmt)).all()
                    steps = await _agent_steps(session, p.session_id)
                    for turn, q in enumerate(calls, start=1):
                        yield {**key, **_message(q, turn, steps.get(q.id))}
                else:
                    stmt2 = select(Event).where(Event.session_id == p.session_id).order_by(Event.id)
                    for e in (await session.scalars(stmt2)).all():
                        yield {
                            **key,
                            "event_id": e.event_id,
                            "t": e.t,
                            "type": e.type,
                            "data": e.data,
                            "received_at": e.received_at.isoformat(),
                        }


async def _agent_steps(session: AsyncSession, session_id: str) -> dict[str, list[AgentStep]]:
    """The session's agent steps by model call, in the order they ran."""
    stmt = (
        select(AgentStep)
        .where(AgentStep.session_id == session_id)
        .order_by(AgentStep.started_at, AgentStep.id)
    )
    out: dict[str, list[AgentStep]] = {}
    for step in (await session.scalars(stmt)).all():
        out.setdefault(step.query_id, []).append(step)
    return out


def _trace(steps: list[AgentStep]) -> list[dict[str, Any]]:
    return [
        {
            "agent": s.agent,
            "status": s.status,
            "latency_ms": s.latency_ms,
            "summary": s.output_summary,
            "error": s.error,
            "model": s.model,
            "input_tokens": s.input_tokens,
            "output_tokens": s.output_tokens,
        }
        for s in steps
    ]


def _message(q: Query, turn: int, steps: list[AgentStep] | None = None) -> dict[str, Any]:
    request = q.request or {}
    system = request.get("system")
    return {
        "turn": turn,
        "query_id": q.id,
        "created_at": q.created_at.isoformat(),
        "provider": q.provider,
        "model": q.model,
        "status": q.status,
        "prompt_hash": hashlib.sha256(system.encode()).hexdigest()
        if isinstance(system, str)
        else None,
        "prompt": request.get("query"),
        "response": q.response_text,
        "input_tokens": q.input_tokens,
        "output_tokens": q.output_tokens,
        "reasoning_tokens": q.reasoning_tokens,
        "latency_ms": q.latency_ms,
        "ttft_ms": q.ttft_ms,
        "citations": len(q.citations or []),
        "citation_sources": q.citations or [],
        "agent_steps": len(steps) if steps else None,
        "agent_trace": _trace(steps) if steps else None,
    }


def parquet_available() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


async def stream(database: Database, scope: ExportScope) -> AsyncIterator[bytes]:
    names = [c[0] for c in scope.columns]
    records = rows(database, scope)
    if scope.format is Format.JSONL:
        async for record in records:
            yield orjson.dumps({n: record.get(n) for n in names}) + b"\n"
    elif scope.format is Format.CSV:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(names)
        async for record in records:
            writer.writerow([csv_cell(_csv(record.get(n))) for n in names])
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode("utf-8")
    else:
        async for chunk in _parquet(records, scope):
            yield chunk


def _csv(value: Any) -> Any:
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


async def _parquet(
    records: AsyncIterator[dict[str, Any]], scope: ExportScope
) -> AsyncIterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow_types = {
        "string": pa.string(),
        "integer": pa.int64(),
        "number": pa.float64(),
        "boolean": pa.bool_(),
        "datetime": pa.string(),
        "json": pa.string(),
    }
    schema = pa.schema([(n, arrow_types[t]) for n, t, _ in scope.columns])
    sink = _Sink()
    writer = pq.ParquetWriter(sink, schema)

    def convert(name: str, kind: str, value: Any) -> Any:
        if value is None:
            return None
        if kind == "json" or isinstance(value, dict | list):
            return orjson.dumps(value).decode()
        if kind == "number":
            return float(value)
        if kind == "string" and not isinstance(value, str):
            return str(value)
        return value

    batch: list[dict[str, Any]] = []

    def flush() -> None:
        table = pa.Table.from_pylist(
            [{n: convert(n, t, r.get(n)) for n, t, _ in scope.columns} for r in batch],
            schema=schema,
        )
        writer.write_table(table)
        batch.clear()

    async for record in records:
        batch.append(record)
        if len(batch) >= PARQUET_ROW_GROUP:
            flush()
            yield sink.take()
    if batch:
        flush()
    writer.close()
    yield sink.take()


class _Sink(io.RawIOBase):
    """A write-only file that hands its bytes over as they are written (streamed Parquet)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._pos += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._pos

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out
