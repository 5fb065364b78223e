"""Train one claimed run to its end and write its final status, whatever happens.

Succeeded; cancelled (stop asked for through the API); interrupted (SIGTERM or SIGINT, after
saving a checkpoint); or failed with the error text. A fresh worker (`python -m app.worker
RUN_ID`) and a warm one that was handed the run both end up here.
"""

from __future__ import annotations

import contextlib
import os
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from sqlalchemy.orm import Session, sessionmaker

from app.exports.evaluation import encode_evaluation
from app.files import RunFiles
from app.runs.config_checks import check_run_config
from app.runs.executors.worker_process import ATTEMPT_ENV
from app.runs.lifecycle import get_run
from app.settings import Settings
from app.storage import checkpoint_rows
from app.storage.engine import make_engine, make_session_factory, session_scope
from app.storage.tables import Checkpoint, RunStatus, Upload
from app.studies.pruning import TrialReporter
from app.worker.attachment import attach_worker
from app.worker.console import log
from app.worker.failures import failure_reason, free_device_memory
from app.worker.gpu_view import config_for_worker, log_placement
from app.worker.reporter import DatabaseReporter
from app.worker.retry import write_final_status
from app.worker.script_run import execute_script_run
from app.worker.stop_signal import StopSignal
from app.worker.system_sampler import SystemSampler
from app.worker.trial_callbacks import TrialCallbacks
from trainer.callbacks import Callbacks
from trainer.checkpoints.store import (
    CheckpointError,
    list_checkpoints,
    load_checkpoint,
    newest_valid_checkpoint,
)
from trainer.config import RunConfig
from trainer.data.cache_store import DIR_ENV, LIMIT_ENV
from trainer.distributed.launcher import FitInputs, RankGroup
from trainer.loop import fit


def exit_code(status: RunStatus) -> int:
    """The worker process's exit code for a run that ended in `status`."""
    return 0 if status in (RunStatus.SUCCEEDED, RunStatus.CANCELLED) else 1


def execute_run(run_id: int, settings: Settings, *, handle_signals: bool = False) -> RunStatus:
    """Train a claimed (`running`) run to its end and write its final status."""
    engine = make_engine(settings.sqlalchemy_url, **settings.pool_options())
    factory = make_session_factory(engine)
    files = RunFiles(settings)
    try:
        moved_on = _another_attempts(factory, run_id)
        if moved_on is not None:
            return moved_on
        if _kind(factory, run_id) == "script":
            return execute_script_run(run_id, settings, factory, files, handle_signals)
        return _execute(run_id, settings, factory, files, handle_signals)
    finally:
        files.clear_staging(run_id)  # S3 storage: this node's copies; the bucket keeps all
        engine.dispose()


def _another_attempts(factory: sessionmaker[Session], run_id: int) -> RunStatus | None:
    """The run's status when it now belongs to another attempt than the one this worker was
    started for (None: it is this worker's, or the executor names no attempt).

    A worker outlives a SIGKILLed server, which may have handed it its run an instant before
    dying; the next server, unable to adopt a worker that has not taken its run yet, interrupts
    the run, and it may be resumed and started by another worker before this one reads it."""
    expected = os.environ.get(ATTEMPT_ENV)
    if expected is None:
        return None
    with session_scope(factory) as session:
        row = get_run(session, run_id)
        status, attempt = RunStatus(row.status), row.attempt
    if attempt == int(expected):
        return None
    log(f"run {run_id} is on attempt {attempt}, this worker was started for {expected}: left alone")
    return status


def _kind(factory: sessionmaker[Session], run_id: int) -> str:
    with session_scope(factory) as session:
        return get_run(session, run_id).kind


