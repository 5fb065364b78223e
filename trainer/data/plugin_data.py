"""A plugin Dataset as a run's data: built once per split, its targets checked against the task
on the first item, converted to what the loop takes, and named.

Targets leave here as a long class index (classification) or a float32 tensor (multilabel: a
0/1 vector; regression: a scalar or a vector), whatever the Dataset returns (int, float, bool,
a NumPy value, a list, a tensor of any dtype), so the DataLoader and the in-memory cache collate
the same tensors. Inputs are the Dataset's own: it does its own transforms.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from trainer.config.plugins import PluginData
from trainer.config.tasks import Task
from trainer.plugins.loading import build_plugin_dataset

TARGET_DTYPES: dict[Task, torch.dtype] = {
    "classification": torch.long,
    "multilabel": torch.float32,
    "regression": torch.float32,
}
NEEDS: dict[Task, str] = {
    "classification": "an integer class index (an int, or a 0-d integer tensor)",
    "multilabel": "a 1-D vector of 0/1 values, one per label",
    "regression": "a real number, or a 1-D vector of them",
}


class PluginItems(Dataset):
    """A plugin Dataset's `(input, target)` items, the target as the task's tensor."""

    def __init__(self, dataset: Dataset, task: Task) -> None:
        self.dataset = dataset
        self.dtype = TARGET_DTYPES[task]

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[Any, torch.Tensor]:
        inputs, target = self.dataset[index]
        return inputs, torch.as_tensor(target).to(self.dtype)


@dataclass(frozen=True)
class PluginSplits:
    """What `DataSplits` holds, for a plugin Dataset."""

    train: Dataset
    val: Dataset
    class_names: list[str]
    input_shape: tuple[int, ...]
    target_shape: tuple[int, ...]


def build_plugin_splits(config: PluginData, task: Task, plugins_dir: Path | None) -> PluginSplits:
    """The Dataset's train and val splits, with their shapes and names."""
    train = build_plugin_dataset(plugins_dir, config, "train")
    val = build_plugin_dataset(plugins_dir, config, "val")
    for split, dataset in (("train", train), ("val", val)):
        if len(dataset) == 0:  # type: ignore[arg-type]
            raise ValueError(f"Dataset {config.name} has no items in its '{split}' split")
    inputs, target = first_item(train, config.name)
    target_shape = check_target(target, task, config.name)
    try:
        input_shape = tuple(torch.as_tensor(inputs).shape)
    except (TypeError, ValueError, RuntimeError) as error:
        raise ValueError(
            f"Dataset {config.name}'s input is a {type(inputs).__name__}, not a tensor: {error}"
        ) from error
    train_items, val_items = PluginItems(train, task), PluginItems(val, task)
    names = class_names(train, task, target_shape, (train_items, val_items), config.name)
    return PluginSplits(train_items, val_items, names, input_shape, target_shape)


def first_item(dataset: Dataset, name: str) -> tuple[Any, Any]:
    """Item 0 of the Dataset, which must be an `(input, target)` pair."""
    item = dataset[0]
    if not (isinstance(item, tuple | list) and len(item) == 2):
        raise ValueError(
            f"Dataset {name}'s items must be (input, target) pairs; item 0 is {_describe(item)}"
        )
    return item[0], item[1]


def check_target(target: Any, task: Task, name: str) -> tuple[int, ...]:
    """The shape of one target, which must fit the task; else a ValueError saying what it is."""
    try:
        value = torch.as_tensor(target)
    except (TypeError, ValueError, RuntimeError):
        value = None
    fits = value is not None and (
        (task == "classification" and value.dim() == 0 and not value.is_floating_point()
         and not value.is_complex())
        or (task == "multilabel" and value.dim() == 1 and len(value) > 0
            and bool(((value == 0) | (value == 1)).all()))
        or (task == "regression" and value.dim() <= 1 and value.numel() > 0
            and not value.is_complex())
    )  # fmt: skip
    if not fits:
        raise ValueError(
            f"Dataset {name}'s targets do not fit task '{task}': item 0's target is "
            f"{_describe(target)}; a {task} task needs {NEEDS[task]}"
        )
    assert value is not None
    return tuple(value.shape)


def class_names(
    dataset: Dataset,
    task: Task,
    target_shape: tuple[int, ...],
    splits: tuple[Dataset, Dataset],
    name: str,
) -> list[str]:
    """The Dataset's `classes` if it has them; else class indices found in the targets
    (classification), or `label_i` (multilabel), `target` / `target_i` (regression)."""
    width = target_shape[0] if target_shape else 1
    given = getattr(dataset, "classes", None)
    if given is not None:
        names = [str(entry) for entry in given]
        if task != "classification" and len(names) != width:
            what = "labels" if task == "multilabel" else "targets"
            raise ValueError(
                f"Dataset {name} names {len(names)} {what} in `classes`, and its targets have "
                f"{width}"
            )
        return names
    if task == "multilabel":
        return [f"label_{index}" for index in range(width)]
    if task == "regression":
        return ["target"] if not target_shape else [f"target_{i}" for i in range(width)]
    return [str(index) for index in range(largest_class(splits) + 1)]


def largest_class(splits: tuple[Dataset, ...]) -> int:
    """The largest class index among the targets of `splits`, read once (the Dataset names no
    `classes`; a `targets` attribute, as torchvision's data sets have, spares reading items)."""
    largest = 0
    for items in splits:
        inner = getattr(items, "dataset", items)
        targets = getattr(inner, "targets", None)
        if targets is not None and len(targets) == len(items):  # type: ignore[arg-type]
            largest = max(largest, int(torch.as_tensor(targets).max()))
            continue
        for index in range(len(items)):  # type: ignore[arg-type]
            largest = max(largest, int(items[index][1]))
    return largest


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {list(value.shape)} ({str(value.dtype).removeprefix('torch.')})"
    if isinstance(value, bool | numbers.Number):
        return f"{type(value).__name__} {value!r}"
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"a {type(value).__name__} of shape {list(shape)}"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)} values"
    return f"a {type(value).__name__}"
