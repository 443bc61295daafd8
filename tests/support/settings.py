"""Settings for an app a test builds on its own (outside the `make_settings` fixture): SQLite in
a directory, no .env file, no rate limits, no warm start; each test adds what it is about."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llm_platform.core.config import Settings


def sqlite_settings(directory: Path, db_name: str = "app.db", **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "DATA_DIR": directory / "data",
        "DATABASE_URL": f"sqlite+aiosqlite:///{directory / db_name}",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_PER_MINUTE": 0,
        "RATE_LIMIT_PER_MINUTE_IP": 0,
        "WARM_START": False,
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)
