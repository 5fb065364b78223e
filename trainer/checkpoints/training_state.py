"""A run's state between batches, and how it goes into a checkpoint and comes back out.

Everything needed to continue exactly: where the loop stands (`EpochProgress`), the model, the
optimizer, the scheduler, the AMP scaler and the RNG state (as tensors), with the config.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainer.callbacks import EpochReport
from trainer.checkpoints.store import CheckpointError, load_checkpoint
from trainer.checkpoints.writer import CheckpointJob, snapshot
from trainer.config import RunConfig
from trainer.devices.acceleration import Acceleration
from trainer.optim.schedulers import Schedule


@dataclass
class EpochProgress:
    """Where the loop stands; saved in every checkpoint so a run continues exactly."""

    epoch: int = 0  # last finished epoch
    batches_done: int = 0  # batches of epoch + 1 already trained (non-zero only mid-epoch)
    step: int = 0  # global optimizer steps so far
    loss_sum: float = 0.0  # the unfinished epoch's running sums, so its mean stays right
    correct: int = 0
    seen: int = 0
    seconds: float = 0.0
    best_val_accuracy: float | None = None  # classification runs
    # The best value of the run's monitored metric, and its epoch (a checkpoint written before
    # runs had one lacks them: they start again from the resumed epoch).
    best_metric: float | None = None
    best_metric_epoch: int | None = None
    processes: int = (
        1  # the rank count that `batches_done` counts in (trainer/distributed/ranks.py)
    )
    early_stopping: dict[str, Any] | None = None  # trainer/early_stopping.py's state


def checkpoint_job(
    config: RunConfig,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    schedule: Schedule,
    acceleration: Acceleration,
    progress: EpochProgress,
    report: EpochReport | None,
    data_state: dict[str, Any] | None = None,
) -> CheckpointJob:
    """A snapshot of the run now: complete at an epoch's end (`report`), else partial.

    `data_state` is the preprocessing fitted on the training split (`DataSplits.data_state`),
    kept so a resumed run, its evaluation and its bundle read the data the same way."""
    complete = report is not None
    state: dict[str, Any] = {
        "progress": vars(progress).copy(),
        "rng": rng_state(),
        "scheduler": schedule.state_dict(),
        "grad_scaler": acceleration.state_dict(),
        "config": config.model_dump_json(),
        "val_loss": report.val_loss if report else None,
        "val_accuracy": report.val_accuracy if report else None,
        "metrics": dict(report.metrics) if report else None,
        "data_state": data_state,
    }
    return CheckpointJob(
        epoch=progress.epoch if complete else progress.epoch + 1,
        complete=complete,
        batches_done=progress.batches_done,
        model_state=snapshot(model.state_dict()),
        optimizer_state=snapshot(optimizer.state_dict()),
        trainer_state=snapshot(state),
    )


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _same_shape(built: dict[str, Any], saved: dict[str, Any]) -> bool:
    """True when a saved optimizer state_dict fits the built optimizer: as many groups, each with
    as many parameters and the same hyperparameter names (another optimizer kind has others)."""
    groups, saved_groups = built["param_groups"], saved["param_groups"]
    return len(groups) == len(saved_groups) and all(
        len(group["params"]) == len(old["params"]) and group.keys() == old.keys()
        for group, old in zip(groups, saved_groups, strict=False)
    )


def _same_keys(built: dict[str, Any] | None, saved: dict[str, Any] | None) -> bool:
    """True when a saved scheduler state fits the built scheduler (none, or the same kind)."""
    if built is None or saved is None:
        return built is saved
    return built.keys() == saved.keys()


def load_weights(path: Path, model: nn.Module, device: torch.device) -> None:
    """Load a bare model state_dict; weights_only=True refuses pickles that would run code."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        model.load_state_dict(state)
    except Exception as error:  # an unpickling refusal, a foreign format, a shape mismatch
        raise CheckpointError(f"checkpoint file '{path}' cannot be loaded: {error}") from error


def restore(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    schedule: Schedule,
    acceleration: Acceleration,
    keep_hyperparameters: bool = False,
) -> EpochProgress:
    """Load a checkpoint folder into the model, optimizer, scheduler, scaler and RNGs."""
    loaded = load_checkpoint(path, map_location=acceleration.device)
    try:
        model.load_state_dict(loaded["model"])
    except RuntimeError as error:  # e.g. another class count: a clear error before training
        raise CheckpointError(
            f"checkpoint '{path}' does not fit the model built for this data: {error}"
        ) from error
    state = loaded["state"]
    if keep_hyperparameters and not _same_shape(optimizer.state_dict(), loaded["optimizer"]):
        # A fork may pick another optimizer kind or other parameter groups: its saved moments
        # cannot be carried over, so it starts fresh (on the checkpoint's weights).
        print("fork: the optimizer differs from the checkpoint's: its state starts fresh")
    else:
        configured = [
            {k: v for k, v in group.items() if k != "params"} for group in optimizer.param_groups
        ]
        optimizer.load_state_dict(loaded["optimizer"])  # this also restores the saved lr, ...
        if keep_hyperparameters:
            for group, hyperparameters in zip(optimizer.param_groups, configured, strict=True):
                group.update(hyperparameters)
    saved_schedule = state.get("scheduler")
    if keep_hyperparameters and not _same_keys(schedule.state_dict(), saved_schedule):
        print("fork: the scheduler differs from the checkpoint's: it starts from its beginning")
    else:
        schedule.load_state_dict(saved_schedule)
    acceleration.load_state_dict(state.get("grad_scaler"))
    torch.set_rng_state(state["rng"]["torch"].cpu())
    if "cuda" in state["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["rng"]["cuda"]])
    return EpochProgress(**state["progress"])
