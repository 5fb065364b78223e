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


def write_mnist(root: Path, folder: str = "MNIST", train: int = 40, test: int = 20) -> Path:
    """The four idx files torchvision's MNIST-style data sets read, in root/<folder>/raw/."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    for prefix, count in (("train", train), ("t10k", test)):
        labels = np.arange(count, dtype=np.uint8) % 10
        images = np.stack(
            [class_image(int(y), 28, seed=i, channels=1)[..., 0] for i, y in enumerate(labels)]
        )
        # idx format: magic (0x0803 images / 0x0801 labels), big-endian sizes, then the bytes.
        header = np.array([0x0803, count, 28, 28], dtype=">i4").tobytes()
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(header + images.tobytes())
        header = np.array([0x0801, count], dtype=">i4").tobytes()
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(header + labels.tobytes())
    return root


def write_cifar10(root: Path, per_batch: int = 8) -> Path:
    """cifar-10-batches-py: five training pickles, a test pickle and batches.meta."""
    import pickle

    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    names = [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ]
    for n, file in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        labels = [(n + i) % 10 for i in range(per_batch)]
        data = np.stack(
            [
                class_image(y, 32, seed=n * 100 + i).transpose(2, 0, 1).reshape(-1)
                for i, y in enumerate(labels)
            ]
        )
        with open(base / file, "wb") as handle:
            pickle.dump({"data": data, "labels": labels}, handle)
    with open(base / "batches.meta", "wb") as handle:
        pickle.dump({"label_names": names}, handle)
    return root


def write_svhn(root: Path, count: int = 20) -> Path:
    """train_32x32.mat and test_32x32.mat as SVHN ships them: X is 32x32x3xN, y uses 10 for 0."""
    from scipy.io import savemat

    root.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        labels = np.arange(count) % 10
        images = np.stack([class_image(int(y), 32, seed=i) for i, y in enumerate(labels)], axis=-1)
        svhn_labels = np.where(labels == 0, 10, labels).reshape(-1, 1).astype(np.uint8)
        savemat(root / f"{split}_32x32.mat", {"X": images, "y": svhn_labels})
    return root
