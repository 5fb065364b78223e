"""Dependencies the routes take: the settings, a database session, the dispatcher, the GPUs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.hardware.inventory import Gpu
from app.runs.dispatcher import Dispatcher
from app.runs.lifecycle import get_run
from app.settings import Settings
from app.storage.engine import session_scope


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.session_factory) as session:
        yield session


def existing_run_id(run_id: int, request: Request) -> int:
    """The path's run id once a short look found the run (else 404).

    For streaming routes: a `SessionDep` lives as long as the response, so each open event
    stream would hold a pooled connection, and a few dozen watchers would drain the pool.
    """
    with session_scope(request.app.state.session_factory) as session:
        get_run(session, run_id)
    return run_id


def get_dispatcher(request: Request) -> Dispatcher | None:
    return request.app.state.dispatcher


def get_gpus(request: Request) -> list[Gpu]:
    """The server's GPU set, as read at start-up (TORCHDASH_GPUS, else NVML's)."""
    return request.app.state.gpus


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
DispatcherDep = Annotated[Dispatcher | None, Depends(get_dispatcher)]
ExistingRunId = Annotated[int, Depends(existing_run_id)]
GpusDep = Annotated[list[Gpu], Depends(get_gpus)]
