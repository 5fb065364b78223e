"""A script run's stdout, read line by line: JSON metric lines become rows, the rest is log.

The rules (docs/scripts.md):

- a JSON object with an integer `epoch` is an epoch row: its other numeric keys are the epoch's
  named metrics (`lr` and `seconds`, when given, fill those columns instead);
- a JSON object with an integer `step` and no `epoch` is a step row: `loss` is the step loss;
- `{"torchdash": "checkpoint", "epoch": N, "path": ...}` (what the tracking module prints once a
  checkpoint is on disk) registers that checkpoint;
- every other line, and a metric line with a value that is not a number, a line longer than
  MAX_LINE_BYTES or too many metrics, is only log text. NaN and infinity are numbers: they are
  stored as null (a gap in the charts), a step's loss as well as an epoch's metrics.

An epoch or step at or below the last one captured is ignored (a script restarted from a
checkpoint reports again from there; the rows after it were dropped when it restarted).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from app.storage.metrics import finite
from app.worker.reporter import DatabaseReporter
from trainer.callbacks import CheckpointReport, EpochReport, StepReport
from trainer.config.script import script_metric_mode

MAX_LINE_BYTES = 64 * 1024
MAX_METRICS = 64
MAX_NAME_LENGTH = 200
# Keys of an epoch line that fill the row's own columns rather than name a metric.
COLUMN_KEYS = ("epoch", "lr", "seconds")


@dataclass(frozen=True)
class EpochLine:
    epoch: int
    metrics: dict[str, float]
    lr: float | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class StepLine:
    step: int
    loss: float


@dataclass(frozen=True)
class CheckpointLine:
    epoch: int
    path: str


Parsed = EpochLine | StepLine | CheckpointLine | None


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integer(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def parse_line(line: str) -> Parsed:
    """What a line of the script's stdout reports; None for a line that is only text."""
    text = line.strip()
    # Cheap test first: most lines of most scripts are not JSON objects.
    if not (text.startswith("{") and text.endswith("}")) or len(text) > MAX_LINE_BYTES:
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    if value.get("torchdash") == "checkpoint":
        epoch, path = value.get("epoch"), value.get("path")
        if _integer(epoch) and isinstance(path, str):
            return CheckpointLine(epoch, path)
        return None
    if "epoch" in value:
        return _epoch_line(value)
    if "step" in value:
        step, loss = value.get("step"), value.get("loss")
        if _integer(step) and _number(loss):
            return StepLine(step, float(loss))
    return None


def _epoch_line(value: dict[str, Any]) -> EpochLine | None:
    epoch = value["epoch"]
    if not _integer(epoch) or epoch < 1:
        return None
    named = {name: metric for name, metric in value.items() if name not in COLUMN_KEYS}
    if len(named) > MAX_METRICS or not all(_number(metric) for metric in value.values()):
        return None
    if any(len(name) > MAX_NAME_LENGTH or not name for name in named):
        return None
    lr, seconds = value.get("lr"), value.get("seconds")
    return EpochLine(
        epoch,
        {name: float(metric) for name, metric in named.items()},
        lr=float(lr) if lr is not None else None,
        seconds=float(seconds) if seconds is not None else None,
    )


def metric_mode(name: str) -> str:
    """Whether a metric the script names improves by falling ("min") or rising ("max")."""
    return script_metric_mode(name)


def _finite_or(value: float | None, default: float) -> float:
    return value if value is not None and math.isfinite(value) else default


