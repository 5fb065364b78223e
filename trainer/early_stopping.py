"""Early stopping: end a run whose monitored validation metric stopped improving.

It follows the run's monitored metric unless its config names another, in that metric's
direction (a loss must fall, an accuracy rise; a metric plugin says which). The state (best
value, its epoch, epochs without improvement) is saved in every checkpoint with the loop's
progress, so a run resumed with a larger `max_epochs` goes on counting where it was.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from trainer.callbacks import EpochReport
from trainer.config import EarlyStoppingConfig
from trainer.config.tasks import Mode, improved


@dataclass
class EarlyStoppingState:
    best: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0  # epochs in a row without an improvement


class EarlyStopping:
    """Watches one metric epoch by epoch; `stop_reason` says when and why to stop."""

    def __init__(
        self,
        config: EarlyStoppingConfig,
        saved: dict[str, Any] | None = None,
        watch: tuple[str, Mode] = ("val_loss", "min"),
    ) -> None:
        """`watch`: the metric's name and mode (trainer/metrics/monitor.py `watched_metric`)."""
        self.config = config
        self.monitor, self.mode = watch
        self.state = EarlyStoppingState(**(saved or {}))

    def improved(self, value: float) -> bool:
        return improved(value, self.state.best, self.mode, self.config.min_delta)

    def observe(self, report: EpochReport) -> None:
        """Count one finished epoch."""
        value = report.metrics[self.monitor]
        if self.improved(value):
            self.state = EarlyStoppingState(value, report.epoch, 0)
        else:
            self.state.bad_epochs += 1

    @property
    def stop_reason(self) -> str | None:
        """Why the run should stop now; None while it should go on."""
        state, config = self.state, self.config
        if state.bad_epochs < config.patience:
            return None
        return (
            f"early stopping: {self.monitor} did not improve by {config.min_delta:g} for "
            f"{state.bad_epochs} epochs (best {state.best:.4g} at epoch {state.best_epoch})"
        )

    def state_dict(self) -> dict[str, Any]:
        return asdict(self.state)
