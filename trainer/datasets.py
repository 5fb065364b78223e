"""Data sets: each config kind becomes a train and a validation `Dataset` plus its class names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from trainer.config import DataConfig, DigitsData, ImageFolderData
from trainer.image_checks import ImageCheck, require_two_classes


@dataclass(frozen=True)
class DataSplits:
    """The two splits of a data set and what a model needs to know about them."""

    train: Dataset
    val: Dataset
    class_names: list[str]
    input_shape: tuple[int, ...]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def build_datasets(config: DataConfig) -> DataSplits:
    """Build the train and validation data sets a config names."""
    if isinstance(config, DigitsData):
        return _digits(config)
    if isinstance(config, ImageFolderData):
        return _image_folder(config)
    raise TypeError(f"unknown data config {config!r}")


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """A fixed, seeded train/validation split of range(n); both parts are non-empty."""
    if n < 2:
        raise ValueError(f"a data set of {n} item(s) cannot be split into train and validation")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = min(max(1, round(n * val_fraction)), n - 1)
    return order[n_val:], order[:n_val]


def _digits(config: DigitsData) -> DataSplits:
    # load_digits reads the CSV that scikit-learn ships inside its package: no network needed.
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0  # N x 1 x 8 x 8
    labels = torch.tensor(bunch.target, dtype=torch.long)
    train_idx, val_idx = split_indices(len(labels), config.val_fraction, config.split_seed)
    return DataSplits(
        train=TensorDataset(images[train_idx], labels[train_idx]),
        val=TensorDataset(images[val_idx], labels[val_idx]),
        class_names=[str(name) for name in bunch.target_names],
        input_shape=tuple(images.shape[1:]),
    )


def _image_folder(config: ImageFolderData) -> DataSplits:
    from torchvision import datasets, transforms

    steps: list = []
    if config.grayscale:
        steps.append(transforms.Grayscale(num_output_channels=1))
    if config.image_size is not None:
        steps.append(transforms.Resize((config.image_size, config.image_size)))
    steps.append(transforms.ToTensor())
    transform = transforms.Compose(steps)

    train_dir = _existing_dir(config.train_dir, "train_dir")
    check = ImageCheck()  # unreadable images are skipped and named in the log
    train_full = datasets.ImageFolder(str(train_dir), transform=transform, is_valid_file=check)
    check.report(str(train_dir))
    require_two_classes(train_full.classes, train_dir)
    if config.val_dir:
        val_dir = _existing_dir(config.val_dir, "val_dir")
        check = ImageCheck()
        val = datasets.ImageFolder(str(val_dir), transform=transform, is_valid_file=check)
        check.report(str(val_dir))
        if val.classes != train_full.classes:
            raise ValueError(
                f"val_dir classes {val.classes} differ from train_dir classes {train_full.classes}"
            )
        train: Dataset = train_full
    else:
        train_idx, val_idx = split_indices(len(train_full), config.val_fraction, config.split_seed)
        train, val = Subset(train_full, train_idx), Subset(train_full, val_idx)
    sample, _ = train_full[0]
    return DataSplits(
        train=train, val=val, class_names=list(train_full.classes), input_shape=tuple(sample.shape)
    )


def _existing_dir(path: str, field: str) -> Path:
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"{field} '{path}' is not an existing folder")
    return folder
