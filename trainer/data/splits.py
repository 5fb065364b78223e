"""The fixed train/validation split of a data set that comes as one collection: seeded, so the
same config always holds out the same items."""

from __future__ import annotations

import torch


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """A fixed, seeded train/validation split of range(n); both parts are non-empty."""
    if n < 2:
        raise ValueError(f"a data set of {n} item(s) cannot be split into train and validation")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = min(max(1, round(n * val_fraction)), n - 1)
    return order[n_val:], order[:n_val]
