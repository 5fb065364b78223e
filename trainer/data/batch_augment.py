"""A pipeline's batched stage: its random steps (and whatever follows them) on whole batches.

The decode-once cache holds each item after the pipeline's deterministic head
(trainer/data/transforms.py `split_steps`); every epoch each batch of it goes through the rest
here, on the training device: to float, then each step in order. Every sample gets its own
random parameters (its crop offsets, whether it is flipped, its angle), drawn as one vector per
batch.

The draws come from a `torch.Generator` of the stage's own, never the global RNG (which dropout
draws on: the weights of a run would otherwise depend on how its batches were augmented). It is
seeded afresh for each batch from (run seed, stream, epoch, rank, batch number), as
`EpochShuffleSampler` seeds each epoch's order from (seed, epoch): the stream's whole state is
the loop's position, which every checkpoint saves (`EpochProgress.epoch`, `batches_done`). So a
run resumed mid-epoch, or on another device, draws exactly what the unbroken run drew; each DDP
rank draws its own. The generator lives on the CPU (the same numbers whatever the device), and
only the small parameter vectors travel to the device.

What differs from torchvision's per-item transforms on the same float pixels:
- random crop, flip: nothing; the same pixels, zero padding as `v2.RandomCrop`'s fill 0;
- rotation: `grid_sample` with nearest sampling and zero fill, `v2.RandomRotation`'s defaults
  (torchvision's tensor rotation samples the same way: the outputs matched pixel for pixel on
  the square and oblong images checked, though a source pixel on a rounding tie could in
  principle come out as its neighbour, the grid being computed in another order);
- the draws themselves: another generator, so not the per-item path's numbers.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from trainer.config.transforms import (
    HorizontalFlipStep,
    RandomCropStep,
    RotationStep,
    TransformStep,
)
from trainer.data.transforms import RANDOM_KINDS, step_transform


def stream_seed(*parts: int | str) -> int:
    """A 63-bit seed mixed from `parts`: neighbouring batches get unrelated streams."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def random_crop(
    images: torch.Tensor, step: RandomCropStep, generator: torch.Generator
) -> torch.Tensor:
    """Each image cropped at its own offsets after zero padding (`v2.RandomCrop`'s semantics,
    `pad_if_needed` included)."""
    count, size = images.shape[0], step.size
    pad_y = pad_x = step.padding
    height, width = images.shape[-2] + 2 * pad_y, images.shape[-1] + 2 * pad_x
    # pad_if_needed: a side shorter than the crop grows by the difference on both ends.
    extra_y, extra_x = max(size - height, 0), max(size - width, 0)
    pad_y, pad_x = pad_y + extra_y, pad_x + extra_x
    if pad_y or pad_x:
        images = F.pad(images, (pad_x, pad_x, pad_y, pad_y))
    height, width = images.shape[-2:]
    top = torch.randint(0, height - size + 1, (count,), generator=generator)
    left = torch.randint(0, width - size + 1, (count,), generator=generator)
    offsets = torch.arange(size)
    device = images.device
    rows = (top[:, None] + offsets).to(device, non_blocking=True)
    cols = (left[:, None] + offsets).to(device, non_blocking=True)
    samples = torch.arange(count, device=device)[:, None, None]
    # Advanced indices around the channel slice put their dimensions first: N x size x size x C.
    cropped = images[samples, :, rows[:, :, None], cols[:, None, :]]
    return cropped.permute(0, 3, 1, 2).contiguous()


def horizontal_flip(
    images: torch.Tensor, step: HorizontalFlipStep, generator: torch.Generator
) -> torch.Tensor:
    """Each image flipped left-right with probability p."""
    flip = torch.rand(images.shape[0], generator=generator) < step.p
    flip = flip.to(images.device, non_blocking=True)[:, None, None, None]
    return torch.where(flip, images.flip(-1), images)


def rotation(images: torch.Tensor, step: RotationStep, generator: torch.Generator) -> torch.Tensor:
    """Each image rotated counter-clockwise about its centre by its own angle in
    [-degrees, degrees]; nearest pixel, corners filled with zeros (`v2.RandomRotation`)."""
    count, height, width = images.shape[0], images.shape[-2], images.shape[-1]
    angles = (torch.rand(count, generator=generator, dtype=torch.float64) * 2 - 1) * step.degrees
    radians = angles * (math.pi / 180)
    cos, sin = radians.cos(), radians.sin()
    # Where each output pixel samples the input, in grid_sample's [-1, 1] coordinates; the
    # aspect factors keep the rotation a rotation in pixels on a non-square image.
    theta = torch.zeros(count, 2, 3, dtype=torch.float64)
    theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * height / width
    theta[:, 1, 0], theta[:, 1, 1] = sin * width / height, cos
    theta = theta.to(images.device, images.dtype, non_blocking=True)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="nearest", padding_mode="zeros", align_corners=False)


RANDOM_STEPS = {
    "random_crop": random_crop,
    "horizontal_flip": horizontal_flip,
    "rotation": rotation,
}


class BatchStage:
    """The batched stage of a pipeline: `stage(batch, position)` on a batch already on its device.

    `position` names the batch in the run (epoch, rank, batch number); the same position always
    draws the same parameters.
    """

    def __init__(self, steps: Sequence[TransformStep], seed: int, stream: str) -> None:
        self.steps = tuple(steps)
        self.seed = seed
        self.stream = stream  # "train" or "val": the two splits draw apart
        self.random = any(step.kind in RANDOM_KINDS for step in self.steps)
        self.fixed = {
            index: step_transform(step)
            for index, step in enumerate(self.steps)
            if step.kind not in RANDOM_KINDS
        }

    def __call__(self, batch: torch.Tensor, position: tuple[int, ...]) -> torch.Tensor:
        images = batch
        if not images.is_floating_point():
            # The same scaling as the per-item to-tensor step: uint8 / 255 as float32.
            images = v2.functional.to_dtype(images, torch.float32, scale=True)
        generator = None
        if self.random:
            generator = torch.Generator().manual_seed(
                stream_seed(self.seed, self.stream, *position)
            )
        for index, step in enumerate(self.steps):
            if index in self.fixed:
                images = self.fixed[index](images)
            else:
                assert generator is not None
                images = RANDOM_STEPS[step.kind](images, step, generator)  # type: ignore[operator]
        return images
