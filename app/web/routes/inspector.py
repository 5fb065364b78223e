"""The optimizer inspector's route: per epoch, each group's learning rate and the optimizer's
defaults, group hyperparameters and state buffers (shapes, norms)."""

from __future__ import annotations

from fastapi import APIRouter

from app.runs import lifecycle
from app.storage import metrics
from app.web.deps import QueryNumber, RowId, SessionDep
from app.web.error_handlers import errors
from app.web.shapes import OptimizerEpochPublic, OptimizerHistoryPublic

router = APIRouter(prefix="/api", tags=["runs"])


@router.get(
    "/runs/{run_id}/optimizer",
    summary="The optimizer inspector, one entry per epoch",
    responses=errors(404, 422),
)
def read_optimizer_history(
    run_id: RowId, session: SessionDep, since_epoch: QueryNumber = 0
) -> OptimizerHistoryPublic:
    lifecycle.get_run(session, run_id)
    rows = metrics.read_epochs(session, run_id, since_epoch)
    return OptimizerHistoryPublic(epochs=[OptimizerEpochPublic.model_validate(r) for r in rows])
