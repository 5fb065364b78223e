"""Data sets: each config kind becomes a train and a validation `Dataset` plus its class names.

Each built-in kind yields raw samples (PIL images or tensors); the config's train and val
transform pipelines then turn them into float tensors (see trainer/data/transforms.py). A plugin
Dataset does its own work (trainer/data/plugin_data.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from trainer.config.data import (
    CsvImagesData,
    DataConfig,
    DigitsData,
    ImageFolderData,
    TableData,
    TextData,
    TorchvisionData,
)
from trainer.config.plugins import PluginData
from trainer.config.tasks import Task
from trainer.config.transforms import GrayscaleStep, ResizeStep, TransformStep
from trainer.data.data_report import DataReport
from trainer.data.image_checks import ImageCheck, require_two_classes
from trainer.data.sampling import split_indices
from trainer.data.transforms import TransformedDataset, build_pipeline


@dataclass(frozen=True)
class DataSplits:
    """The two splits of a data set and what a model needs to know about them."""

    train: Dataset
    val: Dataset
    class_names: list[str]  # classes; label names (multilabel); target names (regression)
    input_shape: tuple[int, ...]
    target_shape: tuple[int, ...] = ()  # one item's target: () for a class index or a scalar
    # Preprocessing fitted on the training split (a table's standardization and category codes,
    # a text vocabulary): saved in every checkpoint under "data_state", handed back on resume,
    # evaluation and in the bundle so the same inputs come out. None for kinds that fit nothing.
    data_state: dict[str, Any] | None = None
    # What the Check button shows about the files read (trainer/data/data_report.py).
    report: DataReport | None = None

    @property
    def vocabulary_size(self) -> int | None:
        """Token ids run from 0 to this size - 1 (text data), else None."""
        if self.data_state is None or "tokens" not in self.data_state:
            return None
        return len(self.data_state["tokens"])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def build_datasets(
    config: DataConfig,
    task: Task = "classification",
    plugins_dir: Path | None = None,
    data_state: dict[str, Any] | None = None,
) -> DataSplits:
    """Build the train and validation data sets a config names, transforms applied.

    `task` is what the targets must be (checked on a plugin Dataset's first item: the built-in
    kinds are classification data); `plugins_dir` is where data kind `plugin` looks;
    `data_state` is the preprocessing a checkpoint saved (`DataSplits.data_state`), reused
    instead of fitted again.
    """
    if isinstance(config, TextData):
        from trainer.data.text_data import load_text

        text = load_text(config, task, data_state)
        return DataSplits(
            text.train, text.val, text.class_names, text.input_shape, text.target_shape,
            text.state, text.report,
        )  # fmt: skip
    if isinstance(config, PluginData):
        from trainer.data.plugin_data import build_plugin_splits

        plugin = build_plugin_splits(config, task, plugins_dir)
        return DataSplits(
            plugin.train, plugin.val, plugin.class_names, plugin.input_shape, plugin.target_shape
        )
    if isinstance(config, TableData):
        from trainer.data.table_data import build_table_splits

        table = build_table_splits(config, task, data_state)
        return DataSplits(
            table.train, table.val, table.class_names, table.input_shape, table.target_shape,
            data_state=table.state.as_dict(), report=table.report,
        )  # fmt: skip
    if isinstance(config, DigitsData):
        train, val, class_names = _digits(config)
    elif isinstance(config, TorchvisionData):
        from trainer.data.torchvision_sets import load_torchvision

        loaded = load_torchvision(config.name, Path(config.root))
        train, val, class_names = loaded.train, loaded.val, loaded.class_names
    elif isinstance(config, ImageFolderData):
        train, val, class_names = _image_folder(config)
    elif isinstance(config, CsvImagesData):
        from trainer.data.csv_images import load_csv_images

        loaded_csv = load_csv_images(config)
        train, val, class_names = loaded_csv.train, loaded_csv.val, loaded_csv.class_names
    else:
        raise TypeError(f"unknown data config {config!r}")
    eight_bit = decodes_to_eight_bit(config)
    train_pipeline = build_pipeline(pipeline_steps(config, "train"), train, eight_bit)
    val_pipeline = build_pipeline(pipeline_steps(config, "val"), train, eight_bit)
    train_set = TransformedDataset(train, train_pipeline)
    val_set = TransformedDataset(val, val_pipeline)
    sample, _ = train_set[0]
    return DataSplits(train_set, val_set, class_names, tuple(sample.shape))


def pipeline_steps(config: DataConfig, split: str) -> list[TransformStep]:
    """The steps a built-in image kind's `split` ("train" or "val") goes through, in order: the
    data set's own (an image folder's grayscale and image_size) before the config's list."""
    prefix: list[TransformStep] = []
    if isinstance(config, ImageFolderData):
        prefix += [GrayscaleStep()] if config.grayscale else []
        prefix += [ResizeStep(size=config.image_size)] if config.image_size else []
    return [*prefix, *getattr(config, f"{split}_transforms", [])]


def decodes_to_eight_bit(config: DataConfig) -> bool:
    """True for the kinds whose items are 8-bit PIL images (a folder or a CSV of image files,
    torchvision's sets); the digits are floats already."""
    return isinstance(config, ImageFolderData | CsvImagesData | TorchvisionData)


@functools.cache
def digits_tensors() -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """The embedded digits (images N x 1 x 8 x 8 in [0, 1], labels, class names), read once.

    Once per process: a warm worker reads them before it has a run (app/worker/warm.py). Callers
    index into the tensors, which copies; nothing writes to them.
    """
    # load_digits reads the CSV that scikit-learn ships inside its package: no network needed.
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(bunch.target, dtype=torch.long)
    return images, labels, [str(name) for name in bunch.target_names]


def _digits(config: DigitsData) -> tuple[Dataset, Dataset, list[str]]:
    images, labels, class_names = digits_tensors()
    train_idx, val_idx = split_indices(len(labels), config.val_fraction, config.split_seed)
    return (
        TensorDataset(images[train_idx], labels[train_idx]),
        TensorDataset(images[val_idx], labels[val_idx]),
        list(class_names),
    )


def _image_folder(config: ImageFolderData) -> tuple[Dataset, Dataset, list[str]]:
    from torchvision import datasets

    train_dir = _existing_dir(config.train_dir, "train_dir")
    check = ImageCheck.of_folder(train_dir)  # unreadable images are skipped, named in the log
    train_full = datasets.ImageFolder(str(train_dir), is_valid_file=check)
    check.report(str(train_dir))
    require_two_classes(train_full.classes, train_dir)
    if config.val_dir:
        val_dir = _existing_dir(config.val_dir, "val_dir")
        check = ImageCheck.of_folder(val_dir)
        val = datasets.ImageFolder(str(val_dir), is_valid_file=check)
        check.report(str(val_dir))
        if val.classes != train_full.classes:
            raise ValueError(
                f"val_dir classes {val.classes} differ from train_dir classes {train_full.classes}"
            )
        return train_full, val, list(train_full.classes)
    train_idx, val_idx = split_indices(len(train_full), config.val_fraction, config.split_seed)
    return Subset(train_full, train_idx), Subset(train_full, val_idx), list(train_full.classes)


def _existing_dir(path: str, field: str) -> Path:
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"{field} '{path}' is not an existing folder")
    return folder
