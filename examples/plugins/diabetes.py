"""A regression Dataset: scikit-learn's diabetes data (442 patients, 10 features), shipped inside
its package. The target, disease progression after one year, is standardized."""

from __future__ import annotations

import torch
from sklearn.datasets import load_diabetes
from torch.utils.data import Dataset


class Diabetes(Dataset):
    """Ten standardized features -> one standardized target; a fixed, seeded split."""

    classes = ["progression"]  # the target's name

    def __init__(self, split: str, val_fraction: float = 0.2, seed: int = 0) -> None:
        features, target = load_diabetes(return_X_y=True)
        x = torch.tensor(features, dtype=torch.float32)
        y = torch.tensor(target, dtype=torch.float32)
        x = (x - x.mean(0)) / x.std(0)
        y = (y - y.mean()) / y.std()
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
        n_val = max(1, round(len(y) * val_fraction))
        keep = order[n_val:] if split == "train" else order[:n_val]
        self.x, self.y = x[keep], y[keep]

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[index], self.y[index]
