"""Authentication: one `authenticate()` for HTTP requests and WebSockets."""

from __future__ import annotations

import re
from dataclasses import dataclass

from llm_platform.core.config import AuthMode, Settings
from llm_platform.core.errors import Unauthorized, ValidationFailed
from llm_platform.core.identifiers import ID_PATTERN, MAX_ID_CHARS
from llm_platform.core.security import (
    API_KEY_PREFIX,
    NO_IDENTITY,
    PARTICIPANT_TOKEN_PREFIX,
    Credential,
    ParticipantTokens,
    Principal,
    Role,
    hash_api_key,
    is_token_participant,
)
from llm_platform.db.engine import Database
from llm_platform.db.repositories.users import ApiKeyRepository

_USER_ID = re.compile(ID_PATTERN)
_MAX_SECRET_CHARS = 512
_OUR_PREFIXES = (API_KEY_PREFIX, PARTICIPANT_TOKEN_PREFIX)


@dataclass(frozen=True)
class Credentials:
    """What a request presents: a bearer secret (header, or a WebSocket query parameter) and
    a client-named user id (X-User-ID)."""

    bearer: str | None
    named_user: str | None


def bearer_of(authorization: str | None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return None


def check_user_id(value: str, where: str) -> str:
    """The one rule for user ids, wherever they come from (header, token, key, body)."""
    if len(value) > MAX_ID_CHARS or not _USER_ID.match(value):
        raise ValidationFailed(
            f"{where}: a user id is 1-128 letters, digits or . _ : @ - characters"
        )
    return value


async def authenticate(
    db: Database, tokens: ParticipantTokens, settings: Settings, credentials: Credentials
) -> Principal:
    secret = credentials.bearer
    trusted = settings.trust_client_user_id and settings.AUTH_MODE is AuthMode.OPEN
    if secret is not None and trusted and not secret.startswith(_OUR_PREFIXES):
        secret = None  # e.g. an OpenAI SDK's placeholder key, where client-named ids are trusted
    if secret is not None:
        if len(secret) > _MAX_SECRET_CHARS:
            raise Unauthorized("Invalid API key or token")
        if secret.startswith(PARTICIPANT_TOKEN_PREFIX):
            return Principal(user_id=tokens.verify(secret), credential=Credential.TOKEN)
        return await principal_for_key(db, secret)
    if settings.AUTH_MODE is AuthMode.API_KEY:
        raise Unauthorized("Missing API key: send 'Authorization: Bearer <key>'")
    named = credentials.named_user
    if named:
        if not trusted:
            raise Unauthorized(
                "X-User-ID is not accepted on this server (TRUST_CLIENT_USER_ID is off). "
                + NO_IDENTITY
            )
        check_user_id(named, "X-User-ID")
        if is_token_participant(named):
            raise Unauthorized("This user id belongs to a participant with a token: send the token")
        return Principal(user_id=named, credential=Credential.CLAIMED, may_claim=True)
    return Principal(user_id=None, may_claim=trusted)


def require_identity(principal: Principal) -> Principal:
    """A caller with an identity, or (where client-named ids are trusted) one who may name
    it in the request; anybody else is asked to sign in (401)."""
    if principal.user_id is None and not principal.may_claim:
        raise Unauthorized(NO_IDENTITY)
    return principal


async def principal_for_key(db: Database, key: str) -> Principal:
    """An API key's principal; Unauthorized when unknown or revoked."""
    if not key.startswith(API_KEY_PREFIX) or len(key) > _MAX_SECRET_CHARS:
        raise Unauthorized("Invalid or revoked API key")
    # A short read of its own, not the request's transaction: on SQLite a write request's
    # first statement takes the database's write lock, which must not be held while the
    # body is validated and the endpoint prepares its rows.
    async with db.read_sessions() as session:
        found = await ApiKeyRepository(session).find_active(hash_api_key(key))
    if found is None:
        raise Unauthorized("Invalid or revoked API key")
    return Principal(user_id=found.user_id, role=Role.of_key(found.role), credential=Credential.KEY)


async def key_still_valid(db: Database, key: str) -> bool:
    try:
        await principal_for_key(db, key)
    except Unauthorized:
        return False
    return True
