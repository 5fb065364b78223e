"""One rank's view of a run: alone (`Ranks`), or one of a DistributedDataParallel group.

`fit` asks its `Ranks` everything that differs between one process and several: which device it
trains on, how its model is wrapped, how the stop decision and the epoch's sums are shared. A
single process answers with no collectives at all, so `processes: 1` trains exactly as before.

In a group (`DistributedRanks`), rank 0 is the one that reports: it alone reads the stop flag
(the database, a signal) and broadcasts it before every batch, so every rank leaves the loop at
the same batch boundary; the epoch's training and validation sums are all-reduced, so the epoch
row describes the whole training and validation set. Gradients are averaged by DDP itself.
Every collective has the group's timeout: a rank whose peer hangs fails instead of waiting
forever (a peer that dies closes its sockets, which gloo and NCCL notice at once).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

from trainer.checkpoints.training_state import EpochProgress
from trainer.devices.selection import resolve_device

# Rendezvous and every collective give up after this long; long enough for a slow rank to import
# torch and decode its data under load, short enough that a hung peer fails the run.
GROUP_TIMEOUT = timedelta(seconds=300)
LOOPBACK = "127.0.0.1"
# Model kinds whose forward may leave parameters out (a head chosen among several; a user's
# plugin): DDP must then look for them every step, which costs a walk of the autograd graph.
MAY_LEAVE_PARAMETERS_UNUSED = {"custom_layers", "plugin"}


class Ranks:
    """A single process: the whole data set, no wrapping, nothing to share."""

    rank = 0
    world_size = 1
    device: torch.device | None = None  # None: the config's device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: nn.Module, model_kind: str) -> nn.Module:
        """What training forward passes call."""
        return model

    def shared_stop(self, should_stop: Callable[[], bool]) -> Callable[[], bool]:
        """The loop's stop test, decided by rank 0 for every rank."""
        return should_stop

    def sum(self, values: list[float]) -> list[float]:
        """`values` summed over the ranks."""
        return values

    def batches_per_epoch(self, samples: int, batch_size: int, drop_last: bool) -> int:
        """Batches of one rank's shard of `samples` (padded to a multiple of the rank count)."""
        rounding = math.floor if drop_last else math.ceil
        return rounding(math.ceil(samples / self.world_size) / batch_size)

    def adopt(self, progress: EpochProgress, batch_size: int) -> EpochProgress:
        """A restored checkpoint's progress, in this group's terms.

        A checkpoint counts its unfinished epoch's batches in its own rank count's batches; under
        another count, the skipped prefix of the epoch's order is rounded down to whole batches of
        this group (so fewer than batch_size * world samples may be trained twice, never none).
        Its sums are the whole group's: only rank 0 carries them on, or the next reduce would
        count them once per rank.
        """
        samples = progress.batches_done * batch_size * progress.processes
        batches_done = samples // (batch_size * self.world_size)
        adopted = dataclasses.replace(
            progress, batches_done=batches_done, processes=self.world_size
        )
        if not self.is_main:
            adopted = dataclasses.replace(adopted, loss_sum=0.0, correct=0, seen=0)
        return adopted


class DistributedRanks(Ranks):
    """One rank of a joined process group (trainer/distributed/launcher.py starts, joins them)."""

    device: torch.device  # always known: the launcher gives each rank its own

    def __init__(self, rank: int, world_size: int, device: torch.device) -> None:
        self.rank = rank
        self.world_size = world_size
        self.device = device

    def wrap(self, model: nn.Module, model_kind: str) -> nn.Module:
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(
            model,
            device_ids=device_ids,
            find_unused_parameters=model_kind in MAY_LEAVE_PARAMETERS_UNUSED,
        )

    def shared_stop(self, should_stop: Callable[[], bool]) -> Callable[[], bool]:
        def stop_from_rank_0() -> bool:
            flag = torch.tensor([int(self.is_main and should_stop())], device=self.device)
            dist.broadcast(flag, src=0)
            return bool(flag.item())

        return stop_from_rank_0

    def sum(self, values: list[float]) -> list[float]:
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return tensor.tolist()


def rank_device(requested: str, rank: int, world_size: int) -> torch.device:
    """Rank r trains on `cuda:r` of the GPUs it sees (exactly the run's), else on the CPU."""
    base = resolve_device(requested)
    if base.type != "cuda":
        return torch.device("cpu")
    visible = torch.cuda.device_count()
    if visible < world_size:
        raise ValueError(f"processes {world_size} needs {world_size} GPUs; {visible} visible")
    device = torch.device("cuda", rank)
    torch.cuda.set_device(device)
    return device


def join_group(
    store: dist.Store, rank: int, world_size: int, device: torch.device
) -> DistributedRanks:
    """Join the run's process group: NCCL between GPUs, gloo between CPU processes."""
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(
        backend, store=store, rank=rank, world_size=world_size, timeout=GROUP_TIMEOUT
    )
    return DistributedRanks(rank, world_size, device)


def leave_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
