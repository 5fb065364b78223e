"""LR schedulers: each config kind becomes a torch.optim.lr_scheduler, stepped at the right time.

OneCycleLR steps after every batch (its cycle spans the whole run); the others once per epoch,
after validation, ReduceLROnPlateau on the metric it monitors (the run's, unless it names another).
"""

from __future__ import annotations

from typing import Any

from torch import optim
from torch.optim import lr_scheduler

from trainer.config.schedulers import (
    CosineAnnealingLRScheduler,
    ExponentialLRScheduler,
    LinearWarmupScheduler,
    MultiStepLRScheduler,
    OneCycleLRScheduler,
    ReduceLROnPlateauScheduler,
    SchedulerConfig,
    StepLRScheduler,
)
from trainer.config.tasks import Mode


class Schedule:
    """A scheduler (or none) and when to step it."""

    def __init__(
        self, config: SchedulerConfig | None, scheduler: Any, monitor: str = "val_loss"
    ) -> None:
        self.config = config
        self.scheduler = scheduler
        self.monitor = monitor  # the metric ReduceLROnPlateau follows

    def after_batch(self) -> None:
        if isinstance(self.config, OneCycleLRScheduler):
            self.scheduler.step()

    def after_epoch(self, metrics: dict[str, float]) -> None:
        """Step past a validated epoch; `metrics`: its named metrics (EpochReport.metrics)."""
        if self.scheduler is None or isinstance(self.config, OneCycleLRScheduler):
            return
        if isinstance(self.config, ReduceLROnPlateauScheduler):
            self.scheduler.step(metrics[self.monitor])
        else:
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any] | None:
        return None if self.scheduler is None else self.scheduler.state_dict()

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if self.scheduler is not None and state is not None:
            self.scheduler.load_state_dict(state)


def build_schedule(
    config: SchedulerConfig | None,
    optimizer: optim.Optimizer,
    max_epochs: int,
    batches_per_epoch: int,
    watch: tuple[str, Mode] = ("val_loss", "min"),
) -> Schedule:
    """`watch`: the metric and mode a plateau scheduler follows (trainer/metrics/monitor.py)."""
    scheduler = _scheduler(config, optimizer, max_epochs, batches_per_epoch, watch[1])
    return Schedule(config, scheduler, watch[0])


def _scheduler(
    config: SchedulerConfig | None,
    optimizer: optim.Optimizer,
    max_epochs: int,
    batches_per_epoch: int,
    mode: Mode,
) -> Any:
    if config is None:
        return None
    if isinstance(config, StepLRScheduler):
        return lr_scheduler.StepLR(optimizer, config.step_size, gamma=config.gamma)
    if isinstance(config, MultiStepLRScheduler):
        return lr_scheduler.MultiStepLR(optimizer, list(config.milestones), gamma=config.gamma)
    if isinstance(config, ExponentialLRScheduler):
        return lr_scheduler.ExponentialLR(optimizer, config.gamma)
    if isinstance(config, CosineAnnealingLRScheduler):
        return lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=config.T_max or max_epochs, eta_min=config.eta_min
        )
    if isinstance(config, OneCycleLRScheduler):
        return lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=config.max_lr,
            total_steps=max_epochs * batches_per_epoch,
            **config.model_dump(exclude={"kind", "max_lr"}),
        )
    if isinstance(config, ReduceLROnPlateauScheduler):
        return lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=mode, **config.model_dump(exclude={"kind", "monitor", "mode"})
        )
    if isinstance(config, LinearWarmupScheduler):
        return lr_scheduler.LinearLR(optimizer, **config.model_dump(exclude={"kind"}))
    raise TypeError(f"unknown scheduler config {config!r}")
