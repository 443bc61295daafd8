"""`authenticate()`: one rule for every credential and every user id, HTTP and WebSocket."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from llm_platform.core.config import Settings
from llm_platform.core.errors import Unauthorized, ValidationFailed
from llm_platform.core.security import Credential, ParticipantTokens, Role
from llm_platform.db.engine import create_database
from llm_platform.db.migrate import upgrade
from llm_platform.services.auth import Credentials, authenticate
from llm_platform.services.users import create_user_with_key

TOKENS = ParticipantTokens("test-secret")


@pytest.fixture
def database_url(tmp_path: object) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/auth.db"  # the rules do not depend on the database


async def test_credentials_by_mode(make_settings: Callable[..., Settings]) -> None:
    default = make_settings(TRUST_CLIENT_USER_ID=False)
    trusted = make_settings(TRUST_CLIENT_USER_ID=True)
    keyed = make_settings(AUTH_MODE="api_key", TRUST_CLIENT_USER_ID=True)
    db = create_database(default)
    await upgrade(db.engine)
    try:
        async with db.write_sessions() as session, session.begin():
            key = (await create_user_with_key(session, "ann", role="admin")).key

        async def who(settings: Settings, bearer: str | None, named: str | None = None) -> object:
            return await authenticate(db, TOKENS, settings, Credentials(bearer, named))

        for settings in (default, trusted, keyed):
            p = await who(settings, key)
            assert (p.user_id, p.role, p.credential) == ("ann", Role.ADMIN, Credential.KEY)  # type: ignore[attr-defined]
            p = await who(settings, TOKENS.issue("p-abc"))
            assert (p.user_id, p.credential) == ("p-abc", Credential.TOKEN)  # type: ignore[attr-defined]
            for forged in (
                ParticipantTokens("other-secret").issue("p-abc"),
                TOKENS.issue("p-abc")[:-2] + "xx",
                "pt_" + "a" * 600,
                "lp_unknown",
            ):
                with pytest.raises(Unauthorized):
                    await who(settings, forged)

        # Nobody: anonymous (open), refused (api_key). A placeholder key (an SDK's) is
        # refused, except where client-named ids are trusted: there it is ignored.
        assert (await who(default, None)).user_id is None  # type: ignore[attr-defined]
        with pytest.raises(Unauthorized):
            await who(keyed, None)
        with pytest.raises(Unauthorized):
            await who(default, "sk-placeholder")
        p = await who(trusted, "sk-placeholder", "bob")
        assert (p.user_id, p.credential) == ("bob", Credential.CLAIMED)  # type: ignore[attr-defined]
        with pytest.raises(Unauthorized):
            await who(keyed, "sk-placeholder", "bob")

        # X-User-ID: only where trusted, by the one user-id rule, never a token holder's id.
        with pytest.raises(Unauthorized, match="TRUST_CLIENT_USER_ID"):
            await who(default, None, "bob")
        for bad in ("x" * 129, "a\x00b", "a\tb", "a b", "é"):
            with pytest.raises(ValidationFailed):
                await who(trusted, None, bad)
        with pytest.raises(Unauthorized, match="token"):
            await who(trusted, None, "p-abc")
    finally:
        await db.dispose()
