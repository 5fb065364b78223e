"""The devices the server dispatches to: GPUs (through NVML, never torch) and the CPU."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.runs.devices import describe_cluster, describe_devices
from app.web.deps import SessionDep, SettingsDep
from app.web.shapes import DevicesPublic

router = APIRouter(prefix="/api", tags=["devices"])


@router.get(
    "/devices",
    summary="GPUs (with the run holding each) and the CPU; on the Ray executor, the cluster's "
    "nodes instead of this machine's GPUs",
)
def read_devices(session: SessionDep, settings: SettingsDep, request: Request) -> DevicesPublic:
    cluster = request.app.state.cluster
    if cluster is None:
        return DevicesPublic.model_validate(describe_devices(session, settings))
    devices = {**describe_devices(session, settings), "gpus": []}
    return DevicesPublic.model_validate({**devices, "cluster": describe_cluster(session, cluster)})
