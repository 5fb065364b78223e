"""Routes for checkpoint uploads: store one (streamed, size-limited), start a run from it."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, status
from fastapi.concurrency import run_in_threadpool

from app.runs import lifecycle
from app.runs.data_paths import check_data_paths
from app.storage import uploads
from app.web.deps import DispatcherDep, FilesDep, RowId, SessionDep, SettingsDep
from app.web.error_handlers import errors
from app.web.shape_base import Shape
from app.web.shapes import RunPublic
from trainer.config import RunConfig

router = APIRouter(prefix="/api/uploads", tags=["uploads"])


class UploadPublic(Shape):
    id: int
    filename: str
    size_bytes: int


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Upload a model state_dict file (the raw body, application/octet-stream)",
    responses=errors(413, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def create_upload(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    files: FilesDep,
    filename: str = Query("checkpoint.pt", max_length=255),
) -> UploadPublic:
    length = request.headers.get("content-length")
    received, size = await uploads.receive_upload(
        request.stream(),
        files.upload_receiving_dir(),
        settings.max_upload_bytes,
        int(length) if length and length.isdigit() else None,
    )
    # Into the uploads folder or the bucket, so a worker on another node can read it.
    location = await run_in_threadpool(files.publish_upload, received)
    upload = uploads.record_upload(session, filename, location, size)
    session.commit()
    return UploadPublic(id=upload.id, filename=upload.filename, size_bytes=upload.size_bytes)


@router.post(
    "/{upload_id}/runs",
    status_code=status.HTTP_201_CREATED,
    summary="Queue a new run whose model starts from an uploaded state_dict",
    responses=errors(400, 404, 422),
)
def create_run_from_upload(
    upload_id: RowId,
    config: RunConfig,
    session: SessionDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
) -> RunPublic:
    uploads.get_upload(session, upload_id)
    config = check_data_paths(config, settings.allowed_data_roots)
    run = lifecycle.create_run(session, config, upload_id=upload_id)
    session.commit()
    if dispatcher is not None:
        dispatcher.wake()
    return RunPublic.of(run)
