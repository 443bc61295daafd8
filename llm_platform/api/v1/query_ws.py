"""`GET /api/v1/ws/query`: the query stream over a WebSocket, several queries per connection.

Client messages (JSON): `{"type": "query", ...QueryRequest, "ref": "..."}` starts a stream;
`{"type": "stop", "stream_id": "..."}` cancels it (all of this connection's without an id);
`{"type": "resume", "stream_id": "...", "last_event_id": N}` replays and follows a stream;
`{"type": "ping"}`. Server messages are the stream frames (`start`, `thought`, `token`,
`citation`, `usage`, `done`, `error`) with `id` and `stream_id` added; a query rejected
before it starts gets `{"type": "error", "status": "rejected", "http_status": 4xx, "ref"}`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from llm_platform.app_state import AppState
from llm_platform.core.errors import AppError, ValidationFailed
from llm_platform.core.security import Credential, Principal
from llm_platform.schemas.query import QueryRequest
from llm_platform.services.auth import (
    Credentials,
    authenticate,
    bearer_of,
    key_still_valid,
    require_identity,
)
from llm_platform.services.query import service as query_service
from llm_platform.services.query.runtime import QueryRuntime
from llm_platform.services.query.service import OpenedStream
from llm_platform.services.streams.formats import ws_message

router = APIRouter(tags=["query"])


def _credentials(ws: WebSocket) -> Credentials:
    """Headers, or query parameters for what browsers cannot put in a WebSocket's headers."""
    params = ws.query_params
    bearer = bearer_of(ws.headers.get("authorization"))
    bearer = bearer or params.get("token") or params.get("api_key") or None
    named = ws.headers.get("x-user-id") or params.get("user_id") or None
    return Credentials(bearer, named)


def _client_ip(ws: WebSocket) -> str | None:
    return ws.client.host if ws.client else None


