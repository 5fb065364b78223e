"""torchvision's built-in data sets, read from disk only (download=False).

When files are missing, the error lists every file expected and where, since no network is
assumed. CIFAR and SVHN are read through subclasses that check that each file exists but skip
torchvision's MD5 comparison, so a subset or a re-packed copy in the same format loads too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch.utils.data import Dataset
from torchvision import datasets


class LooseCIFAR10(datasets.CIFAR10):
    train_list = [[name, None] for name, _ in datasets.CIFAR10.train_list]
    test_list = [[name, None] for name, _ in datasets.CIFAR10.test_list]
    meta = {**datasets.CIFAR10.meta, "md5": None}


class LooseCIFAR100(datasets.CIFAR100):
    train_list = [[name, None] for name, _ in datasets.CIFAR100.train_list]
    test_list = [[name, None] for name, _ in datasets.CIFAR100.test_list]
    meta = {**datasets.CIFAR100.meta, "md5": None}


class LooseSVHN(datasets.SVHN):
    split_list = {
        split: [url, name, None] for split, (url, name, _) in datasets.SVHN.split_list.items()
    }


_MNIST_FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


@dataclass(frozen=True)
class TorchvisionSplits:
    train: Dataset
    val: Dataset
    class_names: list[str]


def expected_files(name: str, root: Path) -> list[Path]:
    """Every file torchvision reads for data set `name` under `root`."""
    if name in ("mnist", "fashion_mnist", "kmnist"):
        folder = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "kmnist": "KMNIST"}[name]
        return [root / folder / "raw" / file for file in _MNIST_FILES]
    if name == "cifar10":
        base = root / LooseCIFAR10.base_folder
        files = [n for n, _ in LooseCIFAR10.train_list + LooseCIFAR10.test_list]
        return [base / file for file in [*files, LooseCIFAR10.meta["filename"]]]
    if name == "cifar100":
        base = root / LooseCIFAR100.base_folder
        files = [n for n, _ in LooseCIFAR100.train_list + LooseCIFAR100.test_list]
        return [base / file for file in [*files, LooseCIFAR100.meta["filename"]]]
    if name == "svhn":
        return [root / "train_32x32.mat", root / "test_32x32.mat"]
    raise ValueError(f"unknown torchvision data set '{name}'")


def load_torchvision(name: str, root: Path) -> TorchvisionSplits:
    """The train split and the test split (as validation) of `name`, samples as PIL images."""
    missing = [path for path in expected_files(name, root) if not path.is_file()]
    if missing:
        listed = "\n".join(f"  {path}" for path in missing)
        raise FileNotFoundError(
            f"torchvision data set '{name}' is not on disk under '{root}' (downloads are off); "
            f"missing {len(missing)} file(s):\n{listed}"
        )
    if name == "svhn":
        train: Dataset = LooseSVHN(str(root), split="train", download=False)
        val: Dataset = LooseSVHN(str(root), split="test", download=False)
        return TorchvisionSplits(train, val, [str(digit) for digit in range(10)])
    cls = {
        "mnist": datasets.MNIST,
        "fashion_mnist": datasets.FashionMNIST,
        "kmnist": datasets.KMNIST,
        "cifar10": LooseCIFAR10,
        "cifar100": LooseCIFAR100,
    }[name]
    train = cls(str(root), train=True, download=False)
    val = cls(str(root), train=False, download=False)
    return TorchvisionSplits(train, val, list(train.classes))  # type: ignore[attr-defined]
