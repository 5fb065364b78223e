"""Training throughput from cached tensors against the classic per-item PIL loop.

Side by side in one run, on one ImageFolder of 28x28 grayscale PNGs written once into a temp
folder, the same MLP (784 -> 256 -> 10), SGD with momentum, batch 64, on the CPU:

(a) the classic tutorial: torchvision ImageFolder + Grayscale + ToTensor, a shuffling DataLoader
    (num_workers=0), `.item()` on every step's loss;
(b) torchdash's `fit` with the cache on (its default): decoded once, then index batches;
(c) the compute limit: the same optimizer steps over batches already built in memory;
(c') as context, (c) plus the work each of `fit`'s steps has to do besides: the batch gathered
    from the cache in a shuffled order, the non-finite-loss check, the loss and accuracy sums.

Samples/s count training epochs only, with one torch thread (see `run`), and take each side's
best epoch of the same number: this machine is shared, and the best epoch is the one least
disturbed by others. For (b) an epoch's training steps are timed (its validation pass, which
(c) does not have, is left out); they carry the per-step non-finite-loss check and the step
reports. The folder check and the one-time decode before `on_fit_start` are reported apart.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader

from bench.common import Result
from trainer.callbacks import Callbacks, EpochReport, FitStart, StepReport
from trainer.config import RunConfig
from trainer.loop import fit

IMAGES = 60_000
CLASSES = 10
BATCH = 64
FIT_EPOCHS = 6  # as many epochs as the compute limit gets (2 x LIMIT_EPOCHS): best of each
LIMIT_EPOCHS = 3
VAL_FRACTION = 0.01
LR, MOMENTUM = 0.01, 0.9


def write_pngs(root: Path, count: int = IMAGES) -> Path:
    """`count` 28x28 grayscale PNGs in CLASSES class folders; each class has its own stripes."""
    rng = np.random.default_rng(0)
    for label in range(CLASSES):
        (root / str(label)).mkdir(parents=True)
    for n in range(count):
        label = n % CLASSES
        image = rng.integers(0, 80, (28, 28), dtype=np.uint8)
        image[:: label + 2, :] += 150
        Image.fromarray(image, mode="L").save(root / str(label) / f"{n}.png")
    return root


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, CLASSES))


def mlp_training() -> tuple[nn.Module, nn.Module, torch.optim.Optimizer]:
    """What every side trains: the same MLP in train mode, its loss, and SGD with momentum."""
    model = mlp()
    model.train()
    return (
        model,
        nn.CrossEntropyLoss(),
        torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM),
    )


def classic_loop(root: Path) -> float:
    """(a) The tutorial's loop, one epoch: samples/s."""
    from torchvision import datasets, transforms

    data = datasets.ImageFolder(
        str(root), transform=transforms.Compose([transforms.Grayscale(), transforms.ToTensor()])
    )
    loader = DataLoader(data, batch_size=BATCH, shuffle=True, num_workers=0)
    model, loss_fn, optimizer = mlp_training()
    started = time.perf_counter()
    for inputs, targets in loader:
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        loss.item()  # the tutorial prints it; a device sync every step
    return len(data) / (time.perf_counter() - started)


