"""Route dependencies: app state, the per-request transaction, the caller, rate limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.core.config import AuthMode, Settings
from llm_platform.core.errors import ServiceUnavailable, Unauthorized
from llm_platform.core.security import Principal, hash_api_key
from llm_platform.core.state import AppState, RagServices
from llm_platform.db.repositories.users import ApiKeyRepository

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.platform
    return state


# Dependencies are `async def`: FastAPI runs plain `def` dependencies in a worker thread,
# a thread hop per request that costs more than the lookup itself.
async def get_state(request: Request) -> AppState:
    return state_of(request)


async def get_settings(request: Request) -> Settings:
    return state_of(request).settings


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the endpoint returns, before the
    response is sent (so an acknowledgement always means committed), rolled back on error."""
    db = state_of(request).db
    maker = db.read_sessions if request.method in _READ_METHODS else db.write_sessions
    async with maker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


State = Annotated[AppState, Depends(get_state)]
DbSession = Annotated[AsyncSession, Depends(get_db_session, scope="function")]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


async def get_current_user(request: Request, state: State) -> Principal:
    settings = state.settings
    await state.rate_limiter.check_ip(request.client.host if request.client else None)
    if settings.AUTH_MODE is AuthMode.API_KEY:
        key = _bearer(request)
        if key is None:
            raise Unauthorized("Missing API key: send 'Authorization: Bearer <key>'")
        # A short read of its own, not the request's transaction: on SQLite a write request's
        # first statement takes the database's write lock, which must not be held while the
        # body is validated and the endpoint prepares its rows.
        async with state.db.read_sessions() as session:
            found = await ApiKeyRepository(session).find_active(hash_api_key(key))
        if found is None:
            raise Unauthorized("Invalid or revoked API key")
        principal = Principal(
            user_id=found.user_id, is_admin=found.role == "admin", authenticated=True
        )
    else:
        named = request.headers.get("x-user-id") or None
        principal = Principal(user_id=named)
    await state.rate_limiter.check_user(principal.user_id)
    return principal


CurrentUser = Annotated[Principal, Depends(get_current_user)]


async def get_rag(request: Request) -> RagServices:
    rag = state_of(request).rag
    if rag is None:
        raise ServiceUnavailable("Files and RAG are not available on this server")
    return rag


RagDep = Annotated[RagServices, Depends(get_rag)]
