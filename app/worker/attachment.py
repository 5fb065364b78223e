"""What ties a worker to its run, for a loop run and a script run alike: the GPUs it was given
(on a Ray cluster, Ray's pick, which the run then records), the cooperative stop (SIGTERM and
SIGINT ask for it when the worker handles signals), and the reporter that turns reports into
rows."""

from __future__ import annotations

import signal
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from app.files import RunFiles
from app.settings import Settings
from app.worker.ray_entrypoint import gpus_given_by_ray, ray_job_name, record_gpus
from app.worker.reporter import DatabaseReporter
from app.worker.stop_signal import StopSignal


@dataclass(frozen=True)
class AttachedWorker:
    assigned_gpus: list[str]
    stop: StopSignal
    reporter: DatabaseReporter


def attach_worker(
    run_id: int,
    settings: Settings,
    factory: sessionmaker[Session],
    files: RunFiles,
    assigned_gpus: list[str],
    handle_signals: bool,
) -> AttachedWorker:
    """Attach this process to its claimed run; `assigned_gpus` are the placement's."""
    if ray_job_name() is not None:  # Ray picked the GPUs: the run records them
        assigned_gpus = gpus_given_by_ray()
        record_gpus(factory, run_id, assigned_gpus)
    stop = StopSignal(factory, run_id)
    if handle_signals:
        signal.signal(signal.SIGTERM, stop.on_signal)
        signal.signal(signal.SIGINT, stop.on_signal)
    return AttachedWorker(
        assigned_gpus=assigned_gpus,
        stop=stop,
        reporter=DatabaseReporter(factory, run_id, settings.keep_last_checkpoints, files),
    )
