"""The training loop: `train_one_epoch`, `evaluate` and `fit`, in the shape of pytorch/examples.

`fit` builds what the run needs (trainer/setup.py), then trains and validates epoch after epoch;
early stopping, checkpoints and a requested stop are small helpers below it. Every epoch records
its named metrics (trainer/config/tasks.py `metric_names`): the losses, summed here as in
pytorch/examples, the train accuracy of a classification run, and the validation metrics that
torchmetrics computes (trainer/metrics/).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from trainer.callbacks import Callbacks, EarlyStoppingReport, EpochReport, FitStart, StepReport
from trainer.checkpoints.store import saved_data_state, sweep_stale
from trainer.checkpoints.training_state import EpochProgress, checkpoint_job
from trainer.checkpoints.writer import CheckpointWriter
from trainer.config import RunConfig
from trainer.config.tasks import improved, metric_names, monitor_of
from trainer.data.tensor_cache import Batch
from trainer.distributed.ranks import Ranks
from trainer.early_stopping import EarlyStopping
from trainer.errors import NonFiniteLossError
from trainer.faults import fault_point
from trainer.metrics.monitor import watched_metric
from trainer.models.builtin import parameter_count
from trainer.optim.inspector import inspect_optimizer
from trainer.optim.schedulers import Schedule
from trainer.setup import RunSetup, epoch_batches, setup_run, start_point


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


def require_finite(loss: torch.Tensor, step: int) -> None:
    """Stop the run on a NaN or infinite loss before the optimizer writes it into the weights.

    A device sync every step, on purpose: a non-finite loss must never reach the weights, nor a
    checkpoint or the best metric.
    """
    if not torch.isfinite(loss):
        raise NonFiniteLossError(f"non-finite loss {loss.item()} at step {step}")


def optimizer_step(
    setup: RunSetup, inputs: torch.Tensor, targets: torch.Tensor, step: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step on a batch; the batch's output and loss (of the first evaluation)."""
    model, loss_fn, optimizer = setup.train_runner, setup.loss_fn, setup.optimizer
    if not isinstance(optimizer, torch.optim.LBFGS):
        optimizer.zero_grad()
        with setup.acceleration.autocast():
            output = model(inputs)
            loss = loss_fn(output, targets)
        require_finite(loss, step)
        fault_point("step")  # tests: a CUDA out-of-memory error simulated on the CPU
        setup.acceleration.backward_and_step(loss, optimizer)
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


class _StepReporter:
    """Hands step losses to `on_step` in groups: one device sync for a whole group of steps."""

    def __init__(self, setup: RunSetup, progress: EpochProgress, callbacks: Callbacks) -> None:
        self.every = setup.config.report_every_steps
        self.batches = setup.batches_per_epoch
        self.progress = progress
        self.callbacks = callbacks
        self.pending: list[torch.Tensor] = []

    def add(self, loss: torch.Tensor) -> None:
        self.pending.append(loss)
        if len(self.pending) >= self.every:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        values = torch.stack(self.pending).tolist()  # .tolist(): where the numbers leave
        progress = self.progress
        first_step = progress.step - len(values) + 1
        first_batch = progress.batches_done - len(values) + 1
        for offset, value in enumerate(values):
            report = StepReport(
                first_step + offset, progress.epoch + 1, first_batch + offset, self.batches, value
            )
            self.callbacks.on_step(report)
        self.pending.clear()


def train_one_epoch(
    setup: RunSetup,
    loader: Iterable[Batch],
    progress: EpochProgress,
    callbacks: Callbacks,
    should_stop: Callable[[], bool] = never_stop,
) -> bool:
    """Train over `loader` (already positioned after `progress.batches_done` batches).

    Adds the epoch's steps and sums to `progress`; True when `should_stop` ended it early.
    """
    setup.train_runner.train()
    acceleration, device = setup.acceleration, setup.acceleration.device
    loss_sum = torch.zeros((), device=device)
    # train_accuracy (classification) is a count kept on the device, not a torchmetrics metric:
    # one op per batch, where torchmetrics updated after every batch (training and validation)
    # made the digits MLP's epochs 20% slower (bench/named_metrics.py); and the count is part
    # of the epoch's sums that a mid-epoch checkpoint saves (EpochProgress.correct), so a
    # resumed epoch reports the same.
    classify = setup.config.task == "classification"
    correct = torch.zeros((), dtype=torch.long, device=device)
    reporter = _StepReporter(setup, progress, callbacks)
    stopped = False
    for inputs, targets in loader:
        if should_stop():
            stopped = True
            break
        inputs = acceleration.to_device(inputs)
        targets = acceleration.to_device(targets)
        output, batch_loss = optimizer_step(setup, inputs, targets, progress.step + 1)
        setup.schedule.after_batch()
        loss_sum += batch_loss * len(targets)
        if classify:
            correct += (setup.loss_fn.predict(output) == targets).sum()
        progress.seen += len(targets)
        progress.batches_done += 1
        progress.step += 1
        reporter.add(batch_loss)
    reporter.flush()
    # .item(): the epoch's sums are reported (and checkpointed) from here.
    progress.loss_sum += loss_sum.item()
    progress.correct += int(correct.item())
    return stopped