class _Connection:
    def __init__(self, ws: WebSocket, runtime: QueryRuntime, state: AppState, user: Principal):
        self.ws = ws
        self.runtime = runtime
        self.state = state
        self.user = user
        self.lock = asyncio.Lock()
        self.forwarders: dict[str, asyncio.Task[None]] = {}
        self.started: set[str] = set()  # streams this connection started

    async def send(self, message: dict[str, Any]) -> None:
        async with self.lock:
            await self.ws.send_text(orjson.dumps(message).decode())

    async def reject(self, error: AppError, ref: Any) -> None:
        await self.send(
            {
                "type": "error",
                "error": error.detail,
                "code": error.type,
                "status": "rejected",
                "http_status": error.status_code,
                "ref": ref,
            }
        )

    async def start_query(self, message: dict[str, Any]) -> None:
        ref = message.get("ref")
        try:
            # Every query counts against the caller's limits, as an HTTP request would.
            limiter = self.state.rate_limiter
            await limiter.check_ip(_client_ip(self.ws))
            await limiter.check_principal(self.user, _client_ip(self.ws))
            payload = QueryRequest.model_validate(message)
            plan = await query_service.prepare(self.runtime, self.user, payload)
            opened = await query_service.stream(self.runtime, plan, wait_first=False)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"]) or "body"
            await self.reject(ValidationFailed(f"{loc}: {first['msg']}"), ref)
            return
        except AppError as exc:
            await self.reject(exc, ref)
            return
        self.started.add(opened.stream_id)
        self._forward_in_background(opened.stream_id, self._forward(opened, ref))

    def follow(self, stream_id: str, after: int, ref: Any) -> None:
        """Resume a stream (only its owner may)."""
        self._forward_in_background(stream_id, self._resume(stream_id, after, ref))

    def _forward_in_background(self, stream_id: str, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self.forwarders[stream_id] = task
        task.add_done_callback(lambda _: self.forwarders.pop(stream_id, None))

    async def _resume(self, stream_id: str, after: int, ref: Any) -> None:
        try:
            caller = None if stream_id in self.started else self.user  # resuming: owner only
            opened = await query_service.open_stream(self.runtime, stream_id, after, caller=caller)
        except AppError as exc:
            await self.reject(exc, ref)
            return
        await self._forward(opened, ref)

    async def _forward(self, opened: OpenedStream, ref: Any) -> None:
        stream_id, frames = opened.stream_id, opened.frames
        try:
            for frame in opened.head:
                await self.send(ws_message(frame, stream_id))
            async for item in frames:
                if item is None:
                    await self.send({"type": "ping", "stream_id": stream_id})
                    continue
                message = ws_message(item, stream_id)
                if ref is not None and item.type == "start":
                    message["ref"] = ref
                await self.send(message)
        finally:
            aclose = getattr(frames, "aclose", None)
            if aclose is not None:
                await aclose()

    async def stop(self, stream_id: str | None) -> None:
        targets = [stream_id] if stream_id else list(self.forwarders)
        for target in targets:
            with contextlib.suppress(AppError):  # unknown, ended or another user's: no-op
                await query_service.cancel_stream(self.runtime, target, self.user)

    async def close(self) -> None:
        """The client left: stop forwarding (the generations go on, resumable)."""
        for task in list(self.forwarders.values()):
            task.cancel()
        for task in list(self.forwarders.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


@router.websocket("/ws/query")
async def query_websocket(ws: WebSocket) -> None:
    state: AppState = ws.app.state.platform
    runtime = state.query
    try:
        credentials = _credentials(ws)
        await state.rate_limiter.check_ip(_client_ip(ws))
        user = require_identity(
            await authenticate(state.db, state.tokens, state.settings, credentials)
        )
        await state.rate_limiter.check_principal(user, _client_ip(ws))
    except AppError as exc:
        code = {401: 4401, 403: 4403, 422: 4422, 429: 4429}.get(exc.status_code, 1011)
        await ws.close(code=code, reason=exc.detail[:120])
        return
    await ws.accept()
    conn = _Connection(ws, runtime, state, user)
    watcher = None
    if user.credential is Credential.KEY and credentials.bearer is not None:
        watcher = asyncio.create_task(_watch_key(conn, credentials.bearer))
    try:
        while True:
            received = await ws.receive()
            if received["type"] == "websocket.disconnect":
                break
            raw = received.get("text") or received.get("bytes") or b""
            try:
                message = orjson.loads(raw)
                if not isinstance(message, dict):
                    raise ValueError
            except ValueError:
                await conn.reject(ValidationFailed("Messages must be JSON objects"), None)
                continue
            kind = message.get("type", "query")
            if kind == "query":
                await conn.start_query(message)
            elif kind == "stop":
                await conn.stop(message.get("stream_id"))
            elif kind == "resume" and isinstance(message.get("stream_id"), str):
                after = message.get("last_event_id") or 0
                conn.follow(message["stream_id"], int(after), message.get("ref"))
            elif kind == "ping":
                await conn.send({"type": "pong"})
            else:
                await conn.reject(ValidationFailed(f"Unknown message type '{kind}'"), None)
    except (WebSocketDisconnect, RuntimeError):  # RuntimeError: closed by _watch_key
        pass
    finally:
        if watcher is not None:
            watcher.cancel()
        await conn.close()


async def _watch_key(conn: _Connection, key: str) -> None:
    """A key revoked while its socket is open ends the socket and its generations."""
    state = conn.state
    while True:
        await asyncio.sleep(state.settings.WS_REAUTH_SECONDS)
        if await key_still_valid(state.db, key):
            continue
        for stream_id in list(conn.started):
            with contextlib.suppress(AppError):
                await query_service.cancel_stream(conn.runtime, stream_id, conn.user)
        with contextlib.suppress(RuntimeError):
            await conn.ws.close(code=4401, reason="API key revoked")
        return
