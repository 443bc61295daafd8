from __future__ import annotations

from pydantic import BaseModel


class Me(BaseModel):
    """The caller as the server sees it (a sign-in form checks a key with this)."""

    auth_mode: str  # "open" | "api_key"
    user_id: str | None  # None in open mode when the client named nobody
    is_admin: bool
    authenticated: bool  # true for an API-key caller
