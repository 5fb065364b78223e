"""Runs trained elsewhere: a process torchdash did not start creates the run, reports its rows
over REST, uploads checkpoints and ends it; one silent too long is ended as interrupted.

Such a run is never queued, so no dispatcher nor executor ever starts or adopts it. Its rows are
the same epoch and step rows a worker writes (app/storage/metrics.py), so the run page, compare,
the runs list and the CLI read it like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.errors import ConflictError
from app.runs.lifecycle import get_run
from app.runs.state_machine import transition
from app.storage import checkpoint_rows, metrics
from app.storage.metrics import finite
from app.storage.notifications import notify_run
from app.storage.tables import Run, RunStatus, utcnow
from trainer.config.tasks import Mode, improved, monitor_of

KIND = "external"
S = RunStatus
# The epoch row's columns kept for older clients (the runs list's sparkline reads val_loss):
# each takes the named metric of its name when the report has a finite one, else null (seconds,
# never null, 0).
COLUMN_DEFAULTS: dict[str, float | None] = {
    "train_loss": None,
    "val_loss": None,
    "lr": None,
    "seconds": 0.0,
}


@dataclass(frozen=True)
class _Monitoring:
    """What `monitor_of` reads of a config, for a run that has no RunConfig."""

    task: Any
    monitor: str | None
    monitor_mode: Any
    metrics: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class ReportResult:
    status: str
    stop_requested: bool
    epoch: int
    epochs_written: int
    steps_written: int
    steps_skipped: int


def create_external_run(
    session: Session,
    name: str,
    config: dict[str, Any],
    task: str,
    monitor: str | None,
    monitor_mode: str | None,
    tags: list[str],
    notes: str,
) -> Run:
    """Store a run that is already running elsewhere: never queued, so never dispatched."""
    monitor, mode = monitor_of(_Monitoring(task, monitor, monitor_mode))
    now = utcnow()
    run = Run(
        name=name,
        kind=KIND,
        task=task,
        monitor=monitor,
        monitor_mode=mode,
        status=S.RUNNING.value,
        config=config,
        max_epochs=0,  # unknown: the process elsewhere decides when it ends
        started_at=now,
        last_report_at=now,
        device="external",
        tags=tags,
        notes=notes,
    )
    session.add(run)
    session.flush()
    return run


def reporting_run(session: Session, run_id: int) -> Run:
    """The run, if it is an external run still running; else ConflictError (409)."""
    run = get_run(session, run_id)
    if run.kind != KIND:
        raise ConflictError(
            f"run {run_id} is a {run.kind} run: only a run trained elsewhere takes reports"
        )
    if run.status != S.RUNNING:
        raise ConflictError(f"run {run_id} is {run.status}; it takes no more reports")
    return run


def epoch_row(epoch: int, named: dict[str, float | None]) -> dict[str, Any]:
    """A reported epoch as its `epoch_metrics` row."""
    values = {name: finite(value) for name, value in named.items()}
    columns = {
        name: values[name] if values.get(name) is not None else default
        for name, default in COLUMN_DEFAULTS.items()
    }
    accuracy = {name: values.get(name) for name in ("train_accuracy", "val_accuracy")}
    return {"epoch": epoch, **columns, **accuracy, "metrics": values}


def record_report(
    session: Session,
    run_id: int,
    epochs: list[tuple[int, dict[str, float | None]]],
    steps: list[tuple[int, float | None, int | None]],
    notes: list[str],
    config: dict[str, Any] | None,
) -> ReportResult:
    """Write a report's rows once each (a retried report changes nothing) and note the report's
    time; the run's epoch and best metric follow the reported epochs."""
    run = reporting_run(session, run_id)
    last_epoch = max([run.epoch, *(epoch for epoch, _ in epochs)])
    for epoch, named in sorted(epochs, key=lambda pair: pair[0]):
        metrics.replace_epoch(session, run_id, epoch_row(epoch, named))
    # A loss that is not finite is kept as a null loss: the step is a gap in the chart.
    rows = [
        {"step": step, "loss": finite(loss), "epoch": epoch if epoch is not None else run.epoch + 1}
        for step, loss, epoch in steps
    ]
    written = metrics.write_new_steps(session, run_id, rows)
    values: dict[str, Any] = {"last_report_at": utcnow(), "updated_at": utcnow()}
    values["epoch"] = last_epoch
    values.update(_best(run, epochs))
    block = "\n".join(notes)
    # A retried report's notes are the last ones appended already: not appended twice.
    if block and not run.notes.endswith(block):
        values["notes"] = (f"{run.notes}\n{block}" if run.notes else block)[-10_000:]
    if config:
        values["config"] = {**run.config, **config}
    session.execute(
        update(Run).where(Run.id == run_id, Run.status == S.RUNNING.value).values(**values)
    )
    notify_run(session, run_id)
    return ReportResult(
        status=run.status,
        stop_requested=run.stop_requested,
        epoch=last_epoch,
        epochs_written=len(epochs),
        steps_written=written,
        steps_skipped=len(steps) - written,
    )


