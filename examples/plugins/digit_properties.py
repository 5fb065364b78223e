"""A multi-label Dataset: scikit-learn's 8x8 digits (shipped inside its package), each labelled
with four yes/no properties of the digit it shows."""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch.utils.data import Dataset

PROPERTIES = {
    "even": {0, 2, 4, 6, 8},
    "above_four": {5, 6, 7, 8, 9},
    "prime": {2, 3, 5, 7},
    "has_loop": {0, 6, 8, 9},
}


class DigitProperties(Dataset):
    """64 pixel intensities in [0, 1] -> four 0/1 targets (even, above_four, prime, has_loop)."""

    classes = list(PROPERTIES)  # the labels' names

    def __init__(self, split: str, val_fraction: float = 0.2, seed: int = 0) -> None:
        images, digits = load_digits(return_X_y=True)
        x = torch.tensor(images, dtype=torch.float32) / 16.0
        y = torch.tensor(
            [[float(int(d) in members) for members in PROPERTIES.values()] for d in digits]
        )
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
        n_val = max(1, round(len(y) * val_fraction))
        keep = order[n_val:] if split == "train" else order[:n_val]
        self.x, self.y = x[keep], y[keep]

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[index], self.y[index]
