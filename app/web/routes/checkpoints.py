"""Routes for checkpoints: list them, download a model or optimizer state_dict."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import FileResponse

from app.errors import NotFoundError
from app.runs import lifecycle
from app.storage import checkpoint_rows
from app.web.deps import PathNumber, RowId, SessionDep, SettingsDep
from app.web.error_handlers import errors
from app.web.shapes import CheckpointPublic
from trainer.checkpoint import MODEL_FILE, OPTIMIZER_FILE

router = APIRouter(prefix="/api/runs/{run_id}/checkpoints", tags=["checkpoints"])

PART_FILES = {"model": MODEL_FILE, "optimizer": OPTIMIZER_FILE}
BINARY = {
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
}  # noqa: E501


@router.get("", summary="A run's checkpoints, oldest first", responses=errors(404, 422))
def read_checkpoints(run_id: RowId, session: SessionDep) -> list[CheckpointPublic]:
    run = lifecycle.get_run(session, run_id)
    rows = checkpoint_rows.read_checkpoints(session, run_id)
    best = checkpoint_rows.last_and_best_checkpoints(rows, run.best_epoch).get("best")
    return [CheckpointPublic.of(row, best=row is best) for row in rows]


@router.get(
    "/{epoch}/{part}",
    summary="Download torch.save(model.state_dict()) or torch.save(optimizer.state_dict())",
    response_class=FileResponse,
    responses={200: BINARY, **errors(404, 422)},
)
def download_checkpoint(
    run_id: RowId,
    epoch: PathNumber,
    part: Literal["model", "optimizer"],
    session: SessionDep,
    settings: SettingsDep,
) -> FileResponse:
    row = checkpoint_rows.find_checkpoint(session, run_id, epoch)
    if row is None:
        raise NotFoundError(f"run {run_id} has no checkpoint of epoch {epoch}")
    # Ids in, never paths: and the stored path is checked again before it is served.
    file = (Path(row.path) / PART_FILES[part]).resolve()
    if not file.is_relative_to(settings.checkpoint_dir(run_id).resolve()) or not file.is_file():
        raise NotFoundError(f"checkpoint file of run {run_id}, epoch {epoch} is missing")
    return FileResponse(
        file,
        media_type="application/octet-stream",
        filename=f"run{run_id}-epoch{epoch}-{part}.pt",
    )
