from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Query, Response, UploadFile
from fastapi import File as FileField
from fastapi.responses import StreamingResponse

from llm_platform.api.deps import CurrentUser, DbSession, RagDep
from llm_platform.api.params import PathId
from llm_platform.schemas.common import ClientId
from llm_platform.schemas.files import FileList, FileOut, FileUploaded
from llm_platform.services import files as file_service

router = APIRouter(prefix="/files", tags=["files"])


@router.post("/upload", response_model=FileUploaded, status_code=201)
async def upload_file(
    file: Annotated[UploadFile, FileField(description="The document, image or audio file")],
    db: DbSession,
    user: CurrentUser,
    rag: RagDep,
    background: BackgroundTasks,
    response: Response,
    user_id: Annotated[
        ClientId | None, Form(description="Open mode: the user the file is for")
    ] = None,
) -> FileUploaded:
    result = await file_service.upload(db, rag.runtime, user.acting_as(user_id), file)
    if result.job is not None:
        # Background tasks run after the response, i.e. after the request's commit.
        background.add_task(rag.queue.enqueue, *result.job)
    if result.deduplicated:
        response.status_code = 200
    return FileUploaded.model_validate(
        {**FileOut.model_validate(result.file).model_dump(), "deduplicated": result.deduplicated}
    )


@router.get("", response_model=FileList)
async def list_files(
    db: DbSession,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> FileList:
    rows = await file_service.list_visible(db, user, limit=limit, offset=offset)
    return FileList(items=[FileOut.model_validate(r) for r in rows])


@router.get("/{file_id}", response_model=FileOut)
async def get_file(file_id: PathId, db: DbSession, user: CurrentUser) -> FileOut:
    return FileOut.model_validate(await file_service.get_visible(db, user, file_id))


@router.get("/{file_id}/content")
async def get_file_content(
    file_id: PathId, db: DbSession, user: CurrentUser, rag: RagDep
) -> StreamingResponse:
    record = await file_service.get_visible(db, user, file_id)
    media_type, headers = file_service.content_type_and_headers(record)
    return StreamingResponse(
        rag.runtime.storage.iter_bytes(record.storage_key), media_type=media_type, headers=headers
    )


@router.delete("/{file_id}", status_code=204)
async def delete_file(
    file_id: PathId, db: DbSession, user: CurrentUser, rag: RagDep, background: BackgroundTasks
) -> Response:
    key = await file_service.delete(db, rag.runtime, user, file_id)
    background.add_task(file_service.delete_blob, rag.runtime, key)
    return Response(status_code=204, background=background)
