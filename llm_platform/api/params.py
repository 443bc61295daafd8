"""Path and query parameter types shared by the API routes.

Every string that reaches a query is bounded and cannot carry what PostgreSQL refuses
(NUL, control characters): a bad value is a 422, never a database error.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import StringConstraints

from llm_platform.schemas.common import ID_PATTERN, SafeStr

# Ids of stored objects in paths (sessions, experiments): the shape ClientId accepts.
PathId = Annotated[str, Path(min_length=1, max_length=128, pattern=ID_PATTERN)]
Limit = Annotated[int, Query(ge=1, le=1000)]
# Keyset cursor of /sessions and /queries (opaque base64).
Cursor = Annotated[str | None, Query(max_length=512, pattern=r"^[A-Za-z0-9_\-=]+$")]
# Cursor of event listings: the last row number seen (fits a signed 64-bit integer).
EventCursor = Annotated[str | None, Query(pattern=r"^\d{1,18}$")]
EventType = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")
]
# Free text in a query string (bounded, no NUL or control character).
SafeQuery = Annotated[SafeStr | None, Query()]
EventTypeFilter = Annotated[list[EventType] | None, Query(max_length=50)]
