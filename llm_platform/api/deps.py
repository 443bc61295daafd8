"""Route dependencies: app state, the per-request transaction, the caller, rate limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.app_state import AppState
from llm_platform.core.config import Settings
from llm_platform.core.errors import ServiceUnavailable
from llm_platform.core.security import Principal
from llm_platform.rag.lifecycle import RagDisabled, RagServices
from llm_platform.services.auth import Credentials, authenticate, bearer_of, require_identity

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


def client_ip(request: Request) -> str | None:
    # Behind TRUSTED_PROXIES, uvicorn has already replaced the peer with the forwarded client.
    return request.client.host if request.client else None


async def get_principal(request: Request, state: State) -> Principal:
    """Who is asking, or an anonymous principal (for the few routes open to anyone)."""
    await state.rate_limiter.check_ip(client_ip(request))
    headers = request.headers
    principal = await authenticate(
        state.db,
        state.tokens,
        state.settings,
        Credentials(bearer_of(headers.get("authorization")), headers.get("x-user-id") or None),
    )
    await state.rate_limiter.check_principal(principal, client_ip(request))
    return principal


async def get_current_user(request: Request, state: State) -> Principal:
    """A caller with an identity, or (where client-named ids are trusted) one who may name
    it in the request; anybody else is asked to sign in (401)."""
    return require_identity(await get_principal(request, state))


async def get_staff(user: Annotated[Principal, Depends(get_current_user)]) -> Principal:
    user.require_staff()
    return user


AnyCaller = Annotated[Principal, Depends(get_principal)]
Staff = Annotated[Principal, Depends(get_staff)]
CurrentUser = Annotated[Principal, Depends(get_current_user)]


async def get_rag(request: Request) -> RagServices:
    rag = state_of(request).rag
    if isinstance(rag, RagDisabled):
        raise ServiceUnavailable("Files and RAG are not available on this server")
    return rag


RagDep = Annotated[RagServices, Depends(get_rag)]
