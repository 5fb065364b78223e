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

from trainer.config import PluginData, RunConfig
from trainer.data.datasets import DataSplits
from trainer.data.tensor_cache import decide_cache
from trainer.devices.acceleration import Acceleration
from trainer.errors import ConfigProblem
from trainer.loop import optimizer_step
from trainer.models.builtin import parameter_count
from trainer.plugins.loading import build_plugin_metric
from trainer.setup import as_problem, data_path_field, setup_run

# What the worker catches: a config that cannot train, with the config field to blame.
PreflightProblem = ConfigProblem
# What reading built-in data raises for a file that is not as it should be. A plugin Dataset's
# code may raise anything: whatever it raises, its data is to blame.
READ_ERRORS = (OSError, ValueError, RuntimeError)


def preflight(config: RunConfig, plugins_dir: Path | None = None, steps: int = 5) -> dict[str, Any]:
    """Measure `steps` training steps (after one warm-up step) of `config` on its device."""
    rss_before = _resident_bytes()
    setup = setup_run(config, plugins_dir=plugins_dir, blame=as_problem)
    device, data, acceleration = setup.device, setup.data, setup.acceleration
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    train_samples, val_samples = len(data.train), len(data.val)  # type: ignore[arg-type]
    batches_per_epoch = setup.batches_per_epoch
    val_batches = math.ceil(val_samples / config.batch_size)

    # The batches are read first, so the steps are timed apart from reading the data; a run
    # whose data set fits the in-memory cache reads no batch from its files after its start.
    loaded, load_seconds = _read_batches(config, data, steps + 1, shuffle=config.shuffle)
    inputs, targets = (acceleration.to_device(t) for t in loaded[0])
    output = _forward(setup.runner, inputs, acceleration)
    # The output count first: a model giving too few outputs fails in the loss too, yet the
    # model is what to change.
    _check_output_count(config, data, output, setup.num_outputs)
    _check_loss(config, setup.loss_fn, output, targets)
    _check_metrics(config, data, plugins_dir, output, targets, setup.num_outputs)

    try:
        with_device = [(acceleration.to_device(x), acceleration.to_device(y)) for x, y in loaded]
        optimizer_step(setup, *with_device[0], 1)  # warm-up
        _sync(device)
        started = time.perf_counter()
        for step, (batch_inputs, batch_targets) in enumerate(with_device[1:], start=2):
            optimizer_step(setup, batch_inputs, batch_targets, step)
        _sync(device)
        measured = len(with_device) - 1
        seconds_per_batch = (time.perf_counter() - started) / max(measured, 1)
        val_forward = _forward_seconds(setup.runner, config, data, acceleration, steps)
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
        "parameter_count": parameter_count(setup.model),
        "model_summary": str(setup.model),
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
        "data_report": data.report,
    }


def _device_name(device: torch.device) -> str:
    if device.type == "cuda" and device.index is None:
        return f"cuda:{torch.cuda.current_device()}"  # "auto" means the current one
    return str(device)


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
    except Exception as error:  # an image that does not decode, a plugin Dataset's bug, ...
        if not isinstance(error, READ_ERRORS) and not isinstance(config.data, PluginData):
            raise
        raise PreflightProblem(
            ("data", *data_path_field(config)),
            f"cannot read a batch: {type(error).__name__}: {error}",
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


def _check_output_count(
    config: RunConfig, data: DataSplits, output: torch.Tensor, needed: int
) -> None:
    """The model gives each item as many outputs as the loss and the task need."""
    per_item = math.prod(output.shape[1:])
    if output.dim() >= 1 and per_item == needed:
        return
    what = {"classification": "class", "multilabel": "label", "regression": "target"}[config.task]
    why = f"one per {what}" if needed == data.num_classes else "binary targets"
    raise PreflightProblem(
        ("model",),
        f"the model gives outputs of shape {list(output.shape)}, {per_item} per item; "
        f"{config.task} with loss {config.loss.kind} needs {needed} per item ({why})",
    )


def _check_metrics(
    config: RunConfig,
    data: DataSplits,
    plugins_dir: Path | None,
    output: torch.Tensor,
    targets: torch.Tensor,
    outputs: int,
) -> None:
    """Each metric plugin takes a batch's output and targets (a fresh one: the run's are
    left as they are)."""
    for index, metric in enumerate(config.metrics):
        meaning = (
            f"metric {metric.name} cannot take output {list(output.shape)} and targets "
            f"{list(targets.shape)}"
        )
        with as_problem(("metrics", index), ""):
            built = build_plugin_metric(plugins_dir, metric, data.num_classes, outputs)
        try:
            with torch.no_grad():
                built = built.to(output.device)
                built.update(output.float(), targets)
                built.compute()
        except Exception as error:  # the user's code may raise anything: it is the metric's
            raise PreflightProblem(
                ("metrics", index), f"{meaning}: {type(error).__name__}: {error}"
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