def _best(
    run: Run, epochs: list[tuple[int, dict[str, float | None]]], afresh: bool = False
) -> dict[str, Any]:
    """The run's best monitored value and its epoch, and its best val accuracy, after `epochs`
    (`afresh`: over `epochs` alone, forgetting the run's)."""
    best, best_epoch, best_accuracy = run.best_metric, run.best_epoch, run.best_val_accuracy
    if afresh:
        best = best_epoch = best_accuracy = None
    mode: Mode = "min" if run.monitor_mode == "min" else "max"
    for epoch, named in sorted(epochs, key=lambda pair: pair[0]):
        value = finite(named.get(run.monitor or ""))
        if value is not None and improved(value, best, mode):
            best, best_epoch = value, epoch
        accuracy = finite(named.get("val_accuracy"))
        if accuracy is not None and (best_accuracy is None or accuracy > best_accuracy):
            best_accuracy = accuracy
    return {"best_metric": best, "best_epoch": best_epoch, "best_val_accuracy": best_accuracy}


def attach_external_run(session: Session, run_id: int) -> Run:
    """A process takes up a run trained elsewhere again (it restarted, on this machine or
    another): the run is running again, from its newest checkpoint. A run that went silent
    (`interrupted`) or still runs may be attached; one that ended otherwise is a ConflictError.

    The rows reported after that checkpoint's epoch (all of them, with no checkpoint) are
    dropped: the process reports them again as it trains them anew, and a step it reports
    again is then stored, not skipped as a resent one."""
    run = get_run(session, run_id)
    if run.kind != KIND:
        raise ConflictError(
            f"run {run_id} is a {run.kind} run: only a run trained elsewhere can be attached"
        )
    complete = [row for row in checkpoint_rows.read_checkpoints(session, run_id) if row.complete]
    epoch = max((row.epoch for row in complete), default=0)
    now = utcnow()
    values = {"last_report_at": now, "stop_requested": False, "epoch": epoch}
    # One guarded update, as every status change: a run that finished meanwhile is refused.
    transition(
        session,
        run_id,
        S.RUNNING,
        allowed_from=[S.RUNNING, S.INTERRUPTED],
        started_at=run.started_at or now,  # it started when it first did
        **values,
    )
    metrics.trim_to_epoch(session, run_id, epoch)
    kept = [(row.epoch, metrics.named_metrics(row)) for row in metrics.read_epochs(session, run_id)]
    session.execute(update(Run).where(Run.id == run_id).values(**_best(run, kept, afresh=True)))
    session.refresh(run)
    return run


def finish_external_run(session: Session, run_id: int, status: RunStatus, error: str | None) -> Run:
    """End a run trained elsewhere with the status its process gives."""
    reporting_run(session, run_id)
    transition(session, run_id, status, allowed_from=[S.RUNNING], error=error)
    return get_run(session, run_id)


def record_uploaded_checkpoint(
    session: Session, run_id: int, epoch: int, location: str, size_bytes: int
) -> str | None:
    """Record a checkpoint uploaded for `epoch` (replacing one of the same epoch); the location
    of the replaced one, for the caller to delete once this row is committed."""
    replaced = checkpoint_rows.find_checkpoint(session, run_id, epoch)
    row = session.scalar(
        select(metrics.EpochMetric).where(
            metrics.EpochMetric.run_id == run_id, metrics.EpochMetric.epoch == epoch
        )
    )
    named = metrics.named_metrics(row) if row is not None else None
    checkpoint_rows.write_checkpoint(
        session,
        run_id,
        {
            "epoch": epoch,
            "complete": True,
            "batches_done": 0,
            "path": location,
            "size_bytes": size_bytes,
            "val_loss": named.get("val_loss") if named else None,
            "val_accuracy": named.get("val_accuracy") if named else None,
            "metrics": named,
        },
    )
    session.execute(update(Run).where(Run.id == run_id).values(last_report_at=utcnow()))
    if replaced is not None and replaced.path != location:
        return replaced.path
    return None


def interrupt_silent_runs(session: Session, timeout_seconds: float) -> list[int]:
    """End as interrupted every external run that sent nothing for `timeout_seconds`."""
    cutoff = utcnow() - timedelta(seconds=timeout_seconds)
    silent = session.scalars(
        select(Run.id).where(
            Run.status == S.RUNNING.value,
            Run.kind == KIND,
            func.coalesce(Run.last_report_at, Run.started_at) < cutoff,
        )
    ).all()
    ended = []
    for run_id in silent:
        try:
            transition(
                session,
                run_id,
                S.INTERRUPTED,
                allowed_from=[S.RUNNING],
                error=f"no report for {timeout_seconds:g} s (TORCHDASH_EXTERNAL_TIMEOUT_SECONDS): "
                "the process that trained it is presumed gone",
            )
        except ConflictError:
            continue  # it finished meanwhile
        ended.append(run_id)
    return ended
