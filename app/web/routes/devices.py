"""The devices the server dispatches to: GPUs (through NVML, never torch) and the CPU."""

from __future__ import annotations

from fastapi import APIRouter

from app.runs.devices import describe_devices
from app.web.deps import SessionDep, SettingsDep
from app.web.shapes import DevicesPublic

router = APIRouter(prefix="/api", tags=["devices"])


@router.get("/devices", summary="GPUs (with the run holding each) and the CPU")
def read_devices(session: SessionDep, settings: SettingsDep) -> DevicesPublic:
    return DevicesPublic.model_validate(describe_devices(session, settings))
