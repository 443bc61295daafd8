"""The server's signing secret: SECRET_KEY, or one generated once and kept in DATA_DIR."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from llm_platform.core.config import Settings

SECRET_FILE = "secret_key"


def load_secret(settings: Settings) -> str:
    """SECRET_KEY when set; else the secret in DATA_DIR/secret_key, created (mode 0600) on
    first use. Instances sharing a database must share the secret (set SECRET_KEY)."""
    if settings.SECRET_KEY is not None:
        return settings.SECRET_KEY.get_secret_value()
    path = Path(settings.DATA_DIR) / SECRET_FILE
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: theirs is the one
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value)
    return value
