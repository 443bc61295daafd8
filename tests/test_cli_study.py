"""`llm-platform study pilot|purge`, run in-process on the test's database."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from typer.testing import Result

from llm_platform.core.config import Settings
from tests.conftest import app_client
from tests.support.cli import run
from tests.support.studies import create_study, definition


async def test_study_pilot_and_purge(
    cli_env: Callable[..., Result],
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENABLE_SCRIPTED_PROVIDER", "true")
    async with app_client(make_settings(ENABLE_SCRIPTED_PROVIDER=True)) as client:
        await create_study(client)
        await create_study(client, definition("waits", completion={"min_minutes": 5}))
    # (Retention itself: tests/api/test_studies_data.py.)
    result = await run(cli_env, "study", "purge")
    assert result.exit_code == 0 and "nothing to purge" in result.output
    result = await run(cli_env, "study", "pilot", "trust", "--participants", "6")
    assert result.exit_code == 0, result.output
    assert "completed: 6 (100%)" in result.output
    assert "cold=2, plain=2, warm=2" in result.output
    # A rule the pilot cannot meet in time: reported as the failing step, exit 1.
    result = await run(cli_env, "study", "pilot", "waits", "--participants", "2")
    assert result.exit_code == 1 and "failed steps: progress=2" in result.output
    result = await run(cli_env, "study", "pilot", "nope")
    assert result.exit_code == 2
