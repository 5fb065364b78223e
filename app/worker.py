"""The worker: one process per run. Binds trainer callbacks to database rows.

Started by the dispatcher as `python -m app.worker RUN_ID` (a fresh interpreter: spawned, never
forked), after the run was claimed (`running`), or handed the run as a warm worker
(`python -m app.worker --warm`, see app/warm_worker.py) that had torch imported already.
Whatever happens, it writes a final status: succeeded, cancelled (stop asked for through the
API), interrupted (SIGTERM or SIGINT, after saving a checkpoint) or failed with the error text.
"""

from __future__ import annotations

import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import torch
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app import metrics
from app.checks import check_run_config
from app.db import make_engine, make_session_factory, session_scope
from app.evaluation import save_evaluation
from app.failures import failure_reason, free_device_memory
from app.models import Run, RunStatus, Upload, utcnow
from app.retention import prune_checkpoints
from app.runs import get_run, transition
from app.settings import Settings
from app.warm_worker import WARM_FLAG, serve_one_run
from trainer.callbacks import Callbacks, CheckpointReport, EpochReport, FitStart, StepReport
from trainer.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    list_checkpoints,
    newest_valid_checkpoint,
)
from trainer.config import RunConfig
from trainer.loop import fit

# Step rows wait at most this long in memory before they are written (one transaction a flush).
STEP_FLUSH_SECONDS = 0.25
# How often the loop looks at the database for a cancel request.
STOP_POLL_SECONDS = 0.5


def log(message: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} {message}", flush=True)


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
        checkpoint_dir: Path | None = None,
    ) -> None:
        self.factory = factory
        self.run_id = run_id
        self.keep_last = keep_last
        self.checkpoint_dir = checkpoint_dir
        self.pending_steps: list[dict[str, Any]] = []
        self.progress: tuple[int, int] | None = None
        self.last_flush = time.monotonic()
        self.first_step_logged = False
        self.writes: queue.Queue[Callable[[Session], None] | None] = queue.Queue()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._write_all, name="report-writer", daemon=True)
        self.thread.start()

    def _write_all(self) -> None:
        """The writer thread: each write its own transaction, in order, until the first error."""
        while (write := self.writes.get()) is not None:
            try:
                if self.error is None:
                    with session_scope(self.factory) as session:
                        write(session)
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

        def write(session: Session) -> None:
            # Rows written after the checkpoint we restart from would be written again.
            metrics.trim_after(session, self.run_id, info.start_epoch, info.start_step)
            self._update_run(
                session,
                device=info.device,
                class_names=info.class_names,
                model_summary=info.model_summary,
                parameter_count=info.parameter_count,
                epoch=info.start_epoch,
                progress_batch=info.start_batch,
                progress_batches=info.batches_per_epoch,
            )

        self._submit(write)

    def on_step(self, report: StepReport) -> None:
        if not self.first_step_logged:
            # Epoch seconds, for measuring a run's start from outside (bench/run_start.py).
            log(f"first step reported at {time.time():.3f}")
            self.first_step_logged = True
        self.pending_steps.append({"step": report.step, "epoch": report.epoch, "loss": report.loss})
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
        metrics.write_steps(session, self.run_id, steps)
        if progress is not None:
            batch, batches = progress
            self._update_run(session, progress_batch=batch, progress_batches=batches)

    def on_epoch_end(self, report: EpochReport) -> None:
        log(
            f"epoch {report.epoch}: train loss {report.train_loss:.4f}, "
            f"val loss {report.val_loss:.4f}, val accuracy {report.val_accuracy:.4f}"
        )
        steps, progress = self._take_pending()

        def write(session: Session) -> None:
            self._write_steps(session, steps, progress)
            metrics.write_epoch(session, self.run_id, vars(report))
            best = session.scalar(select(Run.best_val_accuracy).where(Run.id == self.run_id))
            self._update_run(
                session,
                epoch=report.epoch,
                progress_batch=0,
                best_val_accuracy=report.val_accuracy
                if best is None
                else max(best, report.val_accuracy),
            )

        self._submit(write)

    def on_checkpoint(self, report: CheckpointReport) -> None:
        """Called on the checkpoint writer's thread, after the epoch's rows were handed over."""
        log(f"checkpoint saved: {report.path}")

        def write(session: Session) -> None:
            metrics.write_checkpoint(
                session,
                self.run_id,
                {
                    "epoch": report.epoch,
                    "complete": report.complete,
                    "batches_done": report.batches_done,
                    "path": str(report.path),
                    "size_bytes": report.size_bytes,
                    "val_loss": report.val_loss,
                    "val_accuracy": report.val_accuracy,
                },
            )
            if self.checkpoint_dir is not None:
                removed = prune_checkpoints(
                    session, self.run_id, self.keep_last, self.checkpoint_dir
                )
                if removed:
                    log(f"retention removed the checkpoints of epochs {removed}")

        self._submit(write)

    def _update_run(self, session: Session, **values: Any) -> None:
        session.execute(
            update(Run).where(Run.id == self.run_id).values(updated_at=utcnow(), **values)
        )


