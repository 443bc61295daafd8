"""`GET /api/v1/files/` (trailing slash, `?user_id=`): the old client's file list.

The old client's other file calls are the v1 routes' own paths and are served by them:
`POST /api/v1/files/upload` (multipart `file` + `user_id` form field), `GET` and `DELETE
/api/v1/files/{id}`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from llm_platform.api.deps import CurrentUser, DbSession
from llm_platform.api.json_body import JSONRoute
from llm_platform.api.legacy.schemas import LegacyFile, LegacyFileList
from llm_platform.core.file_status import FileStatus
from llm_platform.schemas.common import ClientId
from llm_platform.schemas.files import FileOut
from llm_platform.services import files as file_service

router = APIRouter(tags=["legacy client"], route_class=JSONRoute)


@router.get("/files/", response_model=LegacyFileList)
async def list_files(
    db: DbSession,
    user: CurrentUser,
    user_id: ClientId | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> LegacyFileList:
    """Newest first; `user_id` narrows the list to that user's files."""
    rows = await file_service.list_visible(db, user.acting_as(user_id), limit=limit, offset=0)
    files = [legacy_file(FileOut.model_validate(r)) for r in rows]
    return LegacyFileList(files=files, count=len(files))


def legacy_file(out: FileOut) -> LegacyFile:
    return LegacyFile(
        **out.model_dump(),
        file_id=out.id,
        filename=out.name,
        size=out.size_bytes,
        mime_type=out.media_type,
        uploaded_at=out.created_at,
        processed=out.status == FileStatus.READY,
    )
