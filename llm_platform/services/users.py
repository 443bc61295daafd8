"""Users and API keys (`AUTH_MODE=api_key`): keys are shown once and stored hashed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.core.errors import BadRequest
from llm_platform.core.security import generate_api_key, hash_api_key
from llm_platform.db.models import ApiKey, User
from llm_platform.db.repositories.users import ApiKeyRepository, UserRepository

ROLES = ("user", "admin")


@dataclass(frozen=True)
class IssuedKey:
    user_id: str
    key_id: str
    key: str
    role: str


async def create_user_with_key(
    db: AsyncSession, user_id: str, *, role: str = "user", name: str | None = None
) -> IssuedKey:
    if role not in ROLES:
        raise BadRequest(f"role must be one of {', '.join(ROLES)}")
    users = UserRepository(db)
    if await users.get(user_id) is None:
        await users.add(User(id=user_id, name=name))
    key = generate_api_key()
    record = await ApiKeyRepository(db).add(
        ApiKey(user_id=user_id, key_hash=hash_api_key(key), prefix=key[:10], role=role)
    )
    return IssuedKey(user_id=user_id, key_id=record.id, key=key, role=role)
