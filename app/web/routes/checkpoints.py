"""Routes for checkpoints: list them, download a model or optimizer state_dict, or the state file
(the epoch and what else was saved beside them)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response, StreamingResponse

from app.errors import NotFoundError
from app.runs import lifecycle
from app.storage import checkpoint_rows
from app.web.deps import FilesDep, PathNumber, RowId, SessionDep
from app.web.error_handlers import errors
from app.web.shapes import CheckpointPublic
from trainer.checkpoints.store import MODEL_FILE, OPTIMIZER_FILE, STATE_FILE

router = APIRouter(prefix="/api/runs/{run_id}/checkpoints", tags=["checkpoints"])

PART_FILES = {"model": MODEL_FILE, "optimizer": OPTIMIZER_FILE, "state": STATE_FILE}
BINARY = {
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
}  # noqa: E501


@router.get("", summary="A run's checkpoints, oldest first", responses=errors(404, 422))
def read_checkpoints(run_id: RowId, session: SessionDep) -> list[CheckpointPublic]:
    run = lifecycle.get_run(session, run_id)
    rows = checkpoint_rows.read_checkpoints(session, run_id)
    best = checkpoint_rows.last_and_best_checkpoints(
        rows, run.best_epoch, run.monitor, run.monitor_mode
    ).get("best")
    default = checkpoint_rows.default_checkpoint(
        rows, run.best_epoch, run.monitor, run.monitor_mode
    )
    complete = [row.epoch for row in rows if row.complete]
    last = max(complete) if complete else None
    return [
        CheckpointPublic.of(row, best=row is best, default=row is default, last=row.epoch == last)
        for row in rows
    ]


@router.get(
    "/{epoch}/{part}",
    summary="Download torch.save(model.state_dict()), torch.save(optimizer.state_dict()) or "
    "the state file (epoch, scheduler, RNG states, config; what a script saved beside them)",
    response_class=FileResponse,
    responses={200: BINARY, **errors(404, 422)},
)
def download_checkpoint(
    run_id: RowId,
    epoch: PathNumber,
    part: Literal["model", "optimizer", "state"],
    session: SessionDep,
    files: FilesDep,
) -> Response:
    row = checkpoint_rows.find_checkpoint(session, run_id, epoch)
    if row is None:
        raise NotFoundError(f"run {run_id} has no checkpoint of epoch {epoch}")
    # Ids in, never paths: and the stored location is checked again before it is served.
    try:
        stored = files.checkpoint_file(run_id, row.path, PART_FILES[part])
    except NotFoundError as error:
        raise NotFoundError(f"checkpoint file of run {run_id}, epoch {epoch} is missing") from error
    filename = f"run{run_id}-epoch{epoch}-{part}.pt"
    if stored.local is not None:
        return FileResponse(stored.local, media_type="application/octet-stream", filename=filename)
    return StreamingResponse(  # S3 storage: streamed from the bucket, never held whole
        files.stream(stored),
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Content-Length": str(stored.size),
        },
    )
