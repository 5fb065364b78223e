"""Routes that export a run: its bundle (zip) and its epoch metrics as CSV."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.exports import bundle
from app.runs import lifecycle
from app.web.deps import FilesDep, RowId, SessionDep, SettingsDep
from app.web.error_handlers import errors

router = APIRouter(prefix="/api/runs/{run_id}", tags=["exports"])


@router.get(
    "/bundle",
    summary="Zip that rebuilds the run: its train.py, the trainer, its plugins, config.json, "
    "metrics.csv, last and best checkpoints",
    response_class=Response,
    responses={
        200: {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}},
        **errors(404, 409, 422),
    },
)
def download_bundle(
    run_id: RowId, session: SessionDep, files: FilesDep, settings: SettingsDep
) -> Response:
    run = lifecycle.get_run(session, run_id)
    data = bundle.build_bundle(session, run, files, settings.plugins_path)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="run{run_id}-bundle.zip"'},
    )


@router.get(
    "/metrics.csv",
    summary="Epoch metrics as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, **errors(404, 422)},
)
def download_metrics_csv(run_id: RowId, session: SessionDep) -> Response:
    lifecycle.get_run(session, run_id)
    return Response(
        bundle.metrics_csv(session, run_id),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="run{run_id}-metrics.csv"'},
    )
