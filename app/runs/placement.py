"""The allocator: which GPUs, or which CPU slot, each queued run gets.

The rules, as docs/gpus.md states them:

- A run trains on CUDA when its device is `cuda` or `cuda:N`, or `auto` while the server's GPU
  set (TORCHDASH_GPUS, else NVML's) is not empty. It needs `processes` GPUs (1 unless the run is
  a DDP run), each GPU holds at most one run, and it takes the lowest free indexes. `cuda:N`
  pins GPU N: the run waits until that GPU is free.
- Every other run (device `cpu`, `mps`, or `auto` with no GPU) takes one of the
  TORCHDASH_MAX_CONCURRENT_RUNS slots. GPU runs do not take a slot: GPUs limit them.
- Queued runs are looked at in queue order (app/runs/queue.py), and a run that cannot start
  does not hold up a later one that can (a `cuda:1` run waiting for GPU 1 lets a later run take
  GPU 0).
- Strict reservation: a run waiting for N GPUs (any N of the set; not a pinned run) reserves
  the GPUs free and unreserved when it is looked at, and no later run takes a reserved GPU (its
  reason says "reserved GPUs 0,1 for run 12"). A run's free plus reserved GPUs only grow, so the
  first such run starts once the runs that held its GPUs when it began waiting have ended,
  however many smaller runs are queued after it. A later run may not borrow a reserved GPU even
  for a short run: how long a run trains is not known here, so whether it would delay the
  reserved run cannot be decided safely.

What is held is rebuilt from the database at every look (`assigned_gpus` of the runs that still
have a worker), never remembered here, so after a server restart the adopted workers keep their
GPUs and nothing else is placed on them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_PINNED = re.compile(r"cuda:(\d+)")


def processes_of(config: dict[str, Any]) -> int:
    """The run's DDP process count (the `processes` config field; 1 where it is absent)."""
    return int(config.get("processes", 1) or 1)


def trains_on_cuda(device: str, have_gpus: bool) -> bool:
    return device == "cuda" or device.startswith("cuda:") or (device == "auto" and have_gpus)


def gpus_needed(config: dict[str, Any], have_gpus: bool) -> int:
    """How many GPUs the run takes: `processes` when it trains on CUDA, else 0."""
    if trains_on_cuda(config.get("device", "auto"), have_gpus):
        return processes_of(config)
    return 0


def pinned_gpu(device: str) -> int | None:
    """N for `cuda:N`; None when any GPU will do."""
    match = _PINNED.fullmatch(device)
    return int(match[1]) if match else None


@dataclass(frozen=True)
class Held:
    """A run that holds a place now: its GPUs, or (with none) a CPU slot. On a cluster, where
    the nodes' free resources already count the runs that hold them, only the queue's estimate
    names a `node`: the one the run is counted on and how many of its GPUs (0: one of its CPUs)."""

    run_id: int
    gpus: tuple[int, ...]
    node: str | None = None
    node_gpus: int = 0


@dataclass(frozen=True)
class Decision:
    """What becomes of one queued run at this look: start on `gpus` (empty: a CPU slot), wait
    (`waiting_reason`), or fail because this server can never place it (`impossible`)."""

    run_id: int
    gpus: tuple[int, ...] = ()
    waiting_reason: str | None = None
    impossible: str | None = None
    # GPUs the run takes: len(gpus) here; on a cluster, which ones is the cluster's choice.
    gpu_count: int = 0
    # On a cluster, the node counted as taking it (Ray picks the node itself among those with
    # room): what the queue's estimate replays.
    node: str | None = None

    @property
    def starts(self) -> bool:
        return self.waiting_reason is None and self.impossible is None


