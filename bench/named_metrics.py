"""Named metrics cost ≤ 3% of an epoch's time against the accuracy-only loop (digits MLP).

Three loops train the digits default (MLP 256, batch 16, Adam, CPU, torch on one thread) side by
side in one process, in turns, round after round (the order rotates each round):

- **accuracy-only**: the loop before named metrics, kept here as a faithful copy of
  `train_one_epoch` and `evaluate` of commit fb8e86e: a loss sum and a count of correct
  predictions on the device, one op per batch, in training and in validation;
- **named metrics**: `trainer.loop.train_one_epoch` and `trainer.loop.evaluate` as they are:
  train_accuracy still a count on the device, the validation metrics (accuracy, macro F1)
  torchmetrics objects fed the whole split's predictions in one update per epoch;
- **torchmetrics per batch** (context: what the loop avoids): a torchmetrics accuracy updated
  after every training batch, and the validation metrics updated after every batch.

Each round builds a fresh model per variant (the same seed: the same weights every round) and
runs a warm-up epoch of each; then their timed epochs (train + validate) go one epoch at a time,
in turns, the order rotating, so a slow spell of this shared machine falls on all of them alike.
Each epoch is timed by the wall clock and by this thread's CPU time (steadier under load: it
leaves out the time other processes hold the core). The verdict takes the median epoch of each
loop, both clocks (met when both are within 3%; no verdict when only the CPU time is); the
fastest epochs' ratio is shown beside it. The first two loops must end on
the same validation accuracy: the same training, measured two ways.

`python -m bench.named_metrics [--rounds N] [--write-readme]`; `make bench` runs it too.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import torch
from torchmetrics.classification import MulticlassAccuracy

from bench.common import README, Result, replace_section
from trainer.callbacks import Callbacks
from trainer.checkpoints.training_state import EpochProgress
from trainer.config import RunConfig
from trainer.data.tensor_cache import Batch
from trainer.distributed.ranks import Ranks
from trainer.loop import _StepReporter, evaluate, optimizer_step, train_one_epoch
from trainer.setup import RunSetup, epoch_batches, setup_run

ROUNDS = 8
EPOCHS = 5
TARGET = 0.03
SECTION = ("<!-- named-metrics:start -->", "<!-- named-metrics:end -->")
CONFIG = {
    "data": {"kind": "digits"},
    "model": {"kind": "mlp", "hidden_sizes": [256]},
    "loss": {"kind": "cross_entropy"},
    "optimizer": {"kind": "adam", "lr": 0.001},
    "batch_size": 16,
    "max_epochs": 1 + EPOCHS,
    "device": "cpu",
}


# The accuracy-only loop of fb8e86e (trainer/loop.py), unchanged but for its name.
def old_train_one_epoch(
    setup: RunSetup, loader: Iterable[Batch], progress: EpochProgress, callbacks: Callbacks
) -> bool:
    setup.train_runner.train()
    acceleration, device = setup.acceleration, setup.acceleration.device
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    reporter = _StepReporter(setup, progress, callbacks)
    for inputs, targets in loader:
        inputs = acceleration.to_device(inputs)
        targets = acceleration.to_device(targets)
        output, batch_loss = optimizer_step(setup, inputs, targets, progress.step + 1)
        setup.schedule.after_batch()
        loss_sum += batch_loss * len(targets)
        correct += (setup.loss_fn.predict(output) == targets).sum()
        progress.seen += len(targets)
        progress.batches_done += 1
        progress.step += 1
        reporter.add(batch_loss)
    reporter.flush()
    progress.loss_sum += loss_sum.item()
    progress.correct += int(correct.item())
    return False


@torch.no_grad()
def old_evaluate(setup: RunSetup, loader: Iterable[Batch]) -> dict[str, float]:
    model, loss_fn, acceleration = setup.runner, setup.loss_fn, setup.acceleration
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
    total_loss, total_correct, total = Ranks().sum([loss_sum.item(), correct.item(), seen])
    return {"val_loss": total_loss / max(total, 1), "val_accuracy": total_correct / max(total, 1)}


# Context only: torchmetrics updated after every batch, in training and in validation.
def per_batch_train_one_epoch(
    setup: RunSetup, loader: Iterable[Batch], progress: EpochProgress, callbacks: Callbacks
) -> bool:
    setup.train_runner.train()
    acceleration, device = setup.acceleration, setup.acceleration.device
    loss_sum = torch.zeros((), device=device)
    accuracy = MulticlassAccuracy(setup.data.num_classes, average="micro", validate_args=False)
    reporter = _StepReporter(setup, progress, callbacks)
    for inputs, targets in loader:
        inputs = acceleration.to_device(inputs)
        targets = acceleration.to_device(targets)
        output, batch_loss = optimizer_step(setup, inputs, targets, progress.step + 1)
        setup.schedule.after_batch()
        loss_sum += batch_loss * len(targets)
        accuracy.update(setup.loss_fn.predict(output), targets)
        progress.seen += len(targets)
        progress.batches_done += 1
        progress.step += 1
        reporter.add(batch_loss)
    reporter.flush()
    progress.loss_sum += loss_sum.item()
    progress.correct += round(accuracy.compute().item() * progress.seen)
    return False


@torch.no_grad()
def per_batch_evaluate(setup: RunSetup, loader: Iterable[Batch]) -> dict[str, float]:
    model, loss_fn, acceleration = setup.runner, setup.loss_fn, setup.acceleration
    collection = setup.metrics.builtin
    model.eval()
    collection.reset()
    loss_sum = torch.zeros((), device=acceleration.device)
    seen = 0
    for inputs, targets in loader:
        inputs = acceleration.to_device(inputs)
        targets = acceleration.to_device(targets)
        output = model(inputs)
        loss_sum += loss_fn(output, targets) * len(targets)
        collection.update(loss_fn.predict(output), targets)
        seen += len(targets)
    values = {name: float(value) for name, value in collection.compute().items()}
    return {"val_loss": loss_sum.item() / max(seen, 1), **values}


Train = Callable[[RunSetup, Iterable[Batch], EpochProgress, Callbacks], bool]
Evaluate = Callable[[RunSetup, Iterable[Batch]], dict[str, float]]
VARIANTS: dict[str, tuple[Train, Evaluate]] = {
    "accuracy-only": (old_train_one_epoch, old_evaluate),
    "named metrics": (train_one_epoch, evaluate),
    "torchmetrics per batch": (per_batch_train_one_epoch, per_batch_evaluate),
}


Timing = tuple[float, float]  # one epoch (train + validate): wall seconds, this thread's CPU s


class Contender:
    """One variant's own model, data order and epochs; `epoch()` trains and validates one."""

    def __init__(self, name: str) -> None:
        self.train, self.validate = VARIANTS[name]
        self.setup = setup_run(RunConfig.model_validate(CONFIG))
        self.sampler, self.batches = epoch_batches(self.setup, Ranks())
        self.epochs = 0
        self.val_accuracy = 0.0

    def epoch(self) -> Timing:
        wall, cpu = time.perf_counter(), time.thread_time()
        self.epochs += 1
        self.sampler.set_epoch(self.epochs)
        self.train(self.setup, self.batches.train, EpochProgress(), Callbacks())
        self.val_accuracy = self.validate(self.setup, self.batches.val)["val_accuracy"]
        return time.perf_counter() - wall, time.thread_time() - cpu