def compute_limit(inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """(c) The same steps over pre-built batches: samples/s of the best of LIMIT_EPOCHS epochs."""
    batches = list(zip(inputs.split(BATCH), targets.split(BATCH), strict=True))
    model, loss_fn, optimizer = mlp_training()
    best = float("inf")
    for _ in range(LIMIT_EPOCHS):
        started = time.perf_counter()
        for batch_inputs, batch_targets in batches:
            optimizer.zero_grad()
            loss = loss_fn(model(batch_inputs), batch_targets)
            loss.backward()
            optimizer.step()
        best = min(best, time.perf_counter() - started)
    return len(targets) / best


def limit_with_step_duties(inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """(c') (c) plus what every step of `fit` must also do (trainer/loop.py), best of
    LIMIT_EPOCHS epochs: a shuffled gather from the cache, the non-finite check, the sums."""
    model, loss_fn, optimizer = mlp_training()
    best = float("inf")
    for epoch in range(LIMIT_EPOCHS):
        order = torch.randperm(len(targets), generator=torch.Generator().manual_seed(epoch))
        loss_sum, correct = torch.zeros(()), torch.zeros((), dtype=torch.long)
        started = time.perf_counter()
        for indices in order.split(BATCH):
            batch_inputs, batch_targets = inputs[indices], targets[indices]
            optimizer.zero_grad()
            output = model(batch_inputs)
            loss = loss_fn(output, batch_targets)
            if not torch.isfinite(loss):
                raise RuntimeError("non-finite loss")
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(batch_targets)
            correct += (output.detach().argmax(1) == batch_targets).sum()
        best = min(best, time.perf_counter() - started)
    return len(targets) / best


class EpochClock(Callbacks):
    """Times each epoch's training steps: from the end of the previous epoch (or the start) to
    the report of the epoch's last batch. Validation is left out, as the compute limit has none.
    """

    def __init__(self, now: Callable[[], float] = time.perf_counter) -> None:
        self.now = now
        self.started = 0.0
        self.epoch_began = 0.0
        self.trained: list[float] = []

    def on_fit_start(self, info: FitStart) -> None:
        self.started = self.epoch_began = self.now()

    def on_step(self, report: StepReport) -> None:
        if report.batch == report.batches:
            self.trained.append(self.now() - self.epoch_began)

    def on_epoch_end(self, report: EpochReport) -> None:
        self.epoch_began = self.now()

    def best_epoch(self) -> float:
        return min(self.trained)


def fit_config(root: Path, epochs: int = FIT_EPOCHS, **changes: object) -> RunConfig:
    return RunConfig.model_validate(
        {
            "data": {
                "kind": "imagefolder",
                "train_dir": str(root),
                "grayscale": True,
                "val_fraction": VAL_FRACTION,
            },
            "model": {"kind": "mlp", "hidden_sizes": [256]},
            "optimizer": {"kind": "sgd", "lr": LR, "momentum": MOMENTUM},
            "batch_size": BATCH,
            "max_epochs": epochs,
            "device": "cpu",
            **changes,
        }
    )


def torchdash_fit(root: Path) -> tuple[float, float, float]:
    """(b) `fit` with the cache: (samples/s, setup seconds, final validation accuracy)."""
    clock = EpochClock()
    called = time.perf_counter()
    result = fit(fit_config(root), clock)
    train_items = round(IMAGES * (1 - VAL_FRACTION))
    rate = train_items / clock.best_epoch()
    return rate, clock.started - called, result.history[-1].val_accuracy


def run() -> list[Result]:
    # One intra-op thread for every side: on a shared 2-core machine torch's second thread spins
    # against the other loads and made the same steps 20x slower, and far noisier.
    torch.set_num_threads(1)
    # The pixels do not change the cost of an MLP step: random ones stand in for the decoded.
    inputs = torch.rand(IMAGES, 1, 28, 28)
    targets = torch.randint(0, CLASSES, (IMAGES,))
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        root = write_pngs(Path(folder) / "pngs")
        written = time.perf_counter() - started
        limit_before = compute_limit(inputs, targets)
        cached, setup, accuracy = torchdash_fit(root)
        classic = classic_loop(root)
        limit_after = compute_limit(inputs, targets)
        with_duties = limit_with_step_duties(inputs, targets)
    limit = max(limit_before, limit_after)
    return [
        Result(
            f"1. training from cached tensors ≥ 3× the per-item PIL DataLoader loop "
            f"({IMAGES:,} 28×28 PNGs, MLP, batch 64)",
            f"{cached:,.0f} samples/s (training steps of the best of {FIT_EPOCHS} epochs) "
            f"(×{cached / classic:.1f}); "
            f"one-time folder check + decode {setup:.1f} s; val accuracy {accuracy:.2f}",
            f"classic ImageFolder + ToTensor DataLoader loop: {classic:,.0f} samples/s, one epoch "
            f"(PNGs written in {written:.0f} s, not counted)",
            cached >= 3 * classic,
        ),
        Result(
            "1. training from cached tensors ≥ 0.9× the compute limit",
            f"{cached:,.0f} samples/s (×{cached / limit:.2f} of the limit)",
            f"same steps on pre-built batches: {limit:,.0f} samples/s (best epoch of "
            f"{2 * LIMIT_EPOCHS}, {limit_before:,.0f} before (b) and {limit_after:,.0f} after); "
            f"with the duties of each of `fit`'s steps added (a shuffled gather, the non-finite "
            f"check, the loss and accuracy sums): {with_duties:,.0f} samples/s "
            f"(×{with_duties / limit:.2f})",
            cached >= 0.9 * limit,
        ),
    ]


if __name__ == "__main__":
    for result in run():
        print(result.row())