class StopSignal:
    """The loop's `should_stop`: true after SIGTERM/SIGINT or a cancel request in the database."""

    def __init__(self, factory: sessionmaker[Session], run_id: int) -> None:
        self.factory = factory
        self.run_id = run_id
        self.signal_name: str | None = None
        self.requested = False
        self.next_poll = 0.0

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.signal_name = signal.Signals(signum).name

    def __call__(self) -> bool:
        if self.signal_name or self.requested:
            return True
        now = time.monotonic()
        if now >= self.next_poll:  # throttled: a query every STOP_POLL_SECONDS, not every batch
            self.next_poll = now + STOP_POLL_SECONDS
            with session_scope(self.factory) as session:
                self.requested = bool(
                    session.scalar(select(Run.stop_requested).where(Run.id == self.run_id))
                )
        return self.requested


def execute_run(run_id: int, settings: Settings, *, handle_signals: bool = False) -> RunStatus:
    """Train a claimed (`running`) run to its end and write its final status."""
    engine = make_engine(settings.sqlalchemy_url)
    factory = make_session_factory(engine)
    try:
        return _execute(run_id, settings, factory, handle_signals)
    finally:
        engine.dispose()


def _execute(
    run_id: int, settings: Settings, factory: sessionmaker[Session], handle_signals: bool
) -> RunStatus:
    with session_scope(factory) as session:
        run = get_run(session, run_id)
        if run.status != RunStatus.RUNNING:
            log(f"run {run_id} is {run.status}, not running: nothing to do")
            return RunStatus(run.status)
        config_json, parent_id, fork_epoch = run.config, run.parent_run_id, run.fork_epoch
        fallback = run.resume_fallback
        upload = session.get(Upload, run.upload_id) if run.upload_id is not None else None
        init_weights = _upload_file(upload, settings) if upload is not None else None
        parent_path = None
        if parent_id is not None and fork_epoch is not None:
            parent = metrics.find_checkpoint(session, parent_id, fork_epoch)
            parent_path = Path(parent.path) if parent else None

    stop = StopSignal(factory, run_id)
    if handle_signals:
        signal.signal(signal.SIGTERM, stop.on_signal)
        signal.signal(signal.SIGINT, stop.on_signal)
    checkpoint_dir = settings.checkpoint_dir(run_id)
    reporter = DatabaseReporter(factory, run_id, settings.keep_last_checkpoints, checkpoint_dir)
    try:
        config = check_run_config(RunConfig.model_validate(config_json), settings)
        own = _own_checkpoint(checkpoint_dir, fallback)
        resume_from = own or parent_path
        if parent_id is not None and resume_from is None:
            raise FileNotFoundError(f"run {parent_id} has no checkpoint of epoch {fork_epoch}")
        log(f"run {run_id} starts" + (f" from checkpoint {resume_from}" if resume_from else ""))
        threads = settings.torch_threads()
        if threads is not None:
            torch.set_num_threads(threads)
            log(f"torch trains on {threads} CPU thread(s) (TORCHDASH_WORKER_THREADS)")
        result = fit(
            config,
            reporter,
            checkpoint_dir=checkpoint_dir,
            resume_from=resume_from,
            should_stop=stop,
            plugins_dir=settings.plugins_path,
            init_weights=init_weights if own is None else None,
            fork=own is None and parent_path is not None,
        )
        reporter.flush()
    except Exception as error:  # any failure of the run is reported, none takes the worker down
        traceback.print_exc()
        message = failure_reason(error)
        try:
            reporter.flush()  # the steps trained before the failure stay on the chart
        except Exception:  # the failure may be the database itself: the status matters more
            traceback.print_exc()
        reporter.close()
        if message.startswith("out of memory"):
            free_device_memory()
        _finish(factory, run_id, RunStatus.FAILED, error=message)
        return RunStatus.FAILED

    reporter.close()
    if not stop.signal_name:
        _evaluate_best(factory, run_id, config, settings)
    if not result.stopped:
        status, reason = RunStatus.SUCCEEDED, None
    elif stop.signal_name:
        status, reason = RunStatus.INTERRUPTED, f"worker received {stop.signal_name}"
    else:
        status, reason = RunStatus.CANCELLED, None
    _finish(factory, run_id, status, error=reason)
    return status