@torch.no_grad()
def evaluate(
    setup: RunSetup, loader: Iterable[Batch], ranks: Ranks | None = None
) -> dict[str, float]:
    """`val_loss` (the mean loss, weighted by batch size) and every named validation metric
    over `loader`, over all ranks' shards."""
    model, loss_fn, acceleration = setup.runner, setup.loss_fn, setup.acceleration
    metrics = setup.metrics
    model.eval()
    device = acceleration.device
    loss_sum = torch.zeros((), device=device)
    seen = 0
    for inputs, targets in loader:
        inputs = acceleration.to_device(inputs)
        targets = acceleration.to_device(targets)
        with acceleration.autocast():
            output = model(inputs)
            loss = loss_fn(output, targets)
        loss_sum += loss * len(targets)
        metrics.update(output, targets)
        seen += len(targets)
    # .item(): validation metrics are reported once per epoch.
    total_loss, total = (ranks or Ranks()).sum([loss_sum.item(), seen])
    return {"val_loss": total_loss / max(total, 1), **metrics.compute()}


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
    callbacks = callbacks or Callbacks()
    ranks = ranks or Ranks()
    # A resumed or forked run reads its data with the preprocessing its checkpoint saved.
    data_state = saved_data_state(resume_from) if resume_from is not None else None
    setup = setup_run(config, ranks=ranks, plugins_dir=plugins_dir, data_state=data_state)
    sampler, batches = epoch_batches(setup, ranks)
    should_stop = ranks.shared_stop(should_stop)
    progress = start_point(
        setup, ranks, resume_from=resume_from, init_weights=init_weights, fork=fork
    )
    callbacks.on_fit_start(_fit_start(setup, progress))
    early = (
        EarlyStopping(
            config.early_stopping,
            progress.early_stopping,
            watched_metric(config, config.early_stopping.monitor),
        )
        if config.early_stopping is not None
        else None
    )
    history: list[EpochReport] = []
    stopped = False
    stop_reason: str | None = None
    with _Checkpoints(checkpoint_dir, callbacks) as checkpoints:
        while progress.epoch < config.max_epochs:
            skip = progress.batches_done * config.batch_size * ranks.world_size
            sampler.set_epoch(progress.epoch + 1, skip=skip)
            started = time.perf_counter()
            interrupted = train_one_epoch(setup, batches.train, progress, callbacks, should_stop)
            progress.seconds += time.perf_counter() - started
            so_far = _group_sums(progress, ranks)  # the whole group's epoch so far
            if interrupted:
                checkpoints.save_partial(setup, so_far)
                stopped = True
                break

            report = _validate(setup, batches.val, ranks, so_far)
            progress = _next_epoch(progress, report, early, ranks, config)
            history.append(report)
            callbacks.on_epoch_end(report)
            stop_reason = _early_stopping_verdict(early, callbacks)
            checkpoints.save(setup, progress, report)
            if stop_reason is not None:
                break  # finished early, not stopped: the run succeeded
            if should_stop() and progress.epoch < config.max_epochs:
                stopped = True
                break
        checkpoints.wait()  # every checkpoint on disk before the run reports its end
    return FitResult(
        setup.model, setup.optimizer, setup.schedule, progress, stopped=stopped, history=history,
        stop_reason=stop_reason,
    )  # fmt: skip


def _fit_start(setup: RunSetup, progress: EpochProgress) -> FitStart:
    config = setup.config
    monitor, mode = monitor_of(config)
    return FitStart(
        device=str(setup.device),
        class_names=setup.data.class_names,
        model_summary=str(setup.model),
        parameter_count=parameter_count(setup.model),
        batches_per_epoch=setup.batches_per_epoch,
        start_epoch=progress.epoch,
        start_batch=progress.batches_done,
        start_step=progress.step,
        task=config.task,
        monitor=monitor,
        monitor_mode=mode,
        metric_names=metric_names(config),
    )


