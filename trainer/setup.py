"""Everything a run needs before its first batch, built from its config in one place.

`setup_run` checks the config and builds the data, the model, the loss, the validation metrics,
the optimizer and the learning-rate schedule; `fit` and the preflight both call it, so what one
accepts the other does.
`fit` then adds what only training needs: the epoch's batches (`epoch_batches`) and where the run
starts (`start_point`: from scratch, from uploaded weights, or from a checkpoint).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchmetrics import Metric, MetricCollection

from trainer.checkpoints.training_state import EpochProgress, load_weights, restore
from trainer.config import RunConfig, compatibility_problems
from trainer.config.base import PathKind
from trainer.config.schedulers import ReduceLROnPlateauScheduler
from trainer.config.tasks import Mode, plugin_metric_name
from trainer.data.datasets import DataSplits, build_datasets
from trainer.data.sampling import EpochShuffleSampler
from trainer.data.tensor_cache import Batches, build_batches
from trainer.devices.acceleration import Acceleration
from trainer.devices.selection import resolve_device
from trainer.distributed.ranks import Ranks
from trainer.errors import ConfigProblem, Loc, PluginError
from trainer.metrics.monitor import watched_metric
from trainer.metrics.validation import (
    ValidationMetrics,
    build_plugin_metric,
    build_validation_metrics,
)
from trainer.models.builtin import build_model
from trainer.optim.losses import TaskLoss, build_loss, output_count
from trainer.optim.optimizers import build_optimizer
from trainer.optim.schedulers import Schedule, build_schedule

# How a part of the setup that fails is reported: given the config field it comes from and what
# the failure means, a context in which that part is built.
Blame = Callable[[Loc, str], AbstractContextManager[None]]


@contextlib.contextmanager
def let_through(loc: Loc, meaning: str) -> Iterator[None]:
    """Failures go on as they are: a run's error names the exception's own type."""
    yield


@contextlib.contextmanager
def as_problem(loc: Loc, meaning: str) -> Iterator[None]:
    """Failures become a `ConfigProblem` naming the config field `loc` (the preflight's answer)."""
    try:
        yield
    except ConfigProblem:
        raise
    except PluginError as error:  # the plugin's own field: its name, or its args
        raise ConfigProblem((*loc, error.field), str(error)) from error
    except (OSError, ValueError, TypeError, RuntimeError) as error:
        raise ConfigProblem(loc, f"{meaning}: {error}" if meaning else str(error)) from error


@dataclass(frozen=True)
class RunSetup:
    """What the loop works with, built once from the config by `setup_run`."""

    config: RunConfig
    device: torch.device
    data: DataSplits
    model: nn.Module  # what is saved
    runner: nn.Module  # what forward passes call (compiled, channels-last, ...)
    train_runner: nn.Module  # what training forward passes call (DDP-wrapped across ranks)
    acceleration: Acceleration
    loss_fn: TaskLoss
    optimizer: torch.optim.Optimizer
    schedule: Schedule
    batches_per_epoch: int  # one rank's
    metrics: ValidationMetrics  # the named validation metrics (trainer/metrics/)
    num_outputs: int  # the model's outputs: classes, labels or targets


def setup_run(
    config: RunConfig,
    *,
    ranks: Ranks | None = None,
    plugins_dir: Path | None = None,
    blame: Blame = let_through,
    data_state: dict[str, Any] | None = None,
) -> RunSetup:
    """Check `config` and build its data, model, loss, optimizer and schedule on its device.

    `ranks` is this process's place in a DDP group (its device, its share of the batches);
    `plugins_dir` is where the plugin kinds look; `blame` says how a failing part is reported (a
    plugin's own failure at its `name` or `args` under the part's field); `data_state` is the
    preprocessing a checkpoint saved, reused instead of fitted on the data again.
    """
    ranks = ranks or Ranks()
    _require_compatible(config, blame)
    with blame(("device",), ""):
        device = ranks.device or resolve_device(config.device)
    torch.manual_seed(config.seed)

    with blame(("data", *data_path_field(config)), "cannot read the data"):
        data = build_datasets(
            config.data, task=config.task, plugins_dir=plugins_dir, data_state=data_state
        )
    with blame(("loss",), ""):
        outputs = output_count(config.loss, data.num_classes, config.task, data.target_shape)
    shape = list(data.input_shape)
    with blame(("model",), f"the model cannot be built for inputs {shape}"):
        model = build_model(
            config.model,
            data.input_shape,
            outputs,
            plugins_dir,
            num_classes=data.num_classes,
            vocabulary_size=data.vocabulary_size,
        ).to(device)
    acceleration = Acceleration(config, device)
    runner = acceleration.prepare(model)
    # DDP averages the gradients; evaluation needs no wrapper (and no collective per batch).
    train_runner = ranks.wrap(runner, config.model.kind)
    optimizer = build_optimizer(config.optimizer, model, config.param_groups)
    with blame(("loss",), ""):
        loss_fn = build_loss(config.loss, data.num_classes, config.task, outputs, plugins_dir).to(
            device
        )
    plugin_metrics: dict[str, Metric | MetricCollection] = {}
    for index, metric in enumerate(config.metrics):
        with blame(("metrics", index), ""):
            plugin_metrics[plugin_metric_name(metric.name)] = build_plugin_metric(
                plugins_dir, metric, data.num_classes, outputs
            )
    metrics = build_validation_metrics(
        config.task, loss_fn, data.num_classes, outputs, device, plugin_metrics
    )

    train_samples = len(data.train)  # type: ignore[arg-type]
    batches = ranks.batches_per_epoch(train_samples, config.batch_size, config.drop_last)
    with blame(("batch_size",), ""):
        if batches == 0:
            raise ValueError(
                f"drop_last leaves no batch: {train_samples} training samples "
                f"< batch_size {config.batch_size}"
            )
    schedule = build_schedule(
        config.scheduler, optimizer, config.max_epochs, batches, _plateau_watch(config)
    )
    return RunSetup(
        config, device, data, model, runner, train_runner, acceleration, loss_fn, optimizer,
        schedule, batches, metrics, outputs,
    )  # fmt: skip


def _plateau_watch(config: RunConfig) -> tuple[str, Mode]:
    """The metric and mode a plateau scheduler follows: its own, else the run's."""
    scheduler = config.scheduler
    if isinstance(scheduler, ReduceLROnPlateauScheduler):
        return watched_metric(config, scheduler.monitor, scheduler.mode)
    return watched_metric(config)


def _require_compatible(config: RunConfig, blame: Blame) -> None:
    """Refuse a config whose parts do not go together (checked on submit too)."""
    problems = compatibility_problems(config)
    if not problems:
        return
    with blame(problems[0][0], ""):
        raise ValueError("; ".join(f"{'.'.join(map(str, loc))}: {why}" for loc, why in problems))


def data_path_field(config: RunConfig) -> Loc:
    """The data config's first path field (the folder a missing image is looked for in)."""
    for name, field in type(config.data).model_fields.items():
        if any(isinstance(marker, PathKind) for marker in field.metadata):
            return (name,)
    return ()


def epoch_batches(setup: RunSetup, ranks: Ranks) -> tuple[EpochShuffleSampler, Batches]:
    """The training order (set per epoch) and the batches drawn in it; decodes once if it fits."""
    config, data = setup.config, setup.data
    sampler = EpochShuffleSampler(
        len(data.train),  # type: ignore[arg-type]
        config.seed,
        shuffle=config.shuffle,
        rank=ranks.rank,
        world=ranks.world_size,
    )
    val_sampler = None
    if ranks.world_size > 1:  # each rank validates its part; `evaluate` sums them
        val_sampler = EpochShuffleSampler(
            len(data.val),  # type: ignore[arg-type]
            config.seed,
            shuffle=False,
            rank=ranks.rank,
            world=ranks.world_size,
            pad=False,
        )
    return sampler, build_batches(config, data, sampler, setup.device, val_sampler)


def start_point(
    setup: RunSetup,
    ranks: Ranks,
    *,
    resume_from: Path | None = None,
    init_weights: Path | None = None,
    fork: bool = False,
) -> EpochProgress:
    """Where the run starts: epoch 0 (on uploaded weights if given) or a checkpoint's progress.

    `fork=True` says `resume_from` is another run's checkpoint: the optimizer keeps its saved state
    but takes this config's hyperparameters. Restoring sets the RNG state, so it comes last.
    """
    progress = EpochProgress(processes=ranks.world_size)
    if init_weights is not None:
        load_weights(init_weights, setup.model, setup.device)
    if resume_from is not None:
        progress = restore(
            resume_from,
            setup.model,
            setup.optimizer,
            setup.schedule,
            setup.acceleration,
            keep_hyperparameters=fork,
        )
        progress = ranks.adopt(progress, setup.config.batch_size)
    return progress
