"""Who is asking: the `Principal` every endpoint receives from `get_current_user`."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace

from llm_platform.core.errors import BadRequest, Forbidden, NotFound

API_KEY_PREFIX = "lp_"


def generate_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """The caller.

    `user_id` is None only in open mode when the client named nobody: such a caller acts
    unscoped (open mode has no authentication by design). `authenticated` is true for an
    API-key caller, who cannot act as another user unless the key has the admin role.
    """

    user_id: str | None
    is_admin: bool = False
    authenticated: bool = False

    def acting_user(self, requested: str | None) -> str:
        """The user an action is done for: the requested one if the caller may name it."""
        if requested is not None and requested != self.user_id:
            if self.authenticated and not self.is_admin:
                raise Forbidden("An API key may only act for its own user")
            if self.user_id is not None and not self.authenticated:
                raise BadRequest("user_id in the request differs from the X-User-ID header")
            return requested
        if self.user_id is None:
            raise BadRequest("user_id is required")
        return self.user_id

    def acting_as(self, requested: str | None) -> Principal:
        """This caller acting for `requested` (by the rules of `acting_user`); itself when
        nobody is named. For endpoints whose body cannot carry the user as JSON (uploads)."""
        if requested is None:
            return self
        return replace(self, user_id=self.acting_user(requested))

    def user_filter(self, requested: str | None) -> str | None:
        """For listings: whose objects to show (None = everyone's, for unscoped readers)."""
        if requested is not None:
            if requested != self.user_id and self.authenticated and not self.is_admin:
                raise Forbidden("An API key may only read its own user's data")
            return requested
        if self.is_admin or self.user_id is None:
            return None
        return self.user_id

    def can_access(self, owner_id: str) -> bool:
        return self.is_admin or self.user_id is None or owner_id == self.user_id

    def check_owner(self, owner_id: str, what: str) -> None:
        """Another user's object answers exactly like a missing one: no existence leak."""
        if not self.can_access(owner_id):
            raise NotFound(f"{what} not found")

    def require_admin(self) -> None:
        if self.authenticated and not self.is_admin:
            raise Forbidden("This needs an admin API key")
