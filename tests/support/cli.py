"""The `llm-platform` command line in-process (typer's runner) against a test's database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from llm_platform.cli import app

runner = CliRunner()


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> Callable[..., Result]:
    """Run the CLI against this test's database, from an empty directory (no .env)."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    env = {
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database_url,
        "AUTH_MODE": "api_key",
        "LOG_LEVEL": "WARNING",
    }

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args), env=env, catch_exceptions=False)

    return invoke


async def run(invoke: Callable[..., Result], *args: str) -> Result:
    # The CLI runs its own event loop (asyncio.run): keep it off the test's loop.
    return await asyncio.to_thread(invoke, *args)