def _group_sums(progress: EpochProgress, ranks: Ranks) -> EpochProgress:
    """`progress` with the unfinished epoch's sums over every rank of the group."""
    loss_sum, correct, seen = ranks.sum([progress.loss_sum, progress.correct, progress.seen])
    return dataclasses.replace(progress, loss_sum=loss_sum, correct=int(correct), seen=int(seen))


def _validate(
    setup: RunSetup, loader: Iterable[Batch], ranks: Ranks, trained: EpochProgress
) -> EpochReport:
    """Validate the epoch `trained` just finished, step the schedule past it, and report it."""
    config = setup.config
    started = time.perf_counter()
    validated = evaluate(setup, loader, ranks)
    seen = max(trained.seen, 1)
    values = {"train_loss": trained.loss_sum / seen, **validated}
    if config.task == "classification":
        values["train_accuracy"] = trained.correct / seen
    metrics = {name: values[name] for name in metric_names(config)}
    monitor, _ = monitor_of(config)
    # The rates this epoch trained with: read before the scheduler moves them on.
    lrs = [float(group["lr"]) for group in setup.optimizer.param_groups]
    optimizer_summary = inspect_optimizer(setup.model, setup.optimizer)
    setup.schedule.after_epoch(metrics)
    return EpochReport(
        epoch=trained.epoch + 1,
        train_loss=metrics["train_loss"],
        train_accuracy=metrics.get("train_accuracy"),
        val_loss=metrics["val_loss"],
        val_accuracy=metrics.get("val_accuracy"),
        lr=lrs[0],
        seconds=trained.seconds + time.perf_counter() - started,
        lrs=lrs,
        optimizer_summary=optimizer_summary,
        metrics=metrics,
        monitor=monitor,
        monitor_value=metrics[monitor],
    )


def _next_epoch(
    progress: EpochProgress,
    report: EpochReport,
    early: EarlyStopping | None,
    ranks: Ranks,
    config: RunConfig,
) -> EpochProgress:
    """Record `report`'s epoch as done (early stopping observes it): the next epoch's start."""
    accuracies = [a for a in (progress.best_val_accuracy, report.val_accuracy) if a is not None]
    monitor, mode = monitor_of(config)
    best, best_epoch = progress.best_metric, progress.best_metric_epoch
    if best is None and monitor == "val_accuracy":
        # A checkpoint from before runs had a monitored metric: its best accuracy (epoch unknown).
        best = progress.best_val_accuracy
    if improved(report.monitor_value, best, mode):
        best, best_epoch = report.monitor_value, report.epoch
    if early is not None:
        early.observe(report)
    return EpochProgress(
        epoch=report.epoch,
        step=progress.step,
        best_val_accuracy=max(accuracies, default=None),
        best_metric=best,
        best_metric_epoch=best_epoch,
        processes=ranks.world_size,
        early_stopping=early.state_dict() if early is not None else None,
    )


def _early_stopping_verdict(early: EarlyStopping | None, callbacks: Callbacks) -> str | None:
    """Early stopping's verdict on the epoch just observed, reported; its reason to stop, if any."""
    if early is None:
        return None
    verdict = EarlyStoppingReport(early.state.best_epoch, early.stop_reason)
    callbacks.on_early_stopping(verdict)
    return verdict.stop_reason


class _Checkpoints:
    """The run's checkpoints in `directory`, written on a background thread; none without one."""

    def __init__(self, directory: Path | None, callbacks: Callbacks) -> None:
        self.writer = None
        if directory is not None:
            sweep_stale(directory)  # what an interrupted save left behind
            self.writer = CheckpointWriter(directory, callbacks)

    def __enter__(self) -> _Checkpoints:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.writer is not None:
            self.writer.close()

    def save(self, setup: RunSetup, progress: EpochProgress, report: EpochReport) -> None:
        """A complete checkpoint after an epoch, written while the next epoch trains."""
        self._submit(setup, progress, report)

    def save_partial(self, setup: RunSetup, progress: EpochProgress) -> None:
        """A checkpoint mid-epoch (a stop between two batches), if a batch of it was trained."""
        if progress.batches_done > 0:
            self._submit(setup, progress, None)

    def wait(self) -> None:
        """Return once every checkpoint is on disk; raises the error of a failed write."""
        if self.writer is not None:
            self.writer.wait()

    def _submit(self, setup: RunSetup, progress: EpochProgress, report: EpochReport | None) -> None:
        if self.writer is None:
            return
        self.writer.submit(
            checkpoint_job(
                setup.config, setup.model, setup.optimizer, setup.schedule, setup.acceleration,
                progress, report, setup.data.data_state,
            )
        )  # fmt: skip
