"""What the serving process sets for itself (`server.configure_process`), and what building
an engine no longer does to the process."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_platform.core.config import Settings
from llm_platform.db.engine import create_database
from llm_platform.server import (
    SQLITE_SWITCH_INTERVAL_S,
    GuardedHttpToolsProtocol,
    configure_process,
)


@pytest.fixture
def switch_interval() -> Iterator[float]:
    before = sys.getswitchinterval()
    timeouts = GuardedHttpToolsProtocol.header_timeout, GuardedHttpToolsProtocol.body_timeout
    sys.setswitchinterval(0.005)
    yield 0.005
    sys.setswitchinterval(before)
    GuardedHttpToolsProtocol.header_timeout, GuardedHttpToolsProtocol.body_timeout = timeouts


def settings(tmp_path: Path, url: str | None = None) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, DATA_DIR=tmp_path, DATABASE_URL=url, HEADER_TIMEOUT_SECONDS=3
    )


async def test_building_an_engine_leaves_the_process_alone(
    tmp_path: Path, switch_interval: float
) -> None:
    db = create_database(settings(tmp_path))
    await db.dispose()
    assert sys.getswitchinterval() == switch_interval


def test_a_sqlite_serving_process_shortens_the_switch_interval(
    tmp_path: Path, switch_interval: float
) -> None:
    configure_process(settings(tmp_path))
    assert sys.getswitchinterval() == pytest.approx(SQLITE_SWITCH_INTERVAL_S)
    assert GuardedHttpToolsProtocol.header_timeout == 3


def test_a_postgresql_serving_process_keeps_it(tmp_path: Path, switch_interval: float) -> None:
    configure_process(settings(tmp_path, "postgresql://u:p@127.0.0.1:1/db"))
    assert sys.getswitchinterval() == switch_interval
