"""Users and API keys (`AUTH_MODE=api_key`): keys are shown once and stored hashed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.core.errors import BadRequest
from llm_platform.core.security import Role, generate_api_key, hash_api_key
from llm_platform.db.models import ApiKey, User
from llm_platform.db.repositories.users import ApiKeyRepository, UserRepository
from llm_platform.services.auth import check_user_id

ROLES = tuple(role.value for role in Role)
# The operator's admin key made at first start on a loopback address (see `operator_key`).
OPERATOR_KEY_FILE = "admin_key"
OPERATOR_USER = "admin"


@dataclass(frozen=True)
class IssuedKey:
    user_id: str
    key_id: str
    key: str
    role: str


async def create_user_with_key(
    db: AsyncSession, user_id: str, *, role: str = "researcher", name: str | None = None
) -> IssuedKey:
    try:
        role = Role.of_key(role).value  # "user": what researcher keys were called before
    except ValueError:
        raise BadRequest(f"role must be one of {', '.join(ROLES)}") from None
    check_user_id(user_id, "user id")
    users = UserRepository(db)
    if await users.get(user_id) is None:
        await users.add(User(id=user_id, name=name))
    key = generate_api_key()
    record = await ApiKeyRepository(db).add(
        ApiKey(user_id=user_id, key_hash=hash_api_key(key), prefix=key[:10], role=role)
    )
    return IssuedKey(user_id=user_id, key_id=record.id, key=key, role=role)


async def has_admin_key(db: AsyncSession) -> bool:
    return await ApiKeyRepository(db).any_active_with_role(Role.ADMIN.value)


async def operator_key(db: AsyncSession, data_dir: Path) -> str | None:
    """The local operator's admin key, for the sign-in link printed at start-up.

    Made once, when no admin key exists, and kept in DATA_DIR/admin_key (mode 0600) so that
    later starts print the same link; None once that key is revoked or the file removed
    while other admin keys exist (the operator manages keys with `llm-platform users`)."""
    path = Path(data_dir) / OPERATOR_KEY_FILE
    keys = ApiKeyRepository(db)
    if path.exists():
        key = path.read_text(encoding="utf-8").strip()
        if await keys.find_active(hash_api_key(key)) is not None:
            return key
    if await has_admin_key(db):
        return None
    try:
        async with db.begin_nested():
            issued = await create_user_with_key(
                db, OPERATOR_USER, role=Role.ADMIN.value, name="Operator"
            )
    except IntegrityError:
        # Several instances starting together on an empty database: one of them made it.
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(issued.key)
    return issued.key
