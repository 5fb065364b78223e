"""A shuffling sampler whose order is a function of (seed, epoch), so a run can resume mid-epoch.

The classic `DataLoader(shuffle=True)` draws its order from a generator whose state is hard to
capture between batches. Here epoch e's order is `randperm(n)` seeded with (seed, e): a resumed
run rebuilds the same order and skips the batches it already trained on, index by index, without
loading them.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class EpochShuffleSampler(Sampler[int]):
    """Yields a seeded permutation of range(n) per epoch, optionally starting part-way through."""

    def __init__(self, n: int, seed: int, shuffle: bool = True) -> None:
        self.n = n
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 1
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Choose the epoch's order and how many of its first indices to leave out."""
        self.epoch = epoch
        self.skip = skip

    def order(self) -> torch.Tensor:
        """This epoch's indices, after the skipped ones, as one int64 tensor."""
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.n, generator=generator)
        else:
            order = torch.arange(self.n)
        return order[self.skip :]

    def __iter__(self) -> Iterator[int]:
        return iter(self.order().tolist())

    def __len__(self) -> int:
        return self.n - self.skip
