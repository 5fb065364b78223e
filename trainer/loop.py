"""The training loop: `train_one_epoch`, `evaluate` and `fit`, in the shape of pytorch/examples."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from trainer.callbacks import Callbacks, EarlyStoppingReport, EpochReport, FitStart, StepReport
from trainer.checkpoints.store import sweep_stale
from trainer.checkpoints.training_state import EpochProgress, checkpoint_job, load_weights, restore
from trainer.checkpoints.writer import CheckpointWriter
from trainer.config import RunConfig, compatibility_problems
from trainer.data.datasets import build_datasets
from trainer.data.sampling import EpochShuffleSampler
from trainer.data.tensor_cache import Batch, build_batches
from trainer.devices.acceleration import Acceleration
from trainer.devices.selection import resolve_device
from trainer.distributed.ranks import Ranks
from trainer.early_stopping import EarlyStopping
from trainer.errors import NonFiniteLossError
from trainer.faults import fault_point
from trainer.models.builtin import build_model, parameter_count
from trainer.optim.inspector import inspect_optimizer
from trainer.optim.losses import TaskLoss, build_loss, output_count
from trainer.optim.optimizers import build_optimizer
from trainer.optim.schedulers import Schedule, build_schedule


def never_stop() -> bool:
    return False


@dataclass
class FitResult:
    """What `fit` ends with."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    schedule: Schedule
    progress: EpochProgress
    stopped: bool  # True when `should_stop` ended the run early
    history: list[EpochReport] = field(default_factory=list)
    stop_reason: str | None = None  # early stopping ended the run (it counts as finished)


@dataclass
class _EpochOutcome:
    stopped: bool


def require_finite(loss: torch.Tensor, step: int) -> None:
    """Stop the run on a NaN or infinite loss before the optimizer writes it into the weights.

    A device sync every step, on purpose: a non-finite loss must never reach the weights, nor a
    checkpoint or the best metric.
    """
    if not torch.isfinite(loss):
        raise NonFiniteLossError(f"non-finite loss {loss.item()} at step {step}")


def optimizer_step(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_fn: TaskLoss,
    optimizer: torch.optim.Optimizer,
    step: int,
    acceleration: Acceleration | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step on a batch; the batch's output and loss (of the first evaluation)."""
    if not isinstance(optimizer, torch.optim.LBFGS):
        optimizer.zero_grad()
        with acceleration.autocast() if acceleration else contextlib.nullcontext():
            output = model(inputs)
            loss = loss_fn(output, targets)
        require_finite(loss, step)
        fault_point("step")  # tests: a CUDA out-of-memory error simulated on the CPU
        if acceleration is not None:
            acceleration.backward_and_step(loss, optimizer)
        else:
            loss.backward()
            optimizer.step()
        return output.detach(), loss.detach()

    # LBFGS evaluates the batch several times per step (line search): it needs a closure.
    first: list[torch.Tensor] = []

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        output = model(inputs)
        loss = loss_fn(output, targets)
        require_finite(loss, step)
        loss.backward()
        if not first:
            first.extend((output.detach(), loss.detach()))
        return loss

    optimizer.step(closure)
    return first[0], first[1]


def train_one_epoch(
    model: nn.Module,
    loader: Iterable[Batch],
    loss_fn: TaskLoss,
    optimizer: torch.optim.Optimizer,
    schedule: Schedule,
    acceleration: Acceleration,
    progress: EpochProgress,
    batches: int,
    report_every: int,
    callbacks: Callbacks,
    should_stop: Callable[[], bool],
) -> _EpochOutcome:
    """Train over `loader` (already positioned after `progress.batches_done` batches)."""
    model.train()
    device = acceleration.device
    epoch = progress.epoch + 1
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    pending: list[torch.Tensor] = []

    def report_pending() -> None:
        # One device sync for a whole group of steps: .tolist() is where the numbers leave.
        if not pending:
            return
        values = torch.stack(pending).tolist()
        first_step = progress.step - len(values) + 1
        first_batch = progress.batches_done - len(values) + 1
        for offset, value in enumerate(values):
            callbacks.on_step(
                StepReport(first_step + offset, epoch, first_batch + offset, batches, value)
            )
        pending.clear()

    stopped = False
    for inputs, targets in loader:
        if should_stop():
            stopped = True
            break
        inputs = acceleration.to_device(inputs)
        targets = acceleration.to_device(targets)
        output, batch_loss = optimizer_step(
            model, inputs, targets, loss_fn, optimizer, progress.step + 1, acceleration
        )
        schedule.after_batch()
        loss_sum += batch_loss * len(targets)
        correct += (loss_fn.predict(output) == targets).sum()
        progress.seen += len(targets)
        progress.batches_done += 1
        progress.step += 1
        pending.append(batch_loss)
        if len(pending) >= report_every:
            report_pending()
    report_pending()
    # .item(): the epoch's sums are reported (and checkpointed) from here.
    progress.loss_sum += loss_sum.item()
    progress.correct += int(correct.item())
    return _EpochOutcome(stopped=stopped)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Iterable[Batch],
    loss_fn: TaskLoss,
    acceleration: Acceleration,
    ranks: Ranks | None = None,
) -> tuple[float, float]:
    """Mean loss and accuracy over `loader`, weighted by batch size (over all ranks' shards)."""
    model.eval()
    device = acceleration.device
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    seen = 0
    for inputs, targets in loader:
        inputs = acceleration.to_device(inputs)
        targets = acceleration.to_device(targets)
        with acceleration.autocast():
            output = model(inputs)
            loss = loss_fn(output, targets)
        loss_sum += loss * len(targets)
        correct += (loss_fn.predict(output) == targets).sum()
        seen += len(targets)
    # .item(): validation metrics are reported once per epoch.
    total_loss, total_correct, total = (ranks or Ranks()).sum(
        [loss_sum.item(), correct.item(), seen]
    )
    return total_loss / max(total, 1), total_correct / max(total, 1)


