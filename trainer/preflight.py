"""A check before a run: build its data and model, train a few real batches, time them.

`preflight(config)` answers what a person wants to know before queueing a run — does the model
take the data, can the loss take the model's output, how big is the model, how long will an
epoch take, how much memory does a step need — or raises `PreflightProblem` naming the part of
the config that does not fit. It trains a throwaway model: nothing is saved.
"""

from __future__ import annotations

import math
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from trainer.config import RunConfig
from trainer.config.base import PathKind
from trainer.data.datasets import DataSplits, build_datasets
from trainer.data.tensor_cache import decide_cache
from trainer.devices.acceleration import Acceleration
from trainer.devices.selection import resolve_device
from trainer.loop import optimizer_step
from trainer.models.builtin import build_model, parameter_count
from trainer.optim.losses import build_loss, output_count
from trainer.optim.optimizers import build_optimizer

Loc = tuple[str | int, ...]


class PreflightProblem(ValueError):
    """A config that cannot train: `loc` is the config field to blame."""

    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.loc = loc


def preflight(config: RunConfig, plugins_dir: Path | None = None, steps: int = 5) -> dict[str, Any]:
    """Measure `steps` training steps (after one warm-up step) of `config` on its device."""
    rss_before = _resident_bytes()
    device = _device(config)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    torch.manual_seed(config.seed)
    data = _data(config)
    model, runner, acceleration = _model(config, data, device, plugins_dir)
    optimizer = build_optimizer(config.optimizer, model, config.param_groups)
    loss_fn = build_loss(config.loss, data.num_classes).to(device)

    rounding = math.floor if config.drop_last else math.ceil
    train_samples, val_samples = len(data.train), len(data.val)  # type: ignore[arg-type]
    batches_per_epoch = rounding(train_samples / config.batch_size)
    if batches_per_epoch == 0:
        raise PreflightProblem(
            ("batch_size",),
            f"drop_last leaves no batch: {train_samples} training samples < batch_size "
            f"{config.batch_size}",
        )
    val_batches = math.ceil(val_samples / config.batch_size)

    # The batches are read first, so the steps are timed apart from reading the data; a run
    # whose data set fits the in-memory cache reads no batch from its files after its start.
    loaded, load_seconds = _read_batches(config, data, steps + 1, shuffle=config.shuffle)
    inputs, targets = (acceleration.to_device(t) for t in loaded[0])
    output = _forward(runner, inputs, acceleration)
    _check_loss(config, loss_fn, output, targets)

    try:
        with_device = [tuple(acceleration.to_device(t) for t in batch) for batch in loaded]
        optimizer_step(runner, *with_device[0], loss_fn, optimizer, 1, acceleration)  # warm-up
        _sync(device)
        started = time.perf_counter()
        for step, (batch_inputs, batch_targets) in enumerate(with_device[1:], start=2):
            optimizer_step(
                runner, batch_inputs, batch_targets, loss_fn, optimizer, step, acceleration
            )
        _sync(device)
        measured = len(with_device) - 1
        seconds_per_batch = (time.perf_counter() - started) / max(measured, 1)
        val_forward = _forward_seconds(runner, config, data, acceleration, steps)
    except torch.OutOfMemoryError as error:
        raise PreflightProblem(
            ("batch_size",),
            f"out of memory on {device} with batch_size {config.batch_size}: {error}",
        ) from error

    cached = decide_cache(config, data).use
    read_per_batch = 0.0 if cached else load_seconds / len(loaded)
    epoch_seconds = batches_per_epoch * (seconds_per_batch + read_per_batch) + val_batches * (
        val_forward + read_per_batch
    )
    if device.type == "cuda":
        peak_mb, peak_kind = torch.cuda.max_memory_allocated(device) / 2**20, "cuda_max_allocated"
    else:
        peak_mb, peak_kind = max(_peak_resident_bytes() - rss_before, 0) / 2**20, "rss_growth"
    return {
        "parameter_count": parameter_count(model),
        "model_summary": str(model),
        "input_shape": list(inputs.shape),
        "output_shape": list(output.shape),
        "train_samples": train_samples,
        "val_samples": val_samples,
        "batches_per_epoch": batches_per_epoch,
        "val_batches": val_batches,
        "measured_batches": measured,
        "seconds_per_batch": seconds_per_batch,
        "epoch_seconds_estimate": epoch_seconds,
        "run_seconds_estimate": epoch_seconds * config.max_epochs,
        "peak_memory_mb": peak_mb,
        "peak_memory_kind": peak_kind,
        "device": _device_name(device),
    }


def _device_name(device: torch.device) -> str:
    if device.type == "cuda" and device.index is None:
        return f"cuda:{torch.cuda.current_device()}"  # "auto" means the current one
    return str(device)


