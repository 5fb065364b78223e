"""Evaluation of one checkpoint on the validation split: confusion matrix and misclassified images.

Run by the worker once a run ends, on its best epoch; what it returns is plain data (lists of
ints), so the worker can save it as JSON and the web server, which never imports torch, can
render thumbnails from it with Pillow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional
from torch.utils.data import DataLoader

from trainer.checkpoints.store import load_checkpoint
from trainer.config import RunConfig
from trainer.data.datasets import build_datasets
from trainer.models.builtin import build_model

MAX_EXAMPLES = 48
MAX_THUMBNAIL_SIDE = 64


@dataclass
class Evaluation:
    """Confusion matrix (rows: true class, columns: predicted) and some misclassified images."""

    epoch: int
    class_names: list[str]
    confusion: list[list[int]]
    # {"index": position in the validation split, "true": class, "predicted": class,
    #  "image": H x W (grayscale) or H x W x 3 nested lists of 0-255 ints, or None}
    misclassified: list[dict[str, Any]] = field(default_factory=list)


@torch.no_grad()
def evaluate_checkpoint(
    config: RunConfig, checkpoint: Path, epoch: int, max_examples: int = MAX_EXAMPLES
) -> Evaluation:
    """Predict the validation split with the checkpoint's weights, on the CPU."""
    data = build_datasets(config.data)
    model = build_model(config.model, data.input_shape, data.num_classes)
    model.load_state_dict(load_checkpoint(checkpoint)["model"])
    model.eval()
    classes = data.num_classes
    confusion = torch.zeros(classes, classes, dtype=torch.long)
    misclassified: list[dict[str, Any]] = []
    seen = 0
    for inputs, targets in DataLoader(data.val, batch_size=256, shuffle=False):
        predicted = model(inputs).argmax(dim=1)
        confusion += torch.bincount(
            targets * classes + predicted, minlength=classes * classes
        ).reshape(classes, classes)
        for offset in (predicted != targets).nonzero().flatten().tolist():
            if len(misclassified) >= max_examples:
                break
            misclassified.append(
                {
                    "index": seen + offset,
                    "true": int(targets[offset]),
                    "predicted": int(predicted[offset]),
                    "image": _thumbnail_pixels(inputs[offset]),
                }
            )
        seen += len(targets)
    return Evaluation(epoch, data.class_names, confusion.tolist(), misclassified)


def _thumbnail_pixels(image: torch.Tensor) -> list | None:
    """A C x H x W image in [0, 1] as 0-255 ints, at most MAX_THUMBNAIL_SIDE pixels a side."""
    if image.dim() != 3 or image.shape[0] not in (1, 3):
        return None  # not an image (e.g. tabular features): no thumbnail
    side = max(image.shape[1:])
    if side > MAX_THUMBNAIL_SIDE:
        scale = MAX_THUMBNAIL_SIDE / side
        size = [max(1, round(image.shape[1] * scale)), max(1, round(image.shape[2] * scale))]
        image = functional.interpolate(image[None], size=size, mode="area")[0]
    pixels = (image.clamp(0, 1) * 255).round().to(torch.uint8)
    if pixels.shape[0] == 1:
        return pixels[0].tolist()
    return pixels.permute(1, 2, 0).tolist()