def measure(rounds: int) -> tuple[dict[str, list[Timing]], dict[str, float]]:
    """Every variant's timed epochs, and its final validation accuracy.

    Each round builds a fresh model per variant (the same seed: the same weights), runs a warm-up
    epoch of each, then their EPOCHS timed epochs one epoch at a time, in turns (the order
    rotates), so a slow spell of the machine falls on all of them alike.
    """
    names = list(VARIANTS)
    times: dict[str, list[Timing]] = {name: [] for name in names}
    accuracy: dict[str, float] = {}
    for turn in range(rounds):
        contenders = {name: Contender(name) for name in names}
        for contender in contenders.values():
            contender.epoch()  # warm-up
        for epoch in range(EPOCHS):
            shift = (turn * EPOCHS + epoch) % len(names)
            for name in names[shift:] + names[:shift]:
                times[name].append(contenders[name].epoch())
        accuracy = {name: contender.val_accuracy for name, contender in contenders.items()}
    return times, accuracy


def summary(times: dict[str, list[Timing]]) -> dict[str, float]:
    """Per variant: median epoch (wall, CPU) in ms, and the ratios to the accuracy-only loop's
    (medians, and fastest epochs)."""
    base = times["accuracy-only"]
    figures: dict[str, float] = {}
    for name, rows in times.items():
        for index, clock in enumerate(("wall", "cpu")):
            mine = [row[index] for row in rows]
            theirs = [row[index] for row in base]
            median = statistics.median(mine)
            figures[f"{name} {clock} ms"] = median * 1000
            figures[f"{name} {clock} ratio"] = median / statistics.median(theirs)
            figures[f"{name} {clock} fastest ratio"] = min(mine) / min(theirs)
    return figures