def _execute(
    run_id: int,
    settings: Settings,
    factory: sessionmaker[Session],
    files: RunFiles,
    handle_signals: bool,
) -> RunStatus:
    """Set the run up, train it, and write its final status: succeeded, failed, cancelled or
    interrupted."""
    # Reading the run and attaching the worker to it stay outside the failure handling below:
    # a failure there (the database itself) leaves no way to write the run's status, and the
    # dispatcher settles a run whose worker ended without a word.
    row = _read_run(factory, run_id)
    if row.status != RunStatus.RUNNING:
        log(f"run {run_id} is {row.status}, not running: nothing to do")
        return row.status
    worker = _attach_worker(run_id, settings, factory, files, row, handle_signals)
    ranks: RankGroup | None = None
    try:
        plan = _prepare_fit(run_id, settings, files, row, worker)
        ranks = plan.ranks
        stopped = _train(run_id, settings, factory, plan, worker)
    except Exception as error:  # any failure of the run is reported, none takes the worker down
        traceback.print_exc()
        status, message = _failure(error, ranks)
        _close_after_failure(worker.reporter)
        if message.startswith("out of memory"):
            free_device_memory()
        write_final_status(factory, run_id, status, error=message)
        return status

    worker.reporter.close()
    if not worker.stop.signal_name:  # a signalled worker is being shut down: no evaluation
        with cache_environment(settings):  # reads the data again: its image check is kept
            _evaluate_best(factory, run_id, plan.config, files, settings.plugins_path)
    status, reason = _end_status(stopped, worker.stop)
    if worker.stop.pruned and status == RunStatus.SUCCEEDED:
        write_final_status(factory, run_id, status, error=None, stop_reason=worker.stop.pruned)
    else:
        write_final_status(factory, run_id, status, error=reason)
    return status


@dataclass(frozen=True)
class _RunRow:
    """What the worker reads of its run before it trains, in one session."""

    status: RunStatus
    config: dict[str, Any]
    assigned_gpus: list[str]
    resume_fallback: bool
    last_epoch: int  # the last epoch whose row was written
    parent_id: int | None  # a fork's parent run, and the epoch it starts from
    fork_epoch: int | None
    parent_location: str | None  # the stored location of the parent's checkpoint of that epoch
    upload_path: str | None  # an uploaded checkpoint the run starts from
    own_checkpoints: list[Checkpoint]


@dataclass(frozen=True)
class _Worker:
    """What ties this worker to its run: the GPUs it was given, the cooperative stop, the
    reporter that turns the trainer's callbacks into rows, and where checkpoints are written."""

    assigned_gpus: list[str]
    stop: StopSignal
    reporter: DatabaseReporter
    checkpoint_dir: Path


@dataclass(frozen=True)
class _FitPlan:
    """What `fit` is called with: the checked config placed on this worker's devices, where it
    starts from, and the DDP group of the other ranks (None for a single process)."""

    config: RunConfig
    inputs: FitInputs
    ranks: RankGroup | None


def _read_run(factory: sessionmaker[Session], run_id: int) -> _RunRow:
    with session_scope(factory) as session:
        run = get_run(session, run_id)
        upload = session.get(Upload, run.upload_id) if run.upload_id is not None else None
        parent = None
        if run.parent_run_id is not None and run.fork_epoch is not None:
            parent = checkpoint_rows.find_checkpoint(session, run.parent_run_id, run.fork_epoch)
        return _RunRow(
            status=RunStatus(run.status),
            config=run.config,
            assigned_gpus=list(run.assigned_gpus or []),
            resume_fallback=run.resume_fallback,
            last_epoch=run.epoch,
            parent_id=run.parent_run_id,
            fork_epoch=run.fork_epoch,
            parent_location=parent.path if parent is not None else None,
            upload_path=upload.path if upload is not None else None,
            own_checkpoints=list(checkpoint_rows.read_checkpoints(session, run_id)),
        )


def _attach_worker(
    run_id: int,
    settings: Settings,
    factory: sessionmaker[Session],
    files: RunFiles,
    row: _RunRow,
    handle_signals: bool,
) -> _Worker:
    attached = attach_worker(run_id, settings, factory, files, row.assigned_gpus, handle_signals)
    return _Worker(
        assigned_gpus=attached.assigned_gpus,
        stop=attached.stop,
        reporter=attached.reporter,
        checkpoint_dir=files.checkpoint_workdir(run_id),
    )


