from __future__ import annotations

from sqlalchemy import select

from llm_platform.db.models import ApiKey, User, utcnow
from llm_platform.db.repositories.base import Repository


class UserRepository(Repository[User]):
    model = User

    async def list_all(self) -> list[User]:
        return list((await self.session.scalars(select(User).order_by(User.created_at))).all())


class ApiKeyRepository(Repository[ApiKey]):
    model = ApiKey

    async def find_active(self, key_hash: str) -> ApiKey | None:
        stmt = select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        return (await self.session.scalars(stmt)).first()

    async def any_active_with_role(self, role: str) -> bool:
        stmt = select(ApiKey.id).where(ApiKey.role == role, ApiKey.revoked_at.is_(None)).limit(1)
        return (await self.session.execute(stmt)).first() is not None

    async def list_for_user(self, user_id: str) -> list[ApiKey]:
        stmt = select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.created_at)
        return list((await self.session.scalars(stmt)).all())

    async def revoke(self, key_id_or_prefix: str) -> int:
        stmt = select(ApiKey).where(
            (ApiKey.id == key_id_or_prefix) | (ApiKey.prefix == key_id_or_prefix),
            ApiKey.revoked_at.is_(None),
        )
        keys = list((await self.session.scalars(stmt)).all())
        for key in keys:
            key.revoked_at = utcnow()
        await self.session.flush()
        return len(keys)