def verdict(times: dict[str, list[Timing]], accuracy: dict[str, float]) -> Result:
    figures = summary(times)
    same = accuracy["accuracy-only"] == accuracy["named metrics"]
    wall, cpu = figures["named metrics wall ratio"], figures["named metrics cpu ratio"]
    epochs = len(times["accuracy-only"])
    return Result(
        "named metrics (accuracy, macro F1 by torchmetrics) cost ≤ 3% of an epoch (digits MLP)",
        f"×{wall:.3f} wall, ×{cpu:.3f} CPU (medians of {epochs} epochs each, in turns); "
        f"{figures['named metrics wall ms']:.1f} ms per epoch; the same validation accuracy: "
        f"{'yes' if same else 'NO'}",
        f"accuracy-only loop of fb8e86e (a copy in the bench): "
        f"{figures['accuracy-only wall ms']:.1f} ms per epoch; torchmetrics updated per "
        f"batch: ×{figures['torchmetrics per batch wall ratio']:.3f} wall, "
        f"×{figures['torchmetrics per batch cpu ratio']:.3f} CPU",
        met(wall, cpu) if same else False,
    )


def met(wall: float, cpu: float) -> bool | None:
    """Met when both clocks say so; no verdict when only the CPU time does (the wall clock of a
    loaded machine counts the time other processes hold the core); not met when the CPU time
    itself is over."""
    if cpu > 1 + TARGET:
        return False
    return True if wall <= 1 + TARGET else None


def run(rounds: int = ROUNDS) -> list[Result]:
    torch.set_num_threads(1)  # as bench/throughput.py: steadier on a shared 2-core machine
    return [verdict(*measure(rounds))]


def section(times: dict[str, list[Timing]], accuracy: dict[str, float]) -> list[str]:
    figures = summary(times)
    load = "/".join(f"{value:.1f}" for value in os.getloadavg())
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python -m bench.named_metrics`: "
        f"{len(times['accuracy-only'])} timed epochs per loop, one epoch of each in turns; "
        f"torch {torch.__version__.split('+')[0]} on one thread; load average {load} after.",
        "",
        "| loop | ms per epoch, wall (CPU) | ×accuracy-only, wall: median (fastest) |"
        " ×accuracy-only, CPU: median (fastest) | final val accuracy |",
        "|---|---|---|---|---|",
    ]
    for name in times:
        lines.append(
            f"| {name} | {figures[f'{name} wall ms']:.1f} ({figures[f'{name} cpu ms']:.1f}) | "
            f"×{figures[f'{name} wall ratio']:.3f} (×{figures[f'{name} wall fastest ratio']:.3f})"
            f" | ×{figures[f'{name} cpu ratio']:.3f} (×{figures[f'{name} cpu fastest ratio']:.3f})"
            f" | {accuracy[name]:.4f} |"
        )
    return lines


def main(argv: list[str]) -> int:
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else ROUNDS
    torch.set_num_threads(1)
    times, accuracy = measure(rounds)
    lines = section(times, accuracy)
    print("\n".join(lines))
    print(verdict(times, accuracy).row())
    if "--write-readme" in argv:
        replace_section(README, *SECTION, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
