"""Checkpoints: one folder per checkpoint, written atomically, read back with weights_only=True.

A checkpoint folder holds three files, so each can be downloaded and loaded on its own:
`model.pt` (the model's state_dict), `optimizer.pt` (the optimizer's state_dict) and `state.pt`
(epoch, step, RNG state as tensors, the config and the best metric). The folder is filled under a
temporary name in the same parent, every file fsynced, then renamed into place: a reader sees a
whole checkpoint or none.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer.faults import fault_point

if TYPE_CHECKING:
    import torch

# The folder layout is read by the web server too, which never imports torch: torch is imported
# only inside the functions that save and load.
MODEL_FILE = "model.pt"
OPTIMIZER_FILE = "optimizer.pt"
STATE_FILE = "state.pt"
FORMAT_VERSION = 1

_NAME = re.compile(r"^epoch-(\d{4,})(-partial)?$")


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, incomplete or unreadable."""


@dataclass(frozen=True)
class CheckpointRef:
    """A checkpoint folder on disk, named `epoch-NNNN` or `epoch-NNNN-partial`."""

    path: Path
    epoch: int  # complete: the epoch it ends; partial: the epoch in progress
    complete: bool

    @property
    def order(self) -> tuple[int, int]:
        """Sort key: a partial checkpoint of epoch e comes after the end of epoch e - 1."""
        return (self.epoch, 1) if self.complete else (self.epoch - 1, 2)


def checkpoint_name(epoch: int, complete: bool) -> str:
    return f"epoch-{epoch:04d}" + ("" if complete else "-partial")


def save_checkpoint(
    directory: Path,
    epoch: int,
    complete: bool,
    model_state: dict[str, Any],
    optimizer_state: dict[str, Any],
    trainer_state: dict[str, Any],
) -> Path:
    """Write a checkpoint folder atomically and return its path."""
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    final = directory / checkpoint_name(epoch, complete)
    staging = directory / f".tmp-{final.name}-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        for name, obj in (
            (MODEL_FILE, model_state),
            (OPTIMIZER_FILE, optimizer_state),
            (STATE_FILE, {"format_version": FORMAT_VERSION, **trainer_state}),
        ):
            with open(staging / name, "wb") as handle:
                torch.save(obj, handle)
                handle.flush()
                os.fsync(handle.fileno())
            if name == MODEL_FILE:
                fault_point("save")  # tests: a kill or a full disk in the middle of a save
        _fsync_dir(staging)
        _replace_dir(staging, final)
        _fsync_dir(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def _replace_dir(source: Path, target: Path) -> None:
    """Rename `source` to `target`; an existing target is moved aside first, then removed."""
    if not target.exists():
        os.rename(source, target)
        return
    aside = target.with_name(f".old-{target.name}-{uuid.uuid4().hex}")
    os.rename(target, aside)
    os.rename(source, target)
    shutil.rmtree(aside, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sweep_stale(directory: Path) -> None:
    """Remove what an interrupted save left: staging folders, and put back a moved-aside one."""
    if not directory.is_dir():
        return
    for entry in directory.iterdir():
        if entry.name.startswith(".tmp-"):
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(".old-"):
            original = directory / entry.name[len(".old-") : -33]  # strip "-" + 32 hex digits
            if original.exists():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                os.rename(entry, original)


def list_checkpoints(directory: Path) -> list[CheckpointRef]:
    """The checkpoint folders in `directory`, oldest first."""
    if not directory.is_dir():
        return []
    refs = []
    for entry in directory.iterdir():
        match = _NAME.match(entry.name)
        if match and entry.is_dir():
            refs.append(CheckpointRef(entry, int(match.group(1)), match.group(2) is None))
    return sorted(refs, key=lambda ref: ref.order)


def latest_checkpoint(directory: Path) -> CheckpointRef | None:
    """The newest checkpoint in `directory`, or None when there is none."""
    refs = list_checkpoints(directory)
    return refs[-1] if refs else None


def newest_valid_checkpoint(
    directory: Path, warn: Callable[[str], None] = print
) -> CheckpointRef | None:
    """The newest checkpoint that loads whole, skipping (and naming) unreadable ones."""
    for ref in reversed(list_checkpoints(directory)):
        try:
            load_checkpoint(ref.path)
        except CheckpointError as error:
            warn(f"skipping unreadable checkpoint: {error}")
            continue
        return ref
    return None


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint folder back: {"model": ..., "optimizer": ..., "state": ...}."""
    import torch

    loaded: dict[str, Any] = {}
    for key, name in (("model", MODEL_FILE), ("optimizer", OPTIMIZER_FILE), ("state", STATE_FILE)):
        file = path / name
        if not file.is_file():
            raise CheckpointError(f"checkpoint file '{file}' is missing")
        try:
            loaded[key] = torch.load(file, map_location=map_location, weights_only=True)
        except Exception as error:  # torch raises several types for a truncated or foreign file
            raise CheckpointError(f"checkpoint file '{file}' cannot be read: {error}") from error
    version = loaded["state"].get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint '{path}' has format {version}, expected {FORMAT_VERSION}"
        )
    return loaded


def saved_data_state(path: Path) -> dict[str, Any] | None:
    """The preprocessing fitted on the training data that a checkpoint saved (its "data_state":
    a table's statistics, a text vocabulary), or None when its data kind fits none."""
    import torch

    file = path / STATE_FILE
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a truncated or foreign file
        raise CheckpointError(f"checkpoint file '{file}' cannot be read: {error}") from error
    return state.get("data_state")


def checkpoint_size(path: Path) -> int:
    """Bytes on disk of a checkpoint folder."""
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file())


def remove_checkpoint(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
