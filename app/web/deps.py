"""Dependencies the routes take: the settings, a database session, the dispatcher, the GPUs,
the run files' store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from sqlalchemy.orm import Session

from app.files import RunFiles
from app.runs.cluster_placement import ClusterGpus
from app.runs.dispatcher import Dispatcher
from app.runs.lifecycle import get_run
from app.runs.queue import Lanes
from app.settings import Settings
from app.storage.engine import session_scope

# The largest integer both databases store: PostgreSQL's `integer`, the type of every id, epoch
# and step column (SQLite's reach 2**63 - 1). No id or cursor beyond it is stored, and binding a
# larger one failed with a 500 where the answer is "no such run" (OverflowError past SQLite's 64
# bits, "integer out of range" past PostgreSQL's 32; fuzzing found both). Every integer in a
# path or query that is compared with a stored one is bounded by it: the API answers 422.
SQL_INT_MAX = 2**31 - 1
# A byte offset into a file (a worker's log), which may pass 2 GiB: what `seek` takes.
FILE_OFFSET_MAX = 2**63 - 1
RowId = Annotated[int, Path(ge=1, le=SQL_INT_MAX, description="A row id (a run, an upload).")]
PathNumber = Annotated[int, Path(ge=0, le=SQL_INT_MAX)]
QueryNumber = Annotated[int, Query(ge=0, le=SQL_INT_MAX)]
FileOffset = Annotated[int, Query(ge=0, le=FILE_OFFSET_MAX)]


def header_number(text: str, limit: int = SQL_INT_MAX) -> int | None:
    """A number a client sent in a header (Last-Event-ID), within `limit`, else None.
    Not `str.isdigit` alone: it is true of "²", which `int` refuses."""
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= limit else None


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.session_factory) as session:
        yield session


def existing_run_id(run_id: RowId, request: Request) -> int:
    """The path's run id once a short look found the run (else 404).

    For streaming routes: a `SessionDep` lives as long as the response, so each open event
    stream would hold a pooled connection, and a few dozen watchers would drain the pool.
    """
    with session_scope(request.app.state.session_factory) as session:
        get_run(session, run_id)
    return run_id


def get_dispatcher(request: Request) -> Dispatcher | None:
    return request.app.state.dispatcher


def get_gpu_limits(request: Request) -> list[int] | ClusterGpus | None:
    """What a submitted run may ask for: the server's GPU set, as read at start-up
    (TORCHDASH_GPUS, else NVML's), or on the Ray executor what the cluster's nodes have now
    (None while the cluster cannot be read: the run is queued, and waits for it)."""
    cluster = request.app.state.cluster
    if cluster is not None:
        allocator = cluster.cluster_placement()
        return None if allocator.unreachable else allocator.gpus()
    return [gpu.index for gpu in request.app.state.gpus]


def get_queue_lanes(request: Request) -> Lanes:
    """The CPU slots and GPU lanes a queued run's estimated start is reckoned on."""
    return request.app.state.queue_lanes


def get_files(request: Request) -> RunFiles:
    """Where runs' files live (TORCHDASH_STORAGE): one store for the server's life."""
    return request.app.state.files


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
DispatcherDep = Annotated[Dispatcher | None, Depends(get_dispatcher)]
ExistingRunId = Annotated[int, Depends(existing_run_id)]
GpuLimitsDep = Annotated[list[int] | ClusterGpus | None, Depends(get_gpu_limits)]
QueueLanesDep = Annotated[Lanes, Depends(get_queue_lanes)]
FilesDep = Annotated[RunFiles, Depends(get_files)]
