"""Augmented training: random steps on whole cached batches against the per-item PIL path.

Side by side in one run, on the ImageFolder of 28x28 grayscale PNGs that bench/throughput.py
writes (60,000 by default), the same `RunConfig` twice: a small CNN, random crop (padding 2) and
horizontal flip in the training pipeline, SGD with momentum, batch 64, on the CPU:

(a) the per-item path: `cache_budget_mb: 0`, so every epoch each item is opened, decoded by PIL
    and sent through the v2 transforms in the DataLoader, then collated;
(b) the batched path (the default): the folder decoded once, then each batch gathered from the
    cache and augmented as a whole, each sample with its own crop and flip.

Samples/s count each side's training steps only (its validation pass and its one-time decode
are left out; the decode is reported apart), best epoch of the same number, with one torch
thread (see bench/throughput.py `run` for why). Both sides report their last validation
accuracy. `--images` and `--epochs` shrink the run where a loaded machine needs it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from bench.common import Result
from bench.throughput import BATCH, IMAGES, LR, MOMENTUM, VAL_FRACTION, EpochClock, write_pngs
from trainer.config import RunConfig
from trainer.loop import fit

EPOCHS = 3
AUGMENT = [{"kind": "random_crop", "size": 28, "padding": 2}, {"kind": "horizontal_flip"}]
CHANNELS = [8, 16]


def augment_config(root: Path, epochs: int, **changes: object) -> RunConfig:
    return RunConfig.model_validate(
        {
            "data": {
                "kind": "imagefolder",
                "train_dir": str(root),
                "grayscale": True,
                "val_fraction": VAL_FRACTION,
                "train_transforms": AUGMENT,
            },
            "model": {"kind": "cnn", "channels": CHANNELS},
            "optimizer": {"kind": "sgd", "lr": LR, "momentum": MOMENTUM},
            "batch_size": BATCH,
            "max_epochs": epochs,
            "device": "cpu",
            **changes,
        }
    )


def side(config: RunConfig, train_items: int) -> tuple[float, float, float]:
    """(samples/s of the best epoch's training steps, setup seconds, last val accuracy)."""
    clock = EpochClock()
    called = time.perf_counter()
    result = fit(config, clock)
    accuracy = result.history[-1].val_accuracy
    return train_items / clock.best_epoch(), clock.started - called, float(accuracy or 0.0)


def run(images: int = IMAGES, epochs: int = EPOCHS) -> list[Result]:
    torch.set_num_threads(1)
    train_items = round(images * (1 - VAL_FRACTION))
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        root = write_pngs(Path(folder) / "pngs", images)
        written = time.perf_counter() - started
        per_item, per_item_setup, per_item_accuracy = side(
            augment_config(root, epochs, cache_budget_mb=0), train_items
        )
        batched, batched_setup, batched_accuracy = side(augment_config(root, epochs), train_items)
    scale = f"{images:,} 28×28 PNGs, CNN {CHANNELS}, batch {BATCH}, {epochs} epochs each"
    return [
        Result(
            f"issue 28. augmented training (random crop + flip) on whole cached batches ≥ 3× "
            f"the per-item PIL DataLoader path ({scale})",
            f"{batched:,.0f} samples/s (×{batched / per_item:.1f}); one-time folder check + "
            f"decode {batched_setup:.1f} s; val accuracy {batched_accuracy:.3f}",
            f"per-item path (cache_budget_mb 0), same config: {per_item:,.0f} samples/s; "
            f"setup {per_item_setup:.1f} s; val accuracy {per_item_accuracy:.3f} (PNGs written "
            f"in {written:.0f} s, not counted)",
            batched >= 3 * per_item,
        )
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=IMAGES)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    arguments = parser.parse_args()
    for result in run(arguments.images, arguments.epochs):
        print(result.row())
