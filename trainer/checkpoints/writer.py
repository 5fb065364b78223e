"""Checkpoints written on a background thread, so the training loop does not wait for the disk.

The loop hands over a snapshot (every tensor copied to the CPU, so training can go on changing
the originals) and goes on; one writer thread saves snapshots in order, atomically, then reports
them through `on_checkpoint`. A write that failed is raised in the loop at its next look (the
next epoch's end at the latest), and `wait` returns only when everything handed over is on disk.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from trainer.callbacks import Callbacks, CheckpointReport
from trainer.checkpoints.store import (
    checkpoint_name,
    checkpoint_size,
    remove_checkpoint,
    save_checkpoint,
)


def snapshot(obj: Any) -> Any:
    """A copy of a state (nested dicts, lists, tuples) with every tensor copied to the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {key: snapshot(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(snapshot(value) for value in obj)
    return obj


@dataclass(frozen=True)
class CheckpointJob:
    epoch: int
    complete: bool
    batches_done: int
    model_state: dict[str, Any]
    optimizer_state: dict[str, Any]
    trainer_state: dict[str, Any]


class CheckpointWriter:
    """One background thread that writes checkpoints to `directory` in the order handed over."""

    def __init__(self, directory: Path, callbacks: Callbacks) -> None:
        self.directory = directory
        self.callbacks = callbacks
        self.jobs: queue.Queue[CheckpointJob | None] = queue.Queue()
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    def submit(self, job: CheckpointJob) -> None:
        """Hand a snapshot over; raises first if an earlier write failed."""
        self.check()
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="checkpoint-writer", daemon=True)
            self.thread.start()
        self.jobs.put(job)

    def check(self) -> None:
        """Raise the error of a failed write, if any."""
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def wait(self) -> None:
        """Return once every checkpoint handed over is on disk (or raise its error)."""
        self.jobs.join()
        self.check()

    def close(self) -> None:
        """Finish the writes handed over and stop the thread; raises nothing."""
        if self.thread is not None:
            self.jobs.put(None)
            self.thread.join()
            self.thread = None

    def _run(self) -> None:
        failed = False
        while (job := self.jobs.get()) is not None:
            try:
                # After a failed write none is made: the run fails at the loop's next look, and
                # a later epoch's checkpoint (handed over before that look) must not outlive it.
                if not failed:
                    self._write(job)
            except BaseException as error:  # handed to the loop, which raises it
                failed = True
                self.error = self.error or error
            finally:
                self.jobs.task_done()
        self.jobs.task_done()

    def _write(self, job: CheckpointJob) -> None:
        path = save_checkpoint(
            self.directory,
            job.epoch,
            job.complete,
            job.model_state,
            job.optimizer_state,
            job.trainer_state,
        )
        if job.complete:  # the partial checkpoint of this epoch, if any, is superseded
            remove_checkpoint(self.directory / checkpoint_name(job.epoch, complete=False))
        self.callbacks.on_checkpoint(
            CheckpointReport(
                epoch=job.epoch,
                complete=job.complete,
                batches_done=job.batches_done,
                path=path,
                size_bytes=checkpoint_size(path),
                val_loss=job.trainer_state["val_loss"],
                val_accuracy=job.trainer_state["val_accuracy"],
                metrics=job.trainer_state.get("metrics"),
            )
        )
