"""A shuffling sampler whose order is a function of (seed, epoch), so a run can resume mid-epoch.

The classic `DataLoader(shuffle=True)` draws its order from a generator whose state is hard to
capture between batches. Here epoch e's order is `randperm(n)` seeded with (seed, e): a resumed
run rebuilds the same order and skips the batches it already trained on, index by index, without
loading them.

The train/validation split of a data set read from one source is seeded the same way
(`split_indices`), so every run, rank and resume of a config holds out the same items.

A DDP run gives each rank a shard of that order with `DistributedSampler`'s semantics: the
order is padded (with its own first indices) to a multiple of the rank count, and rank r takes
positions r, r + world, r + 2 world, ... So every rank has as many batches (their collectives stay
in step), and after b batches of size B the ranks together have consumed exactly the first
b * B * world positions: a mid-epoch resume skips that prefix, whatever the new rank count.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class EpochShuffleSampler(Sampler[int]):
    """Yields a seeded permutation of range(n) per epoch, optionally starting part-way through."""

    def __init__(
        self,
        n: int,
        seed: int,
        shuffle: bool = True,
        rank: int = 0,
        world: int = 1,
        pad: bool = True,
    ) -> None:
        self.n = n
        self.seed = seed
        self.shuffle = shuffle
        self.rank = rank
        self.world = world
        self.pad = pad  # False for validation: every item once, shards of unequal length
        self.epoch = 1
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Choose the epoch's order and how many of its first positions (all ranks') to skip."""
        self.epoch = epoch
        self.skip = skip

    def order(self) -> torch.Tensor:
        """This rank's indices of the epoch, after the skipped ones, as one int64 tensor."""
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.n, generator=generator)
        else:
            order = torch.arange(self.n)
        return shard(order[self.skip :], self.rank, self.world, self.pad)

    def __iter__(self) -> Iterator[int]:
        return iter(self.order().tolist())

    def __len__(self) -> int:
        remaining = max(self.n - self.skip, 0)
        if self.world == 1:
            return remaining
        if self.pad:
            return math.ceil(remaining / self.world)
        return len(range(self.rank, remaining, self.world))


def shard(order: torch.Tensor, rank: int, world: int, pad: bool = True) -> torch.Tensor:
    """Rank `rank`'s positions of `order` among `world` ranks (DistributedSampler's split)."""
    if world == 1 or len(order) == 0:
        return order
    if pad:
        missing = math.ceil(len(order) / world) * world - len(order)
        if missing:
            repeats = math.ceil(missing / len(order))
            order = torch.cat([order, order.repeat(repeats)[:missing]])
    return order[rank::world]


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """A fixed, seeded train/validation split of range(n); both parts are non-empty."""
    if n < 2:
        raise ValueError(f"a data set of {n} item(s) cannot be split into train and validation")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = min(max(1, round(n * val_fraction)), n - 1)
    return order[n_val:], order[:n_val]
