"""Plugin folders for the tests: the example plugins (examples/plugins) copied in, plus a
Dataset plugin a test writes."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.paths import ROOT

EXAMPLE_PLUGINS = ROOT / "examples" / "plugins"

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


def copy_example_plugins(dest: Path) -> Path:
    """Copy every example plugin file into `dest` (created if needed); returns `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    for file in sorted(EXAMPLE_PLUGINS.glob("*.py")):
        shutil.copy2(file, dest / file.name)
    return dest
