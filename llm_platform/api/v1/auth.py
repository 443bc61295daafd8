"""Who the caller is: lets a client check an API key and show whom it signed in as."""

from __future__ import annotations

from fastapi import APIRouter

from llm_platform.api.deps import CurrentUser, State
from llm_platform.api.json_body import JSONRoute
from llm_platform.schemas.auth import Me

router = APIRouter(prefix="/auth", tags=["auth"], route_class=JSONRoute)


@router.get("/me", response_model=Me)
async def me(state: State, user: CurrentUser) -> Me:
    """401 for a missing, unknown or revoked key in `api_key` mode."""
    return Me(
        auth_mode=state.settings.AUTH_MODE.value,
        user_id=user.user_id,
        is_admin=user.is_admin,
        authenticated=user.authenticated,
    )
