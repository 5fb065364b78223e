"""How the trainer reports: plain data records handed to a `Callbacks` object.

The trainer knows nothing of HTTP or SQL; the worker maps these calls to database rows, the
command line prints them, a notebook can collect them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FitStart:
    """What is known once data, model and optimizer are built."""

    device: str
    # classification: the classes; multi-label: the labels; regression: the targets
    class_names: list[str]
    model_summary: str
    parameter_count: int
    batches_per_epoch: int
    start_epoch: int  # the last finished epoch the run starts from (0 on a fresh run)
    start_batch: int  # batches of the next epoch already trained (a mid-epoch checkpoint)
    start_step: int  # global steps already taken
    task: str = "classification"
    monitor: str = "val_accuracy"  # the metric that picks the best epoch
    monitor_mode: str = "max"  # "min" or "max": the direction it improves in
    metric_names: list[str] = field(default_factory=list)  # every name an epoch records


@dataclass(frozen=True)
class StepReport:
    """One optimizer step's training loss."""

    step: int  # global step, counted from 1 over the whole run
    epoch: int  # the epoch in progress, counted from 1
    batch: int  # batches done in this epoch, including this one
    batches: int  # batches per epoch
    loss: float


@dataclass(frozen=True)
class EpochReport:
    """One finished epoch's metrics."""

    epoch: int
    train_loss: float
    train_accuracy: float | None  # classification only, as val_accuracy
    val_loss: float
    val_accuracy: float | None
    lr: float  # the first param group's
    seconds: float
    lrs: list[float] = field(default_factory=list)  # every param group's, as trained this epoch
    # trainer/optim/inspector.py: defaults, each group's hyperparameters, each parameter's state
    # buffers
    optimizer_summary: dict[str, Any] = field(default_factory=dict)
    # Every metric of the run by name (trainer/config/tasks.py `metric_names`), losses included.
    metrics: dict[str, float] = field(default_factory=dict)
    monitor: str = "val_accuracy"  # the run's monitored metric, and its value this epoch
    monitor_value: float = float("nan")


@dataclass(frozen=True)
class CheckpointReport:
    """A checkpoint written to disk: complete at an epoch's end, partial on a stop mid-epoch."""

    epoch: int  # the epoch it belongs to: finished if complete, in progress if not
    complete: bool
    batches_done: int
    path: Path
    size_bytes: int
    val_loss: float | None
    val_accuracy: float | None
    metrics: dict[str, float] | None = None  # the epoch's named metrics (complete ones only)


@dataclass(frozen=True)
class EarlyStoppingReport:
    """Early stopping's verdict after an epoch (only for runs that have it on)."""

    best_epoch: int | None  # the epoch with the best monitored metric so far
    stop_reason: str | None  # set when the run stops here


class Callbacks:
    """Do-nothing base; override what you need."""

    def on_fit_start(self, info: FitStart) -> None:
        """Called once, before the first batch."""

    def on_step(self, report: StepReport) -> None:
        """Called for every step, in batches of `report_every_steps` (one device sync each)."""

    def on_epoch_end(self, report: EpochReport) -> None:
        """Called after each epoch's validation."""

    def on_checkpoint(self, report: CheckpointReport) -> None:
        """Called after a checkpoint is safely on disk."""

    def on_early_stopping(self, report: EarlyStoppingReport) -> None:
        """Called after each epoch's `on_epoch_end`, when early stopping is on."""


class PrintCallbacks(Callbacks):
    """Prints one line per epoch, for the command line."""

    def on_fit_start(self, info: FitStart) -> None:
        print(
            f"device {info.device}, {info.parameter_count:,} parameters, "
            f"{info.batches_per_epoch} batches per epoch; {info.task}, monitoring "
            f"{info.monitor} ({info.monitor_mode})",
            flush=True,
        )

    def on_epoch_end(self, report: EpochReport) -> None:
        values = "  ".join(f"{name} {value:.4f}" for name, value in report.metrics.items())
        print(f"epoch {report.epoch:3d}  {values}  ({report.seconds:.2f} s)", flush=True)

    def on_early_stopping(self, report: EarlyStoppingReport) -> None:
        if report.stop_reason:
            print(report.stop_reason, flush=True)
