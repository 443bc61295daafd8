"""Opaque keyset cursors: `(timestamp, id)` pairs encoded as url-safe base64 JSON."""

from __future__ import annotations

import base64
from datetime import datetime

import orjson

from llm_platform.core.errors import BadRequest


def encode_cursor(at: datetime, ident: str | int) -> str:
    raw = orjson.dumps([at.isoformat(), ident])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str | int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, ident = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(ident, str | int):
            raise ValueError("bad id")
        return datetime.fromisoformat(at), ident
    except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
        raise BadRequest("Invalid cursor") from exc