def _device(config: RunConfig) -> torch.device:
    try:
        return resolve_device(config.device)
    except ValueError as error:
        raise PreflightProblem(("device",), str(error)) from error


def _data(config: RunConfig) -> DataSplits:
    try:
        return build_datasets(config.data)
    except (OSError, ValueError, RuntimeError) as error:  # no images, no class folders, ...
        raise PreflightProblem(
            ("data", *_path_field(config)), f"cannot read the data: {error}"
        ) from error


def _path_field(config: RunConfig) -> Loc:
    """The data config's first path field (the folder a missing image is looked for in)."""
    for name, field in type(config.data).model_fields.items():
        if any(isinstance(marker, PathKind) for marker in field.metadata):
            return (name,)
    return ()


def _model(
    config: RunConfig, data: DataSplits, device: torch.device, plugins_dir: Path | None
) -> tuple[torch.nn.Module, torch.nn.Module, Acceleration]:
    try:
        outputs = output_count(config.loss, data.num_classes)
    except ValueError as error:
        raise PreflightProblem(("loss",), str(error)) from error
    try:
        model = build_model(config.model, data.input_shape, outputs, plugins_dir).to(device)
    except (ValueError, TypeError, RuntimeError) as error:
        raise PreflightProblem(
            ("model",), f"the model cannot be built for inputs {list(data.input_shape)}: {error}"
        ) from error
    acceleration = Acceleration(config, device)
    return model, acceleration.prepare(model), acceleration


def _read_batches(
    config: RunConfig, data: DataSplits, count: int, shuffle: bool, split: str = "train"
) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], float]:
    """Up to `count` batches (cycling a small data set) and the seconds reading them took."""
    loader = DataLoader(
        getattr(data, split),
        batch_size=config.batch_size,
        shuffle=shuffle,
        drop_last=config.drop_last and split == "train",
        num_workers=config.num_workers,
        generator=torch.Generator().manual_seed(config.seed),
    )
    started = time.perf_counter()
    batches: list[tuple[torch.Tensor, torch.Tensor]] = []
    try:
        source: Iterator = iter(loader)
        while len(batches) < count:
            try:
                batches.append(next(source))
            except StopIteration:
                if not batches:
                    break
                source = iter(loader)
    except (OSError, ValueError, RuntimeError) as error:  # an image that does not decode, ...
        raise PreflightProblem(
            ("data", *_path_field(config)), f"cannot read a batch: {error}"
        ) from error
    return batches, time.perf_counter() - started


def _forward(
    runner: torch.nn.Module, inputs: torch.Tensor, acceleration: Acceleration
) -> torch.Tensor:
    try:
        with torch.no_grad(), acceleration.autocast():
            return runner(inputs)
    except torch.OutOfMemoryError:
        raise
    except (RuntimeError, ValueError, TypeError, IndexError) as error:
        raise PreflightProblem(
            ("model",), f"the model cannot take a batch of shape {list(inputs.shape)}: {error}"
        ) from error


def _check_loss(
    config: RunConfig, loss_fn: torch.nn.Module, output: torch.Tensor, targets: torch.Tensor
) -> None:
    try:
        with torch.no_grad():
            loss_fn(output.float(), targets)
    except (RuntimeError, ValueError, TypeError, IndexError) as error:
        raise PreflightProblem(
            ("loss",),
            f"loss {config.loss.kind} cannot take output {list(output.shape)} and targets "
            f"{list(targets.shape)}: {error}",
        ) from error


@torch.no_grad()
def _forward_seconds(
    runner: torch.nn.Module,
    config: RunConfig,
    data: DataSplits,
    acceleration: Acceleration,
    count: int,
) -> float:
    """Mean seconds of one validation forward pass (no gradients), over up to `count` batches."""
    batches, _ = _read_batches(config, data, count, shuffle=False, split="val")
    if not batches:
        return 0.0
    runner.eval()
    device = acceleration.device
    on_device = [acceleration.to_device(inputs) for inputs, _ in batches]
    _sync(device)
    started = time.perf_counter()
    for inputs in on_device:
        with acceleration.autocast():
            runner(inputs)
    _sync(device)
    return (time.perf_counter() - started) / len(on_device)


def _sync(device: torch.device) -> None:
    """Wait for the device: kernels run asynchronously, and a timer must see them finish."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _resident_bytes() -> int:
    """This process's resident set size now (Linux /proc; else its peak so far)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize()
    except (OSError, IndexError, ValueError):
        return _peak_resident_bytes()


def _peak_resident_bytes() -> int:
    """This process's peak resident set size: ru_maxrss is in KiB on Linux, bytes on macOS."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024
