"""Routes for the best epoch's evaluation: confusion matrix, per-class accuracy, thumbnails."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from app.exports.evaluation import decode_evaluation, evaluation_summary, render_thumbnail
from app.runs import lifecycle
from app.web.deps import FilesDep, PathNumber, RowId, SessionDep
from app.web.error_handlers import errors

router = APIRouter(prefix="/api/runs/{run_id}/evaluation", tags=["evaluation"])


@router.get(
    "",
    summary="Confusion matrix, per-class accuracy and misclassified examples",
    responses=errors(404, 422),
)
def read_evaluation(run_id: RowId, session: SessionDep, files: FilesDep) -> dict[str, Any]:
    lifecycle.get_run(session, run_id)
    return evaluation_summary(decode_evaluation(files.read_evaluation(run_id), run_id), run_id)


@router.get(
    "/misclassified/{number}.png",
    summary="A misclassified validation image, rendered with Pillow",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}},
        **errors(404, 422),
    },
)
def read_thumbnail(run_id: RowId, number: PathNumber, files: FilesDep) -> Response:
    evaluation = decode_evaluation(files.read_evaluation(run_id), run_id)
    return Response(
        render_thumbnail(evaluation, number, run_id),
        media_type="image/png",
        headers={"Cache-Control": "max-age=3600"},
    )
