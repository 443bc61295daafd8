"""`llm-platform study pilot|purge`: against a running server (`--url`, the owner's key) or
this installation's app in process (a short-lived key of the study's owner, revoked after)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from llm_platform.app_state import AppState
from llm_platform.core.config import Settings
from llm_platform.db.repositories.studies import StudyRepository
from llm_platform.db.repositories.users import ApiKeyRepository
from llm_platform.services.studies.pilot import PilotRun, format_report, load_definition
from llm_platform.services.studies.withdrawal import purge_expired
from llm_platform.services.users import create_user_with_key

PILOT_TIMEOUT_S = 300.0


@asynccontextmanager
async def in_process_app(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, AppState]]:
    from llm_platform.main import create_app

    # No warm start: a command that runs for seconds has no use for models loading ahead.
    app = create_app(settings.model_copy(update={"WARM_START": False}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://pilot.invalid", timeout=PILOT_TIMEOUT_S
        ) as client:
            yield client, app.state.platform


async def owner_key(state: AppState, study_id: str) -> tuple[str, str]:
    """A fresh key of the study's owner (key, key id); ValueError for an unknown study."""
    async with state.db.write_sessions() as session:
        study = await StudyRepository(session).get(study_id)
        if study is None:
            raise ValueError(f"no study '{study_id}'")
        issued = await create_user_with_key(session, study.owner_id, role="researcher")
        await session.commit()
    return issued.key, issued.key_id


async def revoke(state: AppState, key_id: str) -> None:
    async with state.db.write_sessions() as session:
        await ApiKeyRepository(session).revoke(key_id)
        await session.commit()


async def run_pilot(
    settings: Settings,
    study_id: str,
    *,
    participants: int,
    url: str | None,
    key: str | None,
    concurrency: int,
    seed: int,
    max_wait_s: float,
) -> tuple[str, bool]:
    """The printed report and whether every simulated participant completed."""
    if url is not None:
        if not key:
            raise ValueError("--url needs the study owner's key (--key or LLM_PLATFORM_KEY)")
        async with httpx.AsyncClient(base_url=url, timeout=PILOT_TIMEOUT_S) as client:
            return await _pilot(client, study_id, key, participants, concurrency, seed, max_wait_s)
    async with in_process_app(settings) as (client, state):
        made_key, key_id = await owner_key(state, study_id)
        try:
            return await _pilot(
                client, study_id, key or made_key, participants, concurrency, seed, max_wait_s
            )
        finally:
            await revoke(state, key_id)


async def _pilot(
    client: httpx.AsyncClient,
    study_id: str,
    key: str,
    participants: int,
    concurrency: int,
    seed: int,
    max_wait_s: float,
) -> tuple[str, bool]:
    try:
        definition = await load_definition(client, study_id, key)
    except Exception as exc:
        raise ValueError(f"cannot load study '{study_id}': {exc}") from None
    run = PilotRun(client, study_id, key, definition, seed=seed, max_wait_s=max_wait_s)
    report = await run.run(participants, concurrency)
    return format_report(report), not report.failed_steps


async def run_purge(settings: Settings) -> dict[str, int]:
    async with in_process_app(settings) as (_client, state):
        return await purge_expired(state.db, state)
