"""The worker's reporter: what the trainer reports becomes database rows.

Buffered step rows and the progress within the epoch, epoch rows, checkpoint rows (and the
retention that follows each), all written on a thread of their own, in the order reported.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.files import RunFiles
from app.runs.retention import prune_checkpoints
from app.storage import checkpoint_rows, metrics
from app.storage.tables import Run, utcnow
from app.worker.console import log
from app.worker.retry import write_retrying
from trainer.callbacks import (
    Callbacks,
    CheckpointReport,
    EarlyStoppingReport,
    EpochReport,
    FitStart,
    StepReport,
)
from trainer.config.tasks import Mode, improved

# Step rows wait at most this long in memory before they are written (one transaction a flush).
STEP_FLUSH_SECONDS = 0.25


class DatabaseReporter(Callbacks):
    """Writes what the trainer reports as rows: buffered steps, epochs, checkpoints, progress.

    The writes happen on a thread of their own, in the order reported, so the training loop
    only appends to a list: it never waits for SQLite. `flush` waits until all is written.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        run_id: int,
        keep_last: int | None = None,
        files: RunFiles | None = None,
    ) -> None:
        self.factory = factory
        self.run_id = run_id
        self.keep_last = keep_last
        self.files = files
        self.pending_steps: list[dict[str, Any]] = []
        self.progress: tuple[int, int] | None = None
        self.last_flush = time.monotonic()
        self.first_step_logged = False
        self.monitor_mode: str | None = None  # the trainer's, from `on_fit_start`
        self.writes: queue.Queue[Callable[[Session], None] | None] = queue.Queue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._write_all, name="report-writer", daemon=True)
        self.thread.start()

    def _write_all(self) -> None:
        """The writer thread: each write its own transaction (retried while the database is
        away, so each write is idempotent), in order, until the first error."""
        while (write := self.writes.get()) is not None:
            try:
                if self.error is None:
                    write_retrying(self.factory, self.run_id, write)
            except BaseException as error:  # raised to the worker by the next flush
                self.error = error
            finally:
                self.writes.task_done()

    def _submit(self, write: Callable[[Session], None]) -> None:
        self.writes.put(write)

    def flush(self) -> None:
        """Write what is buffered and wait until every write is done; raise a failed one."""
        self._submit_steps()
        self.writes.join()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Stop the writer thread once it has written everything handed to it."""
        self.writes.put(None)
        self.thread.join()

    def on_fit_start(self, info: FitStart) -> None:
        log(
            f"training on {info.device}: {info.parameter_count:,} parameters, "
            f"{info.batches_per_epoch} batches per epoch, starting after epoch {info.start_epoch}"
        )
        log(f"{info.task} run monitoring {info.monitor} ({info.monitor_mode})")
        self.monitor_mode = info.monitor_mode

        def write(session: Session) -> None:
            # Rows written after the checkpoint we restart from would be written again.
            metrics.trim_after(session, self.run_id, info.start_epoch, info.start_step)
            self._update_run(
                session,
                device=info.device,
                class_names=info.class_names,
                task=info.task,
                monitor=info.monitor,
                monitor_mode=info.monitor_mode,
                model_summary=info.model_summary,
                parameter_count=info.parameter_count,
                epoch=info.start_epoch,
                progress_batch=info.start_batch,
                progress_batches=info.batches_per_epoch,
            )

        self._submit(write)

    def on_step(self, report: StepReport) -> None:
        if not self.first_step_logged:
            # A readable UTC time to the millisecond: bench/run_start.py times a run's start by it.
            stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
            log(f"first step reported at {stamp}")
            self.first_step_logged = True
        loss = metrics.finite(report.loss)  # a diverged step is kept, with a null loss
        self.pending_steps.append({"step": report.step, "epoch": report.epoch, "loss": loss})
        self.progress = (report.batch, report.batches)
        if time.monotonic() - self.last_flush >= STEP_FLUSH_SECONDS:
            self._submit_steps()

    def _take_pending(self) -> tuple[list[dict[str, Any]], tuple[int, int] | None]:
        steps, progress = self.pending_steps, self.progress
        self.pending_steps, self.progress = [], None
        self.last_flush = time.monotonic()
        return steps, progress

    def _submit_steps(self) -> None:
        """Hand the buffered step rows and the progress within the epoch to the writer."""
        steps, progress = self._take_pending()
        if steps or progress:
            self._submit(lambda session: self._write_steps(session, steps, progress))

    def _write_steps(
        self, session: Session, steps: list[dict[str, Any]], progress: tuple[int, int] | None
    ) -> None:
        metrics.write_steps_once(session, self.run_id, steps)
        if progress is not None:
            batch, batches = progress
            self._update_run(session, progress_batch=batch, progress_batches=batches)

    def on_epoch_end(self, report: EpochReport) -> None:
        named = ", ".join(f"{name} {value:.4f}" for name, value in report.metrics.items())
        log(f"epoch {report.epoch}: {named}")
        steps, progress = self._take_pending()

        def write(session: Session) -> None:
            self._write_steps(session, steps, progress)
            metrics.replace_epoch(session, self.run_id, epoch_row(report))
            self._update_run(
                session, epoch=report.epoch, progress_batch=0, **self._best_so_far(session, report)
            )

        self._submit(write)

    def _best_so_far(self, session: Session, report: EpochReport) -> dict[str, Any]:
        """The run's best values after this epoch: the monitored metric's (with its epoch), and
        the validation accuracy's for a classification run."""
        best_metric, best_accuracy, stored_mode = session.execute(
            select(Run.best_metric, Run.best_val_accuracy, Run.monitor_mode).where(
                Run.id == self.run_id
            )
        ).one()
        values: dict[str, Any] = {}
        if report.val_accuracy is not None:
            values["best_val_accuracy"] = (
                report.val_accuracy
                if best_accuracy is None
                else max(best_accuracy, report.val_accuracy)
            )
        value = report.monitor_value
        mode: Mode = "min" if (self.monitor_mode or stored_mode) == "min" else "max"
        if math.isfinite(value) and improved(value, best_metric, mode):
            values.update(best_metric=value, best_epoch=report.epoch)
        return values

    def on_early_stopping(self, report: EarlyStoppingReport) -> None:
        """Why the run stops when it does.

        The run's best epoch is the one of its best monitored value, written with each epoch
        row (`on_epoch_end`), before the epoch's checkpoint row, so retention already knows it.
        """
        if report.stop_reason:
            log(report.stop_reason)
            reason = report.stop_reason
            self._submit(lambda session: self._update_run(session, stop_reason=reason))

    def on_checkpoint(self, report: CheckpointReport) -> None:
        """Called on the checkpoint writer's thread, after the epoch's rows were handed over.

        The checkpoint is published (uploaded, on S3 storage) here, before its row is handed to
        the writer: a row never points to objects not yet written. The training loop goes on
        meanwhile, and waits for this at its end (`CheckpointWriter.wait`)."""
        location = str(report.path)
        if self.files is not None:
            location = self.files.publish_checkpoint(self.run_id, report.path)
        log(f"checkpoint saved: {location}")

        def write(session: Session) -> None:
            replaced = checkpoint_rows.find_checkpoint(session, self.run_id, report.epoch)
            checkpoint_rows.write_checkpoint(
                session,
                self.run_id,
                {
                    "epoch": report.epoch,
                    "complete": report.complete,
                    "batches_done": report.batches_done,
                    "path": location,
                    "size_bytes": report.size_bytes,
                    "val_loss": report.val_loss,
                    "val_accuracy": report.val_accuracy,
                    "metrics": json_metrics(report.metrics),
                },
            )
            if self.files is None:
                return
            if replaced is not None and replaced.path != location:
                # The epoch's partial checkpoint (or an older copy in a bucket) is superseded.
                self.files.remove_checkpoint(self.run_id, replaced.path)
            removed = prune_checkpoints(session, self.run_id, self.keep_last, self.files)
            if removed:
                log(f"retention removed the checkpoints of epochs {removed}")

        self._submit(write)

    def update_run(self, **values: Any) -> None:
        """Set columns of the run, in order with the rows reported before."""
        self._submit(lambda session: self._update_run(session, **values))

    def _update_run(self, session: Session, **values: Any) -> None:
        session.execute(
            update(Run).where(Run.id == self.run_id).values(updated_at=utcnow(), **values)
        )


def json_metrics(named: dict[str, float] | None) -> dict[str, float | None] | None:
    """Named metrics as stored in a JSON column: a value that is not finite (a diverged loss)
    becomes null, as JSON has no NaN and PostgreSQL refuses one."""
    if named is None:
        return None
    return {name: float(value) if math.isfinite(value) else None for name, value in named.items()}


def epoch_row(report: EpochReport) -> dict[str, Any]:
    """An epoch report as its `epoch_metrics` row: the named metrics, and the columns kept for
    the clients that read them (the accuracy ones are null unless classification; a loss or
    learning rate that is not finite, or that a script did not report, is null)."""
    return {
        "epoch": report.epoch,
        "train_loss": metrics.finite(report.train_loss),
        "train_accuracy": report.train_accuracy,
        "val_loss": metrics.finite(report.val_loss),
        "val_accuracy": report.val_accuracy,
        "lr": metrics.finite(report.lr),
        "seconds": report.seconds,
        "lrs": report.lrs,
        # None, not {}, when there is none (a script run's epochs): the page shows no inspector.
        "optimizer_summary": report.optimizer_summary or None,
        "metrics": json_metrics(report.metrics),
    }
