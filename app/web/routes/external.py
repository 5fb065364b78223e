"""Routes for runs trained elsewhere: create one, report its rows, upload its checkpoints, attach
a restarted process to it, end it.

The tracking module (`torchdash_track`, pointed at a server) is their client; docs/api.md has
the shapes. A report or an upload for a run that is not external, or has ended, is a 409.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from app.errors import ConfigError, UploadTooLarge
from app.runs import external
from app.storage import checkpoint_rows, uploads
from app.storage.tables import RunStatus
from app.storage.torch_pickle import UnsafePickle, check_weights_only
from app.web.deps import SQL_INT_MAX, FilesDep, RowId, SessionDep, SettingsDep, header_number
from app.web.error_handlers import errors
from app.web.external_shapes import (
    ExternalRunCreate,
    FinishRequest,
    ReportPublic,
    ReportRequest,
)
from app.web.shapes import CheckpointPublic, RunPublic
from trainer.checkpoints.store import MODEL_FILE, OPTIMIZER_FILE, STATE_FILE

router = APIRouter(prefix="/api/runs", tags=["runs trained elsewhere"])

# The multipart fields of a checkpoint upload, and the file each is stored as.
CHECKPOINT_PARTS = {"model": MODEL_FILE, "optimizer": OPTIMIZER_FILE, "state": STATE_FILE}


@router.post(
    "/external",
    status_code=status.HTTP_201_CREATED,
    summary="Create a run trained elsewhere (running at once; never queued)",
    responses=errors(400, 422),
)
def create_external_run(request: ExternalRunCreate, session: SessionDep) -> RunPublic:
    run = external.create_external_run(
        session,
        name=request.name,
        config=request.config,
        task=request.task,
        monitor=request.monitor,
        monitor_mode=request.monitor_mode,
        tags=request.tags,
        notes=request.notes,
    )
    session.commit()
    return RunPublic.of(external.reporting_run(session, run.id))


async def _body_within(request: Request, limit: int) -> bytes:
    """The request's body, or UploadTooLarge (413) past `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UploadTooLarge(f"report of {declared} bytes exceeds the {limit}-byte limit")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise UploadTooLarge(f"report exceeds the {limit}-byte limit")
    return bytes(body)


@router.post(
    "/{run_id}/report",
    summary="Report a run's new epoch and step rows, notes and config (idempotent)",
    responses=errors(400, 404, 409, 413, 422),
    # Its body's schema, ReportRequest's, is added to the document when it is asked for
    # (app/web/openapi_document.py): generating it here would be work at every start.
    openapi_extra={"requestBody": {"required": True}},
)
async def report_run(
    run_id: RowId, request: Request, session: SessionDep, settings: SettingsDep
) -> ReportPublic:
    body = await _body_within(request, settings.max_report_bytes)
    try:
        parsed: Any = json.loads(body)
    except ValueError as error:
        raise HTTPException(400, f"the body is not valid JSON: {error}") from error
    try:
        report = ReportRequest.model_validate(parsed)
    except ValidationError as error:
        raise ConfigError(error, prefix=("body",)) from error

    def write(session: Session) -> external.ReportResult:
        result = external.record_report(
            session,
            run_id,
            epochs=[(row.epoch, row.metrics) for row in report.epochs],
            steps=[(row.step, row.loss, row.epoch) for row in report.steps],
            notes=report.notes,
            config=report.config,
        )
        session.commit()
        return result

    result = await run_in_threadpool(write, session)
    return ReportPublic(**result.__dict__)


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(1 << 20):
        yield chunk


@router.post(
    "/{run_id}/checkpoints",
    status_code=status.HTTP_201_CREATED,
    summary="Upload a checkpoint of a run trained elsewhere (multipart: epoch, model, "
    "optimizer?, state?)",
    responses=errors(400, 404, 409, 413, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["epoch", "model"],
                        "properties": {
                            "epoch": {"type": "integer", "minimum": 0},
                            **{
                                part: {"type": "string", "format": "binary"}
                                for part in CHECKPOINT_PARTS
                            },
                        },
                    }
                }
            },
        }
    },
)
async def upload_checkpoint(
    run_id: RowId, request: Request, session: SessionDep, settings: SettingsDep, files: FilesDep
) -> CheckpointPublic:
    external.reporting_run(session, run_id)  # 404 / 409 before the body is read
    limit = settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UploadTooLarge(f"upload of {declared} bytes exceeds the {limit}-byte limit")
    received: dict[str, Path] = {}
    try:
        async with request.form(max_files=len(CHECKPOINT_PARTS), max_fields=4) as form:
            epoch_text = form.get("epoch")
            epoch = header_number(epoch_text.strip()) if isinstance(epoch_text, str) else None
            if epoch is None:
                raise ConfigError.field(
                    ("body", "epoch"),
                    f"epoch must be a whole number from 0 to {SQL_INT_MAX}",
                    str(epoch_text)[:100],
                )
            if not isinstance(form.get("model"), UploadFile):
                raise ConfigError.field(("body", "model"), "a model state_dict file is required")
            for part, file_name in CHECKPOINT_PARTS.items():
                upload = form.get(part)
                if isinstance(upload, UploadFile):
                    path, _size = await uploads.receive_upload(
                        _chunks(upload), files.upload_receiving_dir(), limit, None
                    )
                    received[file_name] = path
                    try:
                        check_weights_only(path)
                    except UnsafePickle as error:
                        raise ConfigError.field(
                            ("body", part), str(error), upload.filename
                        ) from error
        size = sum(path.stat().st_size for path in received.values())
        location = await run_in_threadpool(files.store_received_checkpoint, run_id, epoch, received)
    finally:
        for path in received.values():
            path.unlink(missing_ok=True)  # moved into the checkpoint, unless it was refused
    replaced = external.record_uploaded_checkpoint(session, run_id, epoch, location, size)
    session.commit()
    if replaced is not None:
        await run_in_threadpool(files.remove_checkpoint, run_id, replaced)
    row = checkpoint_rows.find_checkpoint(session, run_id, epoch)
    assert row is not None  # just written
    return CheckpointPublic.of(row)


@router.post(
    "/{run_id}/attach",
    summary="Attach a restarted process to a run trained elsewhere: running again from its "
    "newest checkpoint (409 once it succeeded, failed or was cancelled)",
    responses=errors(404, 409, 422),
)
def attach_run(run_id: RowId, session: SessionDep) -> RunPublic:
    run = external.attach_external_run(session, run_id)
    session.commit()
    return RunPublic.of(run)


@router.post(
    "/{run_id}/finish",
    summary="End a run trained elsewhere: succeeded, failed or cancelled",
    responses=errors(400, 404, 409, 422),
)
def finish_run(run_id: RowId, request: FinishRequest, session: SessionDep) -> RunPublic:
    run = external.finish_external_run(session, run_id, RunStatus(request.status), request.error)
    session.commit()
    return RunPublic.of(run)