def _own_checkpoint(directory: Path, fallback: bool) -> Path | None:
    """The run's checkpoint to resume from: the newest, or with `fallback` the newest valid."""
    if not fallback:
        ref = latest_checkpoint(directory)
        return ref.path if ref else None
    ref = newest_valid_checkpoint(directory, warn=log)
    if ref is None and list_checkpoints(directory):
        raise CheckpointError(f"no checkpoint in '{directory}' loads")
    if ref is not None:
        log(f"resuming from the newest valid checkpoint {ref.path}")
    return ref.path if ref else None


def _upload_file(upload: Upload, settings: Settings) -> Path:
    """An uploaded file's path, checked again to lie in the uploads folder."""
    path = Path(upload.path).resolve()
    if not path.is_relative_to(settings.uploads_dir.resolve()):
        raise CheckpointError(f"upload {upload.id} is not inside the uploads folder")
    return path


def _evaluate_best(
    factory: sessionmaker[Session], run_id: int, config: RunConfig, settings: Settings
) -> None:
    """Save the confusion matrix and misclassified images of the run's best epoch."""
    from trainer.evaluation import evaluate_checkpoint

    with session_scope(factory) as session:
        best = metrics.last_and_best_checkpoints(metrics.read_checkpoints(session, run_id)).get(
            "best"
        )
        if best is None:
            return
        path, epoch = Path(best.path), best.epoch
    try:
        evaluation = evaluate_checkpoint(config, path, epoch)
        save_evaluation(settings.run_dir(run_id), evaluation)
        log(f"evaluation of epoch {epoch} saved")
    except Exception:  # an evaluation that fails must not fail a run that trained well
        traceback.print_exc()
        log("evaluation failed; the run itself is unaffected")


def _finish(
    factory: sessionmaker[Session], run_id: int, status: RunStatus, error: str | None
) -> None:
    log(f"run {run_id} {status.value}" + (f": {error}" if error else ""))
    with session_scope(factory) as session:
        transition(session, run_id, status, allowed_from=[RunStatus.RUNNING], error=error)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == [WARM_FLAG]:
        return serve_one_run(Settings())
    if len(args) != 1 or not args[0].isdigit():
        print(f"usage: python -m app.worker RUN_ID | {WARM_FLAG}", file=sys.stderr)
        return 2
    status = execute_run(int(args[0]), Settings(), handle_signals=True)
    return 0 if status in (RunStatus.SUCCEEDED, RunStatus.CANCELLED) else 1


if __name__ == "__main__":
    sys.exit(main())