def _prepare_fit(
    run_id: int, settings: Settings, files: RunFiles, row: _RunRow, worker: _Worker
) -> _FitPlan:
    config = check_run_config(RunConfig.model_validate(row.config), settings)
    log_placement(run_id, worker.assigned_gpus)
    config = config_for_worker(config, worker.assigned_gpus, settings.fake_gpus_train_on_cpu)
    inputs = _start_point(run_id, settings, files, row, worker.checkpoint_dir)
    log(
        f"run {run_id} starts"
        + (f" from checkpoint {inputs.resume_from}" if inputs.resume_from else "")
    )
    threads = settings.torch_threads()
    if threads is not None:
        torch.set_num_threads(threads)
        log(f"torch trains on {threads} CPU thread(s) (TORCHDASH_WORKER_THREADS)")
    # processes > 1: this worker is rank 0 of a DDP group and starts the other ranks.
    ranks = RankGroup(config, inputs, log) if config.processes > 1 else None
    return _FitPlan(config=config, inputs=inputs, ranks=ranks)


def _start_point(
    run_id: int, settings: Settings, files: RunFiles, row: _RunRow, checkpoint_dir: Path
) -> FitInputs:
    """Where the run starts: its own newest checkpoint, else its fork parent's, else an uploaded
    checkpoint's weights, else from scratch."""
    # S3 storage: what the trainer loads is fetched to this node first, and only that:
    # a run that has a checkpoint of its own needs neither its fork parent's nor its upload.
    if files.remote:
        own = _own_stored_checkpoint(files, run_id, row.own_checkpoints, row.resume_fallback)
    else:
        own = _own_checkpoint(checkpoint_dir, row.resume_fallback, row.last_epoch)
    parent_path: Path | None = None
    init_weights: Path | None = None
    if own is None and row.parent_id is not None and row.parent_location is not None:
        parent_path = files.fetch_checkpoint(row.parent_id, row.parent_location, run_id)
    if own is None and row.upload_path is not None:
        init_weights = files.fetch_upload(row.upload_path, run_id)
    resume_from = own or parent_path
    if row.parent_id is not None and resume_from is None:
        raise FileNotFoundError(f"run {row.parent_id} has no checkpoint of epoch {row.fork_epoch}")
    return FitInputs(
        resume_from=resume_from,
        plugins_dir=settings.plugins_path,
        init_weights=init_weights,
        fork=own is None and parent_path is not None,
    )


def _train(
    run_id: int,
    settings: Settings,
    factory: sessionmaker[Session],
    plan: _FitPlan,
    worker: _Worker,
) -> bool:
    """Train the run with its system metrics sampled alongside; whether it stopped early."""
    sampler = SystemSampler(factory, run_id, settings.system_sample_seconds, worker.assigned_gpus)
    callbacks: Callbacks = worker.reporter
    with session_scope(factory) as session:
        trial = TrialReporter.of_run(session, settings.sqlalchemy_url, run_id)
    if trial is not None:  # a study's trial: its pruner may stop it at an epoch boundary
        callbacks = TrialCallbacks(worker.reporter, trial, worker.stop)
    with cache_environment(settings), sampler, plan.ranks or contextlib.nullcontext() as ranks:
        result = fit(
            plan.config,
            callbacks,
            checkpoint_dir=worker.checkpoint_dir,
            should_stop=worker.stop,
            ranks=ranks,
            **vars(plan.inputs),
        )
    worker.reporter.flush()
    return result.stopped


@contextlib.contextmanager
def cache_environment(settings: Settings) -> Iterator[None]:
    """The on-disk data cache's folder and limit, as the trainer (and any DDP rank it starts)
    reads them: from the environment, since the trainer knows nothing of these settings."""
    values = {DIR_ENV: str(settings.cache_path), LIMIT_ENV: str(settings.cache_limit_mb)}
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:  # a test trains in its own process: leave its environment as it was
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _failure(error: Exception, ranks: RankGroup | None) -> tuple[RunStatus, str]:
    """The status and error text of a run whose training raised `error`."""
    message = failure_reason(error)
    if ranks is None or ranks.casualty is None:
        return RunStatus.FAILED, message
    # The dead rank is the cause; rank 0's own error (a closed socket) is its echo.
    message = f"{ranks.casualty}; rank 0: {message}"
    # A rank lost to a signal is a worker lost to the outside: interrupted, resumable.
    return (RunStatus.INTERRUPTED if ranks.casualty_killed else RunStatus.FAILED), message


