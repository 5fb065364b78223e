"""Plugin folders for the tests: the example plugins copied in, plus files a test writes."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.paths import ROOT

EXAMPLES = ROOT / "examples" / "plugins"

# A classification Dataset: the 8x8 digits, ten classes. Unless `named`, it names no classes and
# torchdash finds them in the targets; `limit` keeps an epoch short; `fail_at` makes __getitem__
# raise for that index.
DIGITS_PLUGIN = '''
import torch
from sklearn.datasets import load_digits
from torch.utils.data import Dataset


class PluginDigits(Dataset):
    """The 8x8 digits as flat vectors; class indices as plain ints."""

    def __init__(self, split: str, limit: int = 0, fail_at: int = -1, named: bool = False) -> None:
        images, digits = load_digits(return_X_y=True)
        cut = len(digits) * 4 // 5
        rows = slice(0, cut) if split == "train" else slice(cut, None)
        self.x = torch.tensor(images[rows], dtype=torch.float32) / 16.0
        self.y = [int(d) for d in digits[rows]]
        if limit:
            self.x, self.y = self.x[:limit], self.y[:limit]
        self.fail_at = fail_at
        if named:
            self.classes = [f"digit {d}" for d in range(10)]

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int):
        if index == self.fail_at:
            raise KeyError(f"sample {index} is missing from the plugin's store")
        return self.x[index], self.y[index]
'''


def example_plugins(folder: Path) -> Path:
    """`folder` with every example plugin file (examples/plugins/*.py) copied into it."""
    folder.mkdir(parents=True, exist_ok=True)
    for file in EXAMPLES.glob("*.py"):
        shutil.copy(file, folder / file.name)
    return folder
