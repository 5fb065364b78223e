"""A synthetic CIFAR-10 in torchvision's own on-disk format, for benchmarks with no download.

torchvision's CIFAR10 checks each file's MD5, which these files cannot pass: read them through
`trainer.data.torchvision_sets.LooseCIFAR10`, as torchdash's `torchvision` data kind does.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from trainer.data.torchvision_sets import LooseCIFAR10

CLASS_NAMES = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip


def write_cifar10(root: Path, train: int, val: int) -> Path:
    """cifar-10-batches-py as torchvision reads it: five training pickles, a test pickle and
    batches.meta. Each class has its own stripes over seeded noise, so the model can learn it."""
    rng = np.random.default_rng(0)
    stripes = np.zeros((len(CLASS_NAMES), 3, 32, 32), dtype=np.uint8)
    for label in range(len(CLASS_NAMES)):
        stripes[label, label % 3, :: label // 3 + 2, :] = 120

    def images_and_labels(count: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.permutation(np.arange(count) % len(CLASS_NAMES))
        images = rng.integers(0, 120, (count, 3, 32, 32), dtype=np.uint8) + stripes[labels]
        return images.reshape(count, -1), labels

    base = root / LooseCIFAR10.base_folder
    base.mkdir(parents=True)
    train_images, train_labels = images_and_labels(train)
    parts = zip(
        [name for name, _ in LooseCIFAR10.train_list],
        np.array_split(train_images, len(LooseCIFAR10.train_list)),
        np.array_split(train_labels, len(LooseCIFAR10.train_list)),
        strict=True,
    )
    test_images, test_labels = images_and_labels(val)
    [(test_name, _)] = LooseCIFAR10.test_list
    for name, images, labels in [*parts, (test_name, test_images, test_labels)]:
        with open(base / name, "wb") as handle:
            pickle.dump({"data": images, "labels": labels.tolist()}, handle)
    with open(base / LooseCIFAR10.meta["filename"], "wb") as handle:
        pickle.dump({LooseCIFAR10.meta["key"]: CLASS_NAMES}, handle)
    return root
