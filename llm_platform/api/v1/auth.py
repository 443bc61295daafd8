"""Who the caller is, and participant tokens for newcomers (AUTH_MODE=open)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from llm_platform.api.deps import AnyCaller, State, client_ip
from llm_platform.api.json_body import JSONRoute
from llm_platform.core.config import AuthMode
from llm_platform.core.errors import Forbidden
from llm_platform.core.security import new_participant_id
from llm_platform.schemas.auth import Me, ParticipantIssued

router = APIRouter(prefix="/auth", tags=["auth"], route_class=JSONRoute)


@router.get("/me", response_model=Me)
async def me(state: State, user: AnyCaller) -> Me:
    """401 for a missing (in `api_key` mode), unknown or revoked key or token."""
    return Me(
        auth_mode=state.settings.AUTH_MODE.value,
        user_id=user.user_id,
        role=user.role.value if user.user_id is not None else None,
        is_admin=user.is_admin,
        is_staff=user.is_staff and user.user_id is not None,
        authenticated=user.authenticated,
        credential=user.credential.value,
        participant_signup=state.settings.AUTH_MODE is AuthMode.OPEN,
    )


@router.post("/participant", response_model=ParticipantIssued, status_code=201)
async def new_participant(request: Request, state: State) -> ParticipantIssued:
    """A new anonymous participant and the signed token that identifies them. Rationed per
    client IP (RATE_LIMIT_NEW_PARTICIPANTS_PER_MINUTE_IP); refused in AUTH_MODE=api_key."""
    await state.rate_limiter.check_ip(client_ip(request))
    if state.settings.AUTH_MODE is not AuthMode.OPEN:
        raise Forbidden("This server admits participants with API keys only (AUTH_MODE=api_key)")
    await state.rate_limiter.check_new_participant(client_ip(request))
    user_id = new_participant_id()
    return ParticipantIssued(user_id=user_id, token=state.tokens.issue(user_id))