class ScriptCapture:
    """Turns the parsed lines of one script run into rows through the worker's reporter, and
    keeps the run's metric names and monitored metric up to date as they appear."""

    def __init__(
        self,
        reporter: DatabaseReporter,
        *,
        start_epoch: int,
        start_step: int,
        monitor: str | None,
        monitor_mode: str | None,
        metric_names: list[str],
        register_checkpoint: Callable[[CheckpointLine, dict[str, float] | None], None],
        update_run: Callable[..., None],
        on_epoch: Callable[[EpochReport], None] | None = None,
    ) -> None:
        self.reporter = reporter
        self.last_epoch = start_epoch
        self.last_step = start_step
        self.monitor = monitor
        self.monitor_mode = monitor_mode
        self.metric_names = list(metric_names)
        self.register_checkpoint = register_checkpoint
        self.update_run = update_run
        self.on_epoch = on_epoch  # a study trial's report to its pruner, after the row
        self.epoch_metrics: dict[int, dict[str, float]] = {}
        self.epoch_started = time.monotonic()
        self.epochs = 0
        self.steps = 0
        self.checkpoints = 0

    def take(self, parsed: Parsed) -> bool:
        """Report one parsed line; whether it became a row (False: log text only)."""
        if isinstance(parsed, EpochLine):
            return self._epoch(parsed)
        if isinstance(parsed, StepLine):
            return self._step(parsed)
        if isinstance(parsed, CheckpointLine):
            self.register_checkpoint(parsed, self.epoch_metrics.get(parsed.epoch))
            self.checkpoints += 1
            return True
        return False

    def _step(self, line: StepLine) -> bool:
        if line.step <= self.last_step:
            return False
        # A NaN or infinite loss is reported as it is: the row keeps the step, with a null loss.
        self.last_step = line.step
        self.reporter.on_step(StepReport(line.step, self.last_epoch + 1, 0, 0, line.loss))
        self.steps += 1
        return True

    def _epoch(self, line: EpochLine) -> bool:
        if line.epoch <= self.last_epoch:
            return False
        self._learn_names(line.metrics)
        now = time.monotonic()
        seconds = _finite_or(line.seconds, now - self.epoch_started)
        self.epoch_started = now
        named = line.metrics
        monitor = self.monitor or ""
        report = EpochReport(
            epoch=line.epoch,
            # A column the script did not report is NaN here, null in the row (the reporter
            # stores every value that is not finite as null); `metrics` holds what it gave.
            train_loss=named.get("train_loss", named.get("loss", math.nan)),
            train_accuracy=finite(named.get("train_accuracy")),
            val_loss=named.get("val_loss", math.nan),
            val_accuracy=finite(named.get("val_accuracy")),
            lr=line.lr if line.lr is not None else math.nan,
            seconds=seconds,
            lrs=[line.lr] if line.lr is not None and math.isfinite(line.lr) else [],
            metrics=named,
            monitor=monitor,
            monitor_value=named.get(monitor, math.nan),
        )
        self.reporter.on_epoch_end(report)
        self.last_epoch = line.epoch
        self.epoch_metrics[line.epoch] = named
        self.epochs += 1
        if self.on_epoch is not None:
            self.on_epoch(report)
        return True

    def _learn_names(self, named: dict[str, float]) -> None:
        """New metric names join the run's list; the first epoch picks the monitored metric
        when the request named none: val_loss (min) when reported, else the first metric."""
        changes: dict[str, Any] = {}
        new = [name for name in named if name not in self.metric_names]
        if new:
            self.metric_names += new
            changes["metric_names"] = list(self.metric_names)
        if self.monitor is None and self.metric_names:
            self.monitor = "val_loss" if "val_loss" in self.metric_names else self.metric_names[0]
            changes["monitor"] = self.monitor
        if self.monitor is not None and self.monitor_mode is None:
            self.monitor_mode = metric_mode(self.monitor)
            changes["monitor_mode"] = self.monitor_mode
        if changes:
            # The reporter reads the mode when it judges the epoch's value against the best.
            self.reporter.monitor_mode = self.monitor_mode
            self.update_run(**changes)

    def summary(self) -> str:
        return (
            f"captured {self.epochs} epoch rows, {self.steps} step rows and "
            f"{self.checkpoints} checkpoints from the script's output"
        )


def checkpoint_report(
    folder: Path, epoch: int, metrics: dict[str, float] | None, size_bytes: int
) -> CheckpointReport:
    named = metrics or {}
    return CheckpointReport(
        epoch=epoch,
        complete=True,
        batches_done=0,
        path=folder,
        size_bytes=size_bytes,
        val_loss=finite(named.get("val_loss")),
        val_accuracy=finite(named.get("val_accuracy")),
        metrics=metrics,
    )