class Allocator:
    """Places queued runs on the GPU set and the CPU slots; holds no state between looks."""

    def __init__(self, gpu_indexes: Iterable[int], cpu_slots: int) -> None:
        self.gpu_indexes = sorted(gpu_indexes)
        self.cpu_slots = cpu_slots

    def holders(self, held: Iterable[Held]) -> dict[int, int]:
        """GPU index -> the run holding it."""
        return {gpu: h.run_id for h in held for gpu in h.gpus}

    def room(self, held: Iterable[Held]) -> int:
        """How many runs could start now at most (free CPU slots plus free GPUs)."""
        held = list(held)
        cpu_used = sum(1 for h in held if not h.gpus)
        busy = self.holders(held)
        free_gpus = sum(1 for gpu in self.gpu_indexes if gpu not in busy)
        return max(0, self.cpu_slots - cpu_used) + free_gpus

    def plan(
        self, queued: Iterable[tuple[int, dict[str, Any]]], held: Iterable[Held]
    ) -> list[Decision]:
        """A decision for each queued `(run_id, config)`, in queue order, as if the ones that
        start before it had started."""
        held = list(held)
        busy = set(self.holders(held))
        reserved: dict[int, int] = {}  # GPU index -> the waiting run it is kept for
        cpu_free = self.cpu_slots - sum(1 for h in held if not h.gpus)
        decisions = []
        for run_id, config in queued:
            decision = self._decide(run_id, config, busy, reserved, cpu_free)
            if decision.starts:
                busy |= set(decision.gpus)
                cpu_free -= 0 if decision.gpus else 1
            decisions.append(decision)
        return decisions

    def _decide(
        self,
        run_id: int,
        config: dict[str, Any],
        busy: set[int],
        reserved: dict[int, int],
        cpu_free: int,
    ) -> Decision:
        device = config.get("device", "auto")
        needed = gpus_needed(config, bool(self.gpu_indexes))
        if needed == 0:
            if cpu_free > 0:
                return Decision(run_id)
            return Decision(run_id, waiting_reason="waiting for a free slot")
        pinned = pinned_gpu(device)
        if pinned is not None:
            if pinned not in self.gpu_indexes:
                return Decision(run_id, impossible=self._not_in_set(f"GPU {pinned}"))
            if pinned in busy:
                return Decision(run_id, waiting_reason=f"waiting for GPU {pinned}")
            if pinned in reserved:
                return Decision(run_id, waiting_reason=held_back({pinned}, reserved))
            return Decision(run_id, gpus=(pinned,), gpu_count=1)
        if needed > len(self.gpu_indexes):
            return Decision(run_id, impossible=self._not_in_set(f"{needed} GPUs"))
        free = [gpu for gpu in self.gpu_indexes if gpu not in busy and gpu not in reserved]
        if len(free) >= needed:
            return Decision(run_id, gpus=tuple(free[:needed]), gpu_count=needed)
        unheld = [gpu for gpu in self.gpu_indexes if gpu not in busy]
        blocked_by = set(unheld) - set(free)
        # Queue order: what is free now is kept for this run, so no later run delays it.
        for gpu in free:
            reserved[gpu] = run_id
        if len(unheld) >= needed:
            # It would start but for the reservations of runs ahead of it.
            return Decision(run_id, waiting_reason=held_back(blocked_by, reserved))
        plural = "a free GPU" if needed == 1 else f"{needed} free GPUs"
        if not free:
            return Decision(run_id, waiting_reason=f"waiting for {plural}")
        return Decision(run_id, waiting_reason=f"waiting for {plural} ({gpu_list(free)} reserved)")

    def _not_in_set(self, wanted: str) -> str:
        have = ", ".join(map(str, self.gpu_indexes)) or "none"
        return f"the run needs {wanted}, and this server's GPUs are: {have} (TORCHDASH_GPUS)"


def gpu_list(gpus: Iterable[int]) -> str:
    """`GPU 1` or `GPUs 0,1`, as the waiting reasons name them."""
    ordered = sorted(gpus)
    return f"GPU{'s' if len(ordered) > 1 else ''} {','.join(map(str, ordered))}"


def held_back(wanted: set[int], reserved: dict[int, int]) -> str:
    """Why a run that could use `wanted` reserved GPUs waits: `reserved GPUs 0,1 for run 12`,
    naming every run those GPUs are kept for, oldest in the queue first."""
    for_run: dict[int, list[int]] = {}
    for gpu, run_id in reserved.items():  # in the order the runs reserved them: queue order
        if gpu in wanted:
            for_run.setdefault(run_id, []).append(gpu)
    return reserved_for({run_id: gpu_list(gpus) for run_id, gpus in for_run.items()})


def reserved_for(kept: dict[int, str]) -> str:
    """`reserved GPUs 0,1 for run 12, GPU 3 for run 14`: what is kept for each run, in queue
    order (the words of one machine's and of a cluster's reservations alike)."""
    return "reserved " + ", ".join(f"{what} for run {run_id}" for run_id, what in kept.items())
