from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Me(BaseModel):
    """The caller as the server sees it (a sign-in form checks a key with this)."""

    auth_mode: str  # "open" | "api_key"
    user_id: str | None  # None for a caller who sent no credentials
    role: Literal["participant", "researcher", "admin"] | None  # None: nobody
    is_admin: bool
    is_staff: bool  # researcher or admin
    authenticated: bool  # proved by an API key or a participant token
    credential: Literal["key", "token", "claimed", "none"]
    # Participants may get a token from POST /api/v1/auth/participant (AUTH_MODE=open).
    participant_signup: bool


class ParticipantIssued(BaseModel):
    """A new participant: the token identifies them on every later request (keep it)."""

    user_id: str
    token: str
    role: Literal["participant"] = "participant"