def fit(
    config: RunConfig,
    callbacks: Callbacks | None = None,
    *,
    checkpoint_dir: Path | None = None,
    resume_from: Path | None = None,
    should_stop: Callable[[], bool] = never_stop,
    plugins_dir: Path | None = None,
    init_weights: Path | None = None,
    fork: bool = False,
    ranks: Ranks | None = None,
) -> FitResult:
    """Train `config` up to `config.max_epochs`, from scratch or from the checkpoint `resume_from`.

    Checkpoints go to `checkpoint_dir` at every epoch's end, and a partial one when `should_stop`
    ends the run between two batches. `plugins_dir` is where model kind `plugin` looks.
    `init_weights` is a model state_dict file (an uploaded checkpoint) to start from, read with
    weights_only=True. `fork=True` says `resume_from` is another run's checkpoint: the optimizer
    keeps its saved state (moments, step counts) but takes this config's hyperparameters (lr,
    weight decay, ...) rather than the ones saved with it. `ranks` is this process's place
    in a DDP group (trainer/distributed/ranks.py): only rank 0 gets callbacks and a
    `checkpoint_dir`.
    """
    problems = compatibility_problems(config)
    if problems:
        raise ValueError("; ".join(f"{'.'.join(map(str, loc))}: {why}" for loc, why in problems))
    callbacks = callbacks or Callbacks()
    ranks = ranks or Ranks()
    device = ranks.device or resolve_device(config.device)
    torch.manual_seed(config.seed)

    data = build_datasets(config.data)
    outputs = output_count(config.loss, data.num_classes)
    model = build_model(config.model, data.input_shape, outputs, plugins_dir).to(device)
    acceleration = Acceleration(config, device)
    runner = acceleration.prepare(model)  # what forward passes call; `model` is what is saved
    # DDP averages the gradients; evaluation needs no wrapper (and no collective per batch).
    train_runner = ranks.wrap(runner, config.model.kind)
    optimizer = build_optimizer(config.optimizer, model, config.param_groups)
    loss_fn = build_loss(config.loss, data.num_classes).to(device)
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
    batches = ranks.batches_per_epoch(len(data.train), config.batch_size, config.drop_last)  # type: ignore[arg-type]
    if batches == 0:
        raise ValueError(
            f"drop_last leaves no batch: {len(data.train)} training samples "  # type: ignore[arg-type]
            f"< batch_size {config.batch_size}"
        )
    schedule = build_schedule(config.scheduler, optimizer, config.max_epochs, batches)
    source = build_batches(config, data, sampler, device, val_sampler)  # decodes once if it fits
    should_stop = ranks.shared_stop(should_stop)

    progress = EpochProgress(processes=ranks.world_size)
    if init_weights is not None:
        load_weights(init_weights, model, device)
    if resume_from is not None:
        progress = restore(
            resume_from, model, optimizer, schedule, acceleration, keep_hyperparameters=fork
        )
        progress = ranks.adopt(progress, config.batch_size)

    callbacks.on_fit_start(
        FitStart(
            device=str(device),
            class_names=data.class_names,
            model_summary=str(model),
            parameter_count=parameter_count(model),
            batches_per_epoch=batches,
            start_epoch=progress.epoch,
            start_batch=progress.batches_done,
            start_step=progress.step,
        )
    )
    if checkpoint_dir is not None:
        sweep_stale(checkpoint_dir)

    writer = CheckpointWriter(checkpoint_dir, callbacks) if checkpoint_dir is not None else None
    history: list[EpochReport] = []
    stopped = False
    stop_reason: str | None = None
    early = (
        EarlyStopping(config.early_stopping, progress.early_stopping)
        if config.early_stopping is not None
        else None
    )
    try:
        while progress.epoch < config.max_epochs and not stopped:
            epoch = progress.epoch + 1
            skip = progress.batches_done * config.batch_size * ranks.world_size
            sampler.set_epoch(epoch, skip=skip)
            started = time.perf_counter()
            outcome = train_one_epoch(
                train_runner, source.train, loss_fn, optimizer, schedule, acceleration, progress,
                batches, config.report_every_steps, callbacks, should_stop,
            )  # fmt: skip
            progress.seconds += time.perf_counter() - started
            sums = [progress.loss_sum, progress.correct, progress.seen]
            loss_sum, correct, seen = ranks.sum(sums)  # the whole group's epoch so far
            if outcome.stopped:
                if writer is not None and progress.batches_done > 0:
                    whole = dataclasses.replace(
                        progress, loss_sum=loss_sum, correct=int(correct), seen=int(seen)
                    )
                    parts = (config, model, optimizer, schedule, acceleration, whole, None)
                    writer.submit(checkpoint_job(*parts))
                stopped = True
                break

            started = time.perf_counter()
            val_loss, val_accuracy = evaluate(runner, source.val, loss_fn, acceleration, ranks)
            # The rates this epoch trained with: read before the scheduler moves them on.
            lrs = [float(group["lr"]) for group in optimizer.param_groups]
            optimizer_summary = inspect_optimizer(model, optimizer)
            schedule.after_epoch(val_loss, val_accuracy)
            report = EpochReport(
                epoch=epoch,
                train_loss=loss_sum / max(seen, 1),
                train_accuracy=correct / max(seen, 1),
                val_loss=val_loss,
                val_accuracy=val_accuracy,
                lr=lrs[0],
                seconds=progress.seconds + time.perf_counter() - started,
                lrs=lrs,
                optimizer_summary=optimizer_summary,
            )
            best = progress.best_val_accuracy
            if early is not None:
                early.observe(report)
            progress = EpochProgress(
                epoch=epoch,
                step=progress.step,
                best_val_accuracy=val_accuracy if best is None else max(best, val_accuracy),
                processes=ranks.world_size,
                early_stopping=early.state_dict() if early is not None else None,
            )
            history.append(report)
            callbacks.on_epoch_end(report)
            if early is not None:
                stop_reason = early.stop_reason
                verdict = EarlyStoppingReport(early.state.best_epoch, stop_reason)
                callbacks.on_early_stopping(verdict)
            if writer is not None:  # written on the writer's thread while the next epoch trains
                writer.submit(
                    checkpoint_job(
                        config, model, optimizer, schedule, acceleration, progress, report
                    )
                )
            if stop_reason is not None:
                break  # finished early, not stopped: the run succeeded
            stopped = should_stop() and progress.epoch < config.max_epochs
        if writer is not None:
            writer.wait()  # every checkpoint on disk before the run reports its end
    finally:
        if writer is not None:
            writer.close()
    return FitResult(
        model, optimizer, schedule, progress, stopped=stopped, history=history,
        stop_reason=stop_reason,
    )  # fmt: skip
