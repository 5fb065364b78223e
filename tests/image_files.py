"""Tiny image files in real on-disk formats, written for the data tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def class_image(label: int, size: int, seed: int, channels: int = 3) -> np.ndarray:
    """A noisy image whose brightness pattern depends on its class, so a model can learn it."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 60, (size, size, channels))
    image[: size // 2 if label % 2 else size, :: label + 1] += 180
    return image.clip(0, 255).astype(np.uint8)


def write_image_folder(root: Path, classes: tuple[str, ...], per_class: int, size: int) -> Path:
    """An ImageFolder tree: root/<class>/<n>.png."""
    for label, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for n in range(per_class):
            Image.fromarray(class_image(label, size, seed=label * 1000 + n)).save(
                root / name / f"{n}.png"
            )
    return root