def _close_after_failure(reporter: DatabaseReporter) -> None:
    try:
        reporter.flush()  # the steps trained before the failure stay on the chart
    except Exception:  # the failure may be the database itself: the status matters more
        traceback.print_exc()
    reporter.close()


def _end_status(stopped: bool, stop: StopSignal) -> tuple[RunStatus, str | None]:
    """The status and reason of a run whose training returned: it finished, or was stopped by a
    signal to the worker (interrupted, resumable) or by a cancel (cancelled)."""
    if not stopped or (stop.pruned and not stop.signal_name and not stop.requested):
        return RunStatus.SUCCEEDED, None  # finished, or pruned by its study: finished early
    if stop.signal_name and not stop.cancel_asked():
        return RunStatus.INTERRUPTED, f"worker received {stop.signal_name}"
    return RunStatus.CANCELLED, None


def _own_checkpoint(directory: Path, fallback: bool, last_epoch: int) -> Path | None:
    """The run's checkpoint to resume from: the newest, or with `fallback` the newest valid.

    Without `fallback`, only one whose epoch row was written (`last_epoch`, the run's last
    recorded epoch; a partial checkpoint belongs to the epoch after it): a worker lost between
    saving a checkpoint and committing that epoch's row (its node died) would otherwise resume
    past an epoch the charts never get."""
    if not fallback:
        recorded = [
            ref
            for ref in list_checkpoints(directory)
            if ref.epoch <= last_epoch + (0 if ref.complete else 1)
        ]
        return recorded[-1].path if recorded else None
    ref = newest_valid_checkpoint(directory, warn=log)
    if ref is None and list_checkpoints(directory):
        raise CheckpointError(f"no checkpoint in '{directory}' loads")
    if ref is not None:
        log(f"resuming from the newest valid checkpoint {ref.path}")
    return ref.path if ref else None


def _own_stored_checkpoint(
    files: RunFiles, run_id: int, rows: list[Checkpoint], fallback: bool
) -> Path | None:
    """S3 storage: the run's checkpoint to resume from, fetched to this node. Its rows are the
    index (a row is written only once its objects are): the newest, or with `fallback` the
    newest that loads."""
    ordered = sorted(rows, key=lambda row: (row.epoch, 1) if row.complete else (row.epoch - 1, 2))
    if not fallback:
        if not ordered:
            return None
        log(f"fetching checkpoint {ordered[-1].path}")
        return files.fetch_checkpoint(run_id, ordered[-1].path, run_id)
    for row in reversed(ordered):
        folder = files.fetch_checkpoint(run_id, row.path, run_id)
        try:
            load_checkpoint(folder)
        except CheckpointError as error:
            log(f"skipping unreadable checkpoint {row.path}: {error}")
            continue
        log(f"resuming from the newest valid checkpoint {row.path}")
        return folder
    if ordered:
        raise CheckpointError(f"no checkpoint of run {run_id} in the storage loads")
    return None


def _evaluate_best(
    factory: sessionmaker[Session],
    run_id: int,
    config: RunConfig,
    files: RunFiles,
    plugins_dir: Path,
) -> None:
    """Save the evaluation of the run's best epoch (what it holds depends on the run's task);
    a plugin run's classes are imported from `plugins_dir` again."""
    from trainer.evaluation import evaluate_checkpoint

    with session_scope(factory) as session:
        run = get_run(session, run_id)
        best = checkpoint_rows.last_and_best_checkpoints(
            checkpoint_rows.read_checkpoints(session, run_id),
            run.best_epoch,
            run.monitor,
            run.monitor_mode,
        ).get("best")
        if best is None:
            return
        location, epoch = best.path, best.epoch
    try:
        path = files.fetch_checkpoint(run_id, location, run_id)
        evaluation = evaluate_checkpoint(config, path, epoch, plugins_dir=plugins_dir)
        files.write_evaluation(run_id, encode_evaluation(evaluation))
        log(f"evaluation of epoch {epoch} saved")
    except Exception:  # an evaluation that fails must not fail a run that trained well
        traceback.print_exc()
        log("evaluation failed; the run itself is unaffected")
