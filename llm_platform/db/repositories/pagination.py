"""Opaque keyset cursors: `(timestamp, id)` pairs encoded as url-safe base64 JSON."""

from __future__ import annotations

import base64
import re
from datetime import datetime

import orjson

from llm_platform.core.errors import BadRequest

# Cursors carry row ids we generated or validated on the way in (see schemas.common.ClientId).
_ID = re.compile(r"^[A-Za-z0-9._:@\-]{1,128}$")


def encode_cursor(at: datetime, ident: str) -> str:
    raw = orjson.dumps([at.isoformat(), ident])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor names; anything that is not one of ours is a 400."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(decoded, list) or len(decoded) != 2:
            raise ValueError("not a cursor")
        at, ident = decoded
        if not isinstance(at, str) or not isinstance(ident, str) or not _ID.fullmatch(ident):
            raise ValueError("not a cursor")
        return datetime.fromisoformat(at), ident
    except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
        raise BadRequest("Invalid cursor") from exc
