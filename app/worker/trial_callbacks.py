"""A study trial's callbacks: the run's rows as any run's, and after each epoch the objective
reported to Optuna, whose pruner may stop the trial at that epoch boundary (a script run's
trial reports the epoch lines its script prints the same way)."""

from __future__ import annotations

from app.studies.pruning import TrialReporter
from app.worker.console import log
from app.worker.reporter import DatabaseReporter
from app.worker.stop_signal import StopSignal
from trainer.callbacks import (
    Callbacks,
    CheckpointReport,
    EarlyStoppingReport,
    EpochReport,
    FitStart,
    StepReport,
)


def report_epoch(trial: TrialReporter, stop: StopSignal, report: EpochReport) -> None:
    """Report an epoch's objective to the trial; a prune sets `stop` with its reason. A loop
    run's callbacks and a script run's captured epoch lines both come here."""
    reason = trial.report(report.epoch, report.metrics)
    if reason is not None:
        log(reason)
        stop.prune(reason)


class TrialCallbacks(Callbacks):
    """`reporter`'s callbacks, plus the trial's report after each epoch; a prune sets `stop`,
    which the loop reads right after the epoch's checkpoint."""

    def __init__(self, reporter: DatabaseReporter, trial: TrialReporter, stop: StopSignal) -> None:
        self.reporter = reporter
        self.trial = trial
        self.stop = stop

    def on_fit_start(self, info: FitStart) -> None:
        self.reporter.on_fit_start(info)

    def on_step(self, report: StepReport) -> None:
        self.reporter.on_step(report)

    def on_epoch_end(self, report: EpochReport) -> None:
        self.reporter.on_epoch_end(report)
        report_epoch(self.trial, self.stop, report)

    def on_checkpoint(self, report: CheckpointReport) -> None:
        self.reporter.on_checkpoint(report)

    def on_early_stopping(self, report: EarlyStoppingReport) -> None:
        self.reporter.on_early_stopping(report)
