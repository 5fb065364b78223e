"""Transform pipelines: each config step becomes a torchvision v2 transform on tensors.

Every sample first becomes a float tensor C x H x W with values in [0, 1] (the to-tensor step,
always there, always first), so each step works whatever the data set's file format.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Subset
from torchvision.transforms import v2

from trainer.config.transforms import (
    CenterCropStep,
    GrayscaleStep,
    HorizontalFlipStep,
    NormalizeStep,
    RandomCropStep,
    ResizeStep,
    RotationStep,
    TransformStep,
)

Transform = Callable[[torch.Tensor], torch.Tensor]
# Mean and std from the training set are estimated over at most this many images.
STATS_SAMPLES = 10_000


def to_tensor(sample: Any) -> torch.Tensor:
    """A PIL image or a tensor as a float32 C x H x W tensor in [0, 1]."""
    if isinstance(sample, Image.Image):
        return v2.functional.to_dtype(v2.functional.to_image(sample), torch.float32, scale=True)
    tensor = torch.as_tensor(sample)
    return tensor.float() if tensor.dtype != torch.float32 else tensor


class ToGrayscale:
    """Three channels to one by luminance; one channel stays as it is."""

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        if image.shape[-3] == 1:
            return image
        return v2.functional.rgb_to_grayscale(image, num_output_channels=1)


class TransformedDataset(Dataset):
    """(sample, label) pairs of `base` with `transform` applied to the sample."""

    def __init__(self, base: Dataset, transform: Transform) -> None:
        self.base = base
        self.transform = transform

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        sample, label = self.base[index]
        return self.transform(sample), label


def build_pipeline(steps: Sequence[TransformStep], train_base: Dataset) -> Transform:
    """The transform for `steps`; a normalize step without mean/std measures `train_base`."""
    built: list[Transform] = [to_tensor]
    for step in steps:
        if isinstance(step, NormalizeStep) and step.mean is None:
            mean, std = dataset_stats(train_base, v2.Compose(built))
            built.append(v2.Normalize(mean, std))
        else:
            built.append(_step(step))
    return v2.Compose(built)


def _step(step: TransformStep) -> Transform:
    if isinstance(step, ResizeStep):
        return v2.Resize((step.size, step.size), antialias=True)
    if isinstance(step, CenterCropStep):
        return v2.CenterCrop(step.size)
    if isinstance(step, RandomCropStep):
        return v2.RandomCrop(step.size, padding=step.padding or None, pad_if_needed=True)
    if isinstance(step, HorizontalFlipStep):
        return v2.RandomHorizontalFlip(step.p)
    if isinstance(step, RotationStep):
        return v2.RandomRotation(step.degrees)
    if isinstance(step, GrayscaleStep):
        return ToGrayscale()
    if isinstance(step, NormalizeStep):
        return v2.Normalize(list(step.mean or []), list(step.std or []))
    raise TypeError(f"unknown transform step {step!r}")


def dataset_stats(base: Dataset, transform: Transform) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of `base` after `transform`, over its first STATS_SAMPLES."""
    count = min(len(base), STATS_SAMPLES)  # type: ignore[arg-type]
    subset = TransformedDataset(Subset(base, range(count)), transform)
    total = torch.zeros(0, dtype=torch.float64)
    total_sq = torch.zeros(0, dtype=torch.float64)
    pixels = 0
    for images, _ in DataLoader(subset, batch_size=256):
        images = images.double()
        if total.numel() == 0:
            total = torch.zeros(images.shape[1], dtype=torch.float64)
            total_sq = torch.zeros_like(total)
        total += images.sum(dim=(0, 2, 3))
        total_sq += (images**2).sum(dim=(0, 2, 3))
        pixels += images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / pixels
    std = (total_sq / pixels - mean**2).clamp_min(1e-12).sqrt()
    return mean.tolist(), std.tolist()
