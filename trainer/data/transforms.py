"""Transform pipelines: each config step becomes a torchvision v2 transform on tensors.

Every sample first becomes a float tensor C x H x W with values in [0, 1] (the to-tensor step,
always there, always first), so each step works whatever the data set's file format.

For the decode-once cache (trainer/data/tensor_cache.py) a pipeline splits in two
(`split_steps`): the *cached stage*, the deterministic steps before the first random one, run once
per item; and the *batched stage*, the first random step and everything after it, run on whole
batches every epoch (trainer/data/batch_augment.py). The cached stage is kept as uint8 only where
that is exact: 8-bit images through steps that only select pixels (a center crop). A resize, a
grayscale or a normalize before the first random step computes values between the 256 levels, so
such a stage stays float32 and holds exactly what the per-item path computes: nothing is rounded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
# Steps that draw new parameters for every sample, every epoch.
RANDOM_KINDS = frozenset({"random_crop", "horizontal_flip", "rotation"})
# Steps whose output on uint8 pixels, scaled to [0, 1] afterwards, equals their output on the
# scaled float pixels: they only select pixels, never compute new values.
UINT8_EXACT_KINDS = frozenset({"center_crop"})


def to_uint8(sample: Any) -> torch.Tensor:
    """A PIL image (8 bits a channel) or a uint8 tensor as a uint8 C x H x W tensor.

    `to_tensor` of the same sample is this divided by 255 (`v2.functional.to_dtype` scaling).
    """
    image = v2.functional.to_image(sample) if isinstance(sample, Image.Image) else sample
    tensor = torch.as_tensor(image)
    if tensor.dtype != torch.uint8:
        raise TypeError(f"expected 8-bit pixels, got {tensor.dtype}")
    return tensor.as_subclass(torch.Tensor)


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


@dataclass(frozen=True)
class StageSplit:
    """A pipeline cut for the decode-once cache: what is cached, what runs per batch."""

    cached: tuple[TransformStep, ...]  # the deterministic steps before the first random one
    batched: tuple[TransformStep, ...]  # the first random step and every step after it
    dtype: torch.dtype  # of the cached stage: uint8 where exact, else float32

    @property
    def random_kinds(self) -> list[str]:
        return sorted({step.kind for step in self.batched if step.kind in RANDOM_KINDS})


def split_steps(steps: Sequence[TransformStep], eight_bit: bool) -> StageSplit:
    """Cut `steps` before the first random step; `eight_bit`: the data decodes to 8-bit images."""
    first = next((i for i, step in enumerate(steps) if step.kind in RANDOM_KINDS), len(steps))
    cached, batched = tuple(steps[:first]), tuple(steps[first:])
    exact = eight_bit and all(step.kind in UINT8_EXACT_KINDS for step in cached)
    return StageSplit(cached, batched, torch.uint8 if exact else torch.float32)


class Pipeline:
    """A config's steps, resolved (a normalize step's measured mean and std filled in): called on
    a sample, the per-item transform; `split` says how the decode-once cache runs it instead."""

    def __init__(self, steps: Sequence[TransformStep], eight_bit: bool) -> None:
        self.steps = tuple(steps)
        self.split = split_steps(self.steps, eight_bit)
        self.transform = v2.Compose([to_tensor, *(_step(step) for step in self.steps)])

    def __call__(self, sample: Any) -> torch.Tensor:
        return self.transform(sample)

    def cached_transform(self) -> Transform:
        """The cached stage, item by item: decode (to uint8 or float) and its steps."""
        first = to_uint8 if self.split.dtype == torch.uint8 else to_tensor
        return v2.Compose([first, *(_step(step) for step in self.split.cached)])


def build_pipeline(
    steps: Sequence[TransformStep], train_base: Dataset, eight_bit: bool = False
) -> Pipeline:
    """The pipeline for `steps`; a normalize step without mean/std measures `train_base`.

    `eight_bit`: the samples are 8-bit images, so the cached stage may be uint8 (`split_steps`).
    """
    resolved: list[TransformStep] = []
    for step in steps:
        if isinstance(step, NormalizeStep) and step.mean is None:
            measured = v2.Compose([to_tensor, *(_step(done) for done in resolved)])
            mean, std = dataset_stats(train_base, measured)
            step = NormalizeStep(mean=mean, std=std)
        resolved.append(step)
    return Pipeline(resolved, eight_bit)


def step_transform(step: TransformStep) -> Transform:
    """One deterministic step as a transform; it takes a batch N x C x H x W as well as an item."""
    if step.kind in RANDOM_KINDS:
        raise ValueError(
            f"{step.kind} is random: trainer/data/batch_augment.py draws it per sample"
        )
    return _step(step)


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
