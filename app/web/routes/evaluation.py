"""Routes for the best epoch's evaluation: per task (confusion matrix and thumbnails, per-label
scores, per-target errors and plots)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.exports.evaluation import decode_evaluation, evaluation_summary, render_thumbnail
from app.runs import lifecycle
from app.web.deps import FilesDep, PathNumber, RowId, SessionDep
from app.web.error_handlers import errors
from app.web.evaluation_shapes import EvaluationPublic

router = APIRouter(prefix="/api/runs/{run_id}/evaluation", tags=["evaluation"])


@router.get(
    "",
    summary="The best epoch's evaluation on the validation split, per task",
    description=(
        "`task` says which fields are filled: classification `confusion`, "
        "`per_class_accuracy` and `misclassified`; multilabel `labels` (per-label precision, "
        "recall, F1, support) and `averages`; regression `targets` (MAE, RMSE, R2, a "
        "predicted-vs-true `scatter` and a `residuals` histogram per target)."
    ),
    responses=errors(404, 422),
)
def read_evaluation(run_id: RowId, session: SessionDep, files: FilesDep) -> EvaluationPublic:
    lifecycle.get_run(session, run_id)
    return EvaluationPublic.model_validate(
        evaluation_summary(decode_evaluation(files.read_evaluation(run_id), run_id), run_id)
    )


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
